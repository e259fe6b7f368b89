-- Alleato schema, SQLite dialect. Also valid on Cloudflare D1: no BEGIN/SAVEPOINT, no PRAGMAs.
-- Table and column names follow the original app (User, Chat, Message_v2, Vote_v2, Document,
-- Suggestion, Stream) so its tooling keeps working; its defects are fixed:
--   * User.email is unique (the original allowed duplicates).
--   * Document's kind column is named "kind" (the original named it "text").
--   * User has a "type" column (guest/regular) instead of guessing it from the email.
--   * Chat has "updatedAt"; File holds upload metadata (the original kept none).
--   * Every foreign key cascades, so deleting a user or chat leaves nothing behind.
-- Timestamps are fixed-width UTC text with microseconds (2026-11-27T02:32:32.123456Z), so text
-- order is time order. Ids are UUID text.

CREATE TABLE "User" (
    "id"        TEXT PRIMARY KEY NOT NULL,
    "email"     TEXT NOT NULL,
    "password"  TEXT,
    "type"      TEXT NOT NULL DEFAULT 'regular' CHECK ("type" IN ('guest', 'regular')),
    "createdAt" TEXT NOT NULL
);
CREATE UNIQUE INDEX "User_email_key" ON "User" ("email");

CREATE TABLE "Chat" (
    "id"         TEXT PRIMARY KEY NOT NULL,
    "createdAt"  TEXT NOT NULL,
    "updatedAt"  TEXT NOT NULL,
    "title"      TEXT NOT NULL,
    "userId"     TEXT NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "visibility" TEXT NOT NULL DEFAULT 'private' CHECK ("visibility" IN ('public', 'private'))
);
CREATE INDEX "Chat_userId_createdAt_idx" ON "Chat" ("userId", "createdAt", "id");

-- "userId" repeats the chat owner's id so the daily message count is one index range scan,
-- whatever the number of chats; it is filled from the chat on insert.
CREATE TABLE "Message_v2" (
    "id"          TEXT PRIMARY KEY NOT NULL,
    "chatId"      TEXT NOT NULL REFERENCES "Chat" ("id") ON DELETE CASCADE,
    "userId"      TEXT REFERENCES "User" ("id") ON DELETE CASCADE,
    "role"        TEXT NOT NULL CHECK ("role" IN ('user', 'assistant', 'system')),
    "parts"       TEXT NOT NULL,
    "attachments" TEXT NOT NULL DEFAULT '[]',
    "createdAt"   TEXT NOT NULL
);
CREATE INDEX "Message_v2_chatId_createdAt_idx" ON "Message_v2" ("chatId", "createdAt");
CREATE INDEX "Message_v2_userId_role_createdAt_idx" ON "Message_v2" ("userId", "role", "createdAt");

CREATE TABLE "Vote_v2" (
    "chatId"    TEXT NOT NULL REFERENCES "Chat" ("id") ON DELETE CASCADE,
    "messageId" TEXT NOT NULL REFERENCES "Message_v2" ("id") ON DELETE CASCADE,
    "isUpvoted" INTEGER NOT NULL CHECK ("isUpvoted" IN (0, 1)),
    PRIMARY KEY ("chatId", "messageId")
);
CREATE INDEX "Vote_v2_messageId_idx" ON "Vote_v2" ("messageId");

CREATE TABLE "Document" (
    "id"        TEXT NOT NULL,
    "createdAt" TEXT NOT NULL,
    "title"     TEXT NOT NULL,
    "content"   TEXT,
    "kind"      TEXT NOT NULL DEFAULT 'text' CHECK ("kind" IN ('text', 'code', 'sheet', 'image')),
    "userId"    TEXT NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    PRIMARY KEY ("id", "createdAt")
);
CREATE INDEX "Document_userId_idx" ON "Document" ("userId", "createdAt");

CREATE TABLE "Suggestion" (
    "id"                TEXT PRIMARY KEY NOT NULL,
    "documentId"        TEXT NOT NULL,
    "documentCreatedAt" TEXT NOT NULL,
    "originalText"      TEXT NOT NULL,
    "suggestedText"     TEXT NOT NULL,
    "description"       TEXT,
    "isResolved"        INTEGER NOT NULL DEFAULT 0 CHECK ("isResolved" IN (0, 1)),
    "userId"            TEXT NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "createdAt"         TEXT NOT NULL,
    FOREIGN KEY ("documentId", "documentCreatedAt") REFERENCES "Document" ("id", "createdAt") ON DELETE CASCADE
);
CREATE INDEX "Suggestion_document_idx" ON "Suggestion" ("documentId", "documentCreatedAt");
CREATE INDEX "Suggestion_userId_idx" ON "Suggestion" ("userId");

CREATE TABLE "Stream" (
    "id"        TEXT PRIMARY KEY NOT NULL,
    "chatId"    TEXT NOT NULL REFERENCES "Chat" ("id") ON DELETE CASCADE,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX "Stream_chatId_idx" ON "Stream" ("chatId", "createdAt");

CREATE TABLE "File" (
    "id"          TEXT PRIMARY KEY NOT NULL,
    "userId"      TEXT NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "chatId"      TEXT REFERENCES "Chat" ("id") ON DELETE SET NULL,
    "name"        TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "size"        INTEGER NOT NULL CHECK ("size" >= 0),
    "storageKey"  TEXT NOT NULL,
    "createdAt"   TEXT NOT NULL
);
CREATE UNIQUE INDEX "File_storageKey_key" ON "File" ("storageKey");
CREATE INDEX "File_userId_idx" ON "File" ("userId", "createdAt");
CREATE INDEX "File_chatId_idx" ON "File" ("chatId");
