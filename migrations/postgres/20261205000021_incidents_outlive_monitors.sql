-- Deleting a monitor (also `apply --prune`) keeps its incidents, closed as
-- "monitor deleted", so that the links in messages already sent still
-- open: the incident forgets the monitor and keeps its name in `subject`.
ALTER TABLE incidents ADD COLUMN subject TEXT;
ALTER TABLE incidents DROP CONSTRAINT incidents_monitor_id_fkey;
ALTER TABLE incidents ADD CONSTRAINT incidents_monitor_id_fkey
    FOREIGN KEY (monitor_id) REFERENCES monitors (id) ON DELETE SET NULL;
ALTER TABLE incidents DROP CONSTRAINT incidents_about_one_thing;
ALTER TABLE incidents ADD CONSTRAINT incidents_about_one_thing CHECK (
    (monitor_id IS NOT NULL)::int + (site_id IS NOT NULL)::int + (checkpoint_id IS NOT NULL)::int <= 1
);
