-- Migration 20251108000000_AddItemDone (sample app v2): items can be marked done.
ALTER TABLE items ADD COLUMN done boolean NOT NULL DEFAULT false;
