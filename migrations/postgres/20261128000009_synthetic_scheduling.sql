-- Checks waiting for a checkpoint: scheduled runs, confirmation re-runs and
-- runs asked for by hand. A checkpoint leases due jobs (leased_until), runs
-- them and deletes them in the transaction that stores their result; a lease
-- that runs out makes the job available again.
CREATE TABLE check_jobs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor_id    BIGINT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    checkpoint_id BIGINT NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
    due_at        BIGINT NOT NULL,
    attempt       BIGINT NOT NULL,
    leased_until  BIGINT,
    created_at    BIGINT NOT NULL,
    UNIQUE (monitor_id, checkpoint_id, due_at, attempt)
);
CREATE INDEX check_jobs_by_checkpoint_due ON check_jobs (checkpoint_id, due_at);

-- When a result was stored (summaries roll results stored a while ago, so
-- that a transaction still open cannot be passed over), and the downtime a
-- confirmed error stands for (its share of the schedule period).
ALTER TABLE check_results ADD COLUMN recorded_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE check_results ADD COLUMN downtime_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE check_results ADD COLUMN confirmed_error BOOLEAN NOT NULL DEFAULT FALSE;

-- Hourly and daily summaries of each monitor's results, kept for years:
-- scheduled checks, confirmed errors, degraded checks, downtime and a
-- response-time sketch. Results in maintenance windows are not counted.
CREATE TABLE check_summaries (
    monitor_id       BIGINT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    resolution_ms    BIGINT NOT NULL,
    bucket_start     BIGINT NOT NULL,
    checks           BIGINT NOT NULL,
    confirmed_errors BIGINT NOT NULL,
    degraded         BIGINT NOT NULL,
    downtime_ms      BIGINT NOT NULL,
    response_sketch  BYTEA NOT NULL,
    PRIMARY KEY (monitor_id, resolution_ms, bucket_start)
);

-- How far the summaries reach: every result with an id up to rolled_id is in them.
CREATE TABLE check_summary_progress (
    id        BIGINT NOT NULL PRIMARY KEY,
    rolled_id BIGINT NOT NULL
);

-- Periods during which results are recorded but not counted as errors.
CREATE TABLE maintenance_windows (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Secrets checks use as {{secrets.NAME}}, encrypted with a key that is not
-- in the database.
CREATE TABLE vault_secrets (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
