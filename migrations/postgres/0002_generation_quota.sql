-- The daily message quota counts generations started, one row each, in a table that deleting
-- chats or messages never touches (counting stored messages gave quota back on every delete).
CREATE TABLE "GenerationStart" (
    "id"        uuid PRIMARY KEY,
    "userId"    uuid NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "createdAt" timestamptz NOT NULL
);
CREATE INDEX "GenerationStart_userId_createdAt_idx" ON "GenerationStart" ("userId", "createdAt");
