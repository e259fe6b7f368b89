-- Logouts, for instances whose sessions live in an eventually consistent store (Workers KV):
-- each instance polls the recent ones and refuses those sessions at once, whatever its store
-- still answers. Rows are dropped a few minutes after the logout, once the store has caught up.
CREATE TABLE "SessionRevocation" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "revokedAt" TEXT NOT NULL
);
CREATE INDEX "SessionRevocation_revokedAt_idx" ON "SessionRevocation" ("revokedAt");
