-- The database's own identity, made once with the schema: `alleato migrate` refuses to copy a
-- database onto itself, whatever names the two settings give it.
CREATE TABLE "Store" (
    "id" text PRIMARY KEY
);
INSERT INTO "Store" ("id") VALUES (md5(random()::text || clock_timestamp()::text));
