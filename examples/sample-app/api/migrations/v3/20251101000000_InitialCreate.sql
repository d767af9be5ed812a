-- Migration 20251101000000_InitialCreate (sample app v1): the items table.
CREATE TABLE items (
    id serial PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
