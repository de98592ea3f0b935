-- Screenshots of browser checks, beside the result they belong to (same
-- key: monitor, checkpoint, due time, attempt) and numbered from 1 in the
-- order they were taken. Kept in the database rather than as files so that
-- every server process sharing it can serve them; removed by their own,
-- shorter retention, or with their monitor.
CREATE TABLE screenshots (
    monitor_id    BIGINT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    checkpoint_id BIGINT NOT NULL,
    due_at        BIGINT NOT NULL,
    attempt       BIGINT NOT NULL,
    number        BIGINT NOT NULL,
    taken_at      BIGINT NOT NULL,
    label         TEXT   NOT NULL,
    step          BIGINT,
    png           BYTEA  NOT NULL,
    PRIMARY KEY (monitor_id, checkpoint_id, due_at, attempt, number)
);

CREATE INDEX screenshots_by_time ON screenshots (taken_at);
