-- Fixed-window counters (rate limits) in the database, for stacks whose key-value store cannot
-- count atomically (Workers KV: counters go to D1). "expiresAt" is Unix milliseconds.
CREATE TABLE "Counter" (
    "key"       TEXT PRIMARY KEY NOT NULL,
    "count"     INTEGER NOT NULL,
    "expiresAt" INTEGER NOT NULL
);
CREATE INDEX "Counter_expiresAt_idx" ON "Counter" ("expiresAt");
