-- Checks waiting for a checkpoint: scheduled runs, confirmation re-runs and
-- runs asked for by hand. A checkpoint leases due jobs (leased_until), runs
-- them and deletes them in the transaction that stores their result; a lease
-- that runs out makes the job available again.
CREATE TABLE check_jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id    INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
    due_at        INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    leased_until  INTEGER,
    created_at    INTEGER NOT NULL,
    UNIQUE (monitor_id, checkpoint_id, due_at, attempt)
);
CREATE INDEX check_jobs_by_checkpoint_due ON check_jobs (checkpoint_id, due_at);

-- When a result was stored (summaries roll results stored a while ago, so
-- that a transaction still open cannot be passed over), and the downtime a
-- confirmed error stands for (its share of the schedule period).
ALTER TABLE check_results ADD COLUMN recorded_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE check_results ADD COLUMN downtime_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE check_results ADD COLUMN confirmed_error BOOLEAN NOT NULL DEFAULT FALSE;

-- Hourly and daily summaries of each monitor's results, kept for years:
-- scheduled checks, confirmed errors, degraded checks, downtime and a
-- response-time sketch. Results in maintenance windows are not counted.
CREATE TABLE check_summaries (
    monitor_id       INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    resolution_ms    INTEGER NOT NULL,
    bucket_start     INTEGER NOT NULL,
    checks           INTEGER NOT NULL,
    confirmed_errors INTEGER NOT NULL,
    degraded         INTEGER NOT NULL,
    downtime_ms      INTEGER NOT NULL,
    response_sketch  BLOB NOT NULL,
    PRIMARY KEY (monitor_id, resolution_ms, bucket_start)
);

-- How far the summaries reach: every result with an id up to rolled_id is in them.
CREATE TABLE check_summary_progress (
    id        INTEGER NOT NULL PRIMARY KEY,
    rolled_id INTEGER NOT NULL
);

-- Periods during which results are recorded but not counted as errors.
CREATE TABLE maintenance_windows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Secrets checks use as {{secrets.NAME}}, encrypted with a key that is not
-- in the database.
CREATE TABLE vault_secrets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
