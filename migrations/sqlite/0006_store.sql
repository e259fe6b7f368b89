-- The database's own identity, made once with the schema: `alleato migrate` refuses to copy a
-- database onto itself, whatever names the two settings give it.
CREATE TABLE "Store" (
    "id" TEXT PRIMARY KEY NOT NULL
);
INSERT INTO "Store" ("id") VALUES (lower(hex(randomblob(16))));
