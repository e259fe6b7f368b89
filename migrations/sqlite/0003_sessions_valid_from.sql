-- A password change ends every other session: sessions issued before this time are refused.
ALTER TABLE "User" ADD COLUMN "sessionsValidFrom" TEXT;
