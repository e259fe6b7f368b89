-- Alleato schema, PostgreSQL dialect: the same tables, columns and rules as
-- migrations/sqlite/0001_init.sql (same number and name), in native types (uuid, timestamptz,
-- jsonb, boolean). Constraint names are explicit: the adapter maps them to error kinds.

CREATE TABLE "User" (
    "id"        uuid PRIMARY KEY,
    "email"     text NOT NULL,
    "password"  text,
    "type"      text NOT NULL DEFAULT 'regular' CONSTRAINT "User_type_check" CHECK ("type" IN ('guest', 'regular')),
    "createdAt" timestamptz NOT NULL
);
CREATE UNIQUE INDEX "User_email_key" ON "User" ("email");

CREATE TABLE "Chat" (
    "id"         uuid PRIMARY KEY,
    "createdAt"  timestamptz NOT NULL,
    "updatedAt"  timestamptz NOT NULL,
    "title"      text NOT NULL,
    "userId"     uuid NOT NULL CONSTRAINT "Chat_userId_fkey" REFERENCES "User" ("id") ON DELETE CASCADE,
    "visibility" text NOT NULL DEFAULT 'private' CHECK ("visibility" IN ('public', 'private'))
);
CREATE INDEX "Chat_userId_createdAt_idx" ON "Chat" ("userId", "createdAt", "id");

-- "userId" repeats the chat owner's id so the daily message count is one index range scan.
CREATE TABLE "Message_v2" (
    "id"          uuid PRIMARY KEY,
    "chatId"      uuid NOT NULL CONSTRAINT "Message_v2_chatId_fkey" REFERENCES "Chat" ("id") ON DELETE CASCADE,
    "userId"      uuid REFERENCES "User" ("id") ON DELETE CASCADE,
    "role"        text NOT NULL CHECK ("role" IN ('user', 'assistant', 'system')),
    "parts"       jsonb NOT NULL,
    "attachments" jsonb NOT NULL DEFAULT '[]',
    "createdAt"   timestamptz NOT NULL
);
CREATE INDEX "Message_v2_chatId_createdAt_idx" ON "Message_v2" ("chatId", "createdAt");
CREATE INDEX "Message_v2_userId_role_createdAt_idx" ON "Message_v2" ("userId", "role", "createdAt");

CREATE TABLE "Vote_v2" (
    "chatId"    uuid NOT NULL REFERENCES "Chat" ("id") ON DELETE CASCADE,
    "messageId" uuid NOT NULL REFERENCES "Message_v2" ("id") ON DELETE CASCADE,
    "isUpvoted" boolean NOT NULL,
    PRIMARY KEY ("chatId", "messageId")
);
CREATE INDEX "Vote_v2_messageId_idx" ON "Vote_v2" ("messageId");

CREATE TABLE "Document" (
    "id"        uuid NOT NULL,
    "createdAt" timestamptz NOT NULL,
    "title"     text NOT NULL,
    "content"   text,
    "kind"      text NOT NULL DEFAULT 'text' CHECK ("kind" IN ('text', 'code', 'sheet', 'image')),
    "userId"    uuid NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    PRIMARY KEY ("id", "createdAt")
);
CREATE INDEX "Document_userId_idx" ON "Document" ("userId", "createdAt");

CREATE TABLE "Suggestion" (
    "id"                uuid PRIMARY KEY,
    "documentId"        uuid NOT NULL,
    "documentCreatedAt" timestamptz NOT NULL,
    "originalText"      text NOT NULL,
    "suggestedText"     text NOT NULL,
    "description"       text,
    "isResolved"        boolean NOT NULL DEFAULT false,
    "userId"            uuid NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "createdAt"         timestamptz NOT NULL,
    CONSTRAINT "Suggestion_document_fkey" FOREIGN KEY ("documentId", "documentCreatedAt")
        REFERENCES "Document" ("id", "createdAt") ON DELETE CASCADE
);
CREATE INDEX "Suggestion_document_idx" ON "Suggestion" ("documentId", "documentCreatedAt");
CREATE INDEX "Suggestion_userId_idx" ON "Suggestion" ("userId");

CREATE TABLE "Stream" (
    "id"        uuid PRIMARY KEY,
    "chatId"    uuid NOT NULL REFERENCES "Chat" ("id") ON DELETE CASCADE,
    "createdAt" timestamptz NOT NULL
);
CREATE INDEX "Stream_chatId_idx" ON "Stream" ("chatId", "createdAt");

CREATE TABLE "File" (
    "id"          uuid PRIMARY KEY,
    "userId"      uuid NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "chatId"      uuid REFERENCES "Chat" ("id") ON DELETE SET NULL,
    "name"        text NOT NULL,
    "contentType" text NOT NULL,
    "size"        bigint NOT NULL CHECK ("size" >= 0),
    "storageKey"  text NOT NULL,
    "createdAt"   timestamptz NOT NULL
);
CREATE UNIQUE INDEX "File_storageKey_key" ON "File" ("storageKey");
CREATE INDEX "File_userId_idx" ON "File" ("userId", "createdAt");
CREATE INDEX "File_chatId_idx" ON "File" ("chatId");
