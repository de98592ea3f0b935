-- Keys the server keeps for itself, shared by every process on this
-- database: the key that signs the proof handed out with each leased job,
-- so that a checkpoint can report only what it leased.
CREATE TABLE server_keys (
    name       TEXT    PRIMARY KEY,
    secret     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- The job a result completes, so that a late report of a job another
-- checkpoint ran meanwhile is recognised and refused.
ALTER TABLE check_results ADD COLUMN job_id INTEGER;

-- Runs asked for ("run now"), told apart from scheduled runs and
-- confirmations: a monitor has at most one of them queued or running.
ALTER TABLE check_jobs ADD COLUMN on_demand BOOLEAN NOT NULL DEFAULT FALSE;
