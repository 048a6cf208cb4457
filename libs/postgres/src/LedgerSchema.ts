import { Effect } from "effect"
import type pg from "pg"
import type { PgError } from "./PgError.ts"
import { runQuery } from "./PgPool.ts"

/** The schema that holds the project's own state (run ledger, embed state); the SQL in this lib spells it out. */
export const LEDGER_SCHEMA = "polymath_etl"

// One multi-statement simple query runs as a single implicit transaction, so the
// transaction-scoped advisory lock serialises concurrent first runs: without it two
// processes racing on CREATE ... IF NOT EXISTS can fail with a duplicate-key error.
// Installations made by earlier versions are upgraded in place (ADD COLUMN IF NOT EXISTS);
// run_units' rows_* columns are what those versions counted and are no longer written.
const DDL = `
SELECT pg_advisory_xact_lock(hashtext('polymath_etl.ddl'));
CREATE SCHEMA IF NOT EXISTS polymath_etl;
CREATE TABLE IF NOT EXISTS polymath_etl.runs (
  run_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  pipeline    text NOT NULL,
  spec_hash   text NOT NULL,
  params      jsonb NOT NULL DEFAULT '{}'::jsonb,
  model       text,
  status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  error       text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
ALTER TABLE polymath_etl.runs ADD COLUMN IF NOT EXISTS stores jsonb;
CREATE INDEX IF NOT EXISTS runs_pipeline_started_idx ON polymath_etl.runs (pipeline, started_at DESC);
CREATE TABLE IF NOT EXISTS polymath_etl.run_units (
  run_id       uuid NOT NULL REFERENCES polymath_etl.runs (run_id) ON DELETE CASCADE,
  unit         text NOT NULL,
  last_key     jsonb,
  done         boolean NOT NULL DEFAULT false,
  rows_read    bigint NOT NULL DEFAULT 0,
  rows_written bigint NOT NULL DEFAULT 0,
  rows_skipped bigint NOT NULL DEFAULT 0,
  retried      bigint NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, unit)
);
ALTER TABLE polymath_etl.run_units ADD COLUMN IF NOT EXISTS counts jsonb;
CREATE TABLE IF NOT EXISTS polymath_etl.embeddings (
  target      text NOT NULL,
  key         text NOT NULL,
  model       text NOT NULL,
  text_hash   bytea NOT NULL,
  run_id      uuid,
  embedded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (target, key)
);
CREATE TABLE IF NOT EXISTS polymath_etl.rejected_rows (
  run_id      uuid NOT NULL REFERENCES polymath_etl.runs (run_id) ON DELETE CASCADE,
  step        text NOT NULL,
  unit        text NOT NULL,
  source      text NOT NULL,
  key         jsonb NOT NULL,
  reason      text NOT NULL,
  seq         bigserial,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, unit, key)
);
CREATE INDEX IF NOT EXISTS rejected_rows_run_seq_idx ON polymath_etl.rejected_rows (run_id, seq);
-- No foreign key to runs: its check per inserted row was ~40% of recording a page's
-- identities (tens of thousands of rows a page); begin drops the sets of deleted runs instead.
CREATE TABLE IF NOT EXISTS polymath_etl.seen (
  run_id uuid NOT NULL,
  unit   text NOT NULL,
  id     bytea NOT NULL,
  PRIMARY KEY (run_id, unit, id)
);
ALTER TABLE polymath_etl.seen DROP CONSTRAINT IF EXISTS seen_run_id_fkey;
CREATE TABLE IF NOT EXISTS polymath_etl.cursors (
  pipeline   text NOT NULL,
  params     jsonb NOT NULL,
  source     text NOT NULL,
  query_hash text NOT NULL,
  value      text NOT NULL,
  run_id     uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline, params, source)
);
CREATE TABLE IF NOT EXISTS polymath_etl.run_cursors (
  run_id     uuid NOT NULL REFERENCES polymath_etl.runs (run_id) ON DELETE CASCADE,
  source     text NOT NULL,
  query_hash text NOT NULL,
  from_value text,
  to_value   text,
  PRIMARY KEY (run_id, source)
);
CREATE TABLE IF NOT EXISTS polymath_etl.range_claims (
  run_id      uuid NOT NULL REFERENCES polymath_etl.runs (run_id) ON DELETE CASCADE,
  scope       text NOT NULL,
  range_index integer NOT NULL,
  claim       text NOT NULL,
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, range_index),
  UNIQUE (scope, claim)
);
`

// Every ALTER TABLE takes an exclusive lock even when the column exists, which could
// deadlock with a concurrent run's checkpoint; so the DDL runs only when something is missing.
const READY = `
SELECT to_regclass('polymath_etl.embeddings') IS NOT NULL
   AND to_regclass('polymath_etl.rejected_rows_run_seq_idx') IS NOT NULL
   AND to_regclass('polymath_etl.seen') IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass('polymath_etl.seen') AND contype = 'f')
   AND to_regclass('polymath_etl.cursors') IS NOT NULL
   AND to_regclass('polymath_etl.run_cursors') IS NOT NULL
   AND to_regclass('polymath_etl.range_claims') IS NOT NULL
   AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('polymath_etl.runs') AND attname = 'stores' AND NOT attisdropped)
   AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('polymath_etl.run_units') AND attname = 'counts' AND NOT attisdropped)
   AS ready`

// Per pool, so the ledger and the vector writer of one connector check the schema once between them.
const ready = new WeakSet<pg.Pool>()

/**
 * Whether the `polymath_etl` tables exist in their current shape, without creating them:
 * read paths that may run in a dry run (which writes nothing, not even the schema) treat
 * a missing ledger as an empty one.
 */
export const ledgerSchemaReady = (pool: pg.Pool): Effect.Effect<boolean, PgError> =>
  Effect.suspend(() => {
    if (ready.has(pool)) return Effect.succeed(true)
    return Effect.map(runQuery(pool, "looking for the polymath_etl ledger tables", READY), (check) => {
      const ok = (check.rows[0] as { ready: boolean } | undefined)?.ready === true
      if (ok) ready.add(pool)
      return ok
    })
  })

/** Creates (or upgrades) the `polymath_etl` tables on first use of a pool; later calls are free. */
export const ensureLedgerSchema = (pool: pg.Pool): Effect.Effect<void, PgError> =>
  Effect.suspend(() => {
    if (ready.has(pool)) return Effect.void
    const context = "creating the polymath_etl ledger tables"
    return Effect.gen(function*() {
      const check = yield* runQuery(pool, context, READY)
      if ((check.rows[0] as { ready: boolean } | undefined)?.ready !== true) yield* runQuery(pool, context, DDL)
      ready.add(pool)
    })
  })
