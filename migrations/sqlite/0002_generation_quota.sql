-- The daily message quota counts generations started, one row each, in a table that deleting
-- chats or messages never touches (counting stored messages gave quota back on every delete).
CREATE TABLE "GenerationStart" (
    "id"        TEXT PRIMARY KEY NOT NULL,
    "userId"    TEXT NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX "GenerationStart_userId_createdAt_idx" ON "GenerationStart" ("userId", "createdAt");
