-- Migration 20251115000000_AddItemPriority (sample app v3): items have a priority (0 by default).
ALTER TABLE items ADD COLUMN priority integer NOT NULL DEFAULT 0;
