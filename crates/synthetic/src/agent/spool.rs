//! The agent's results on disk until the server has them: one file per
//! result, named by a sequence number so that they are reported in the
//! order they were taken, written whole (temporary file, sync, rename)
//! so that a crash leaves either the result or nothing.
//!
//! The spool is bounded: past its size, the oldest results are dropped
//! (with a warning), because a checkpoint cut off for long is more useful
//! reporting what it sees now than what it saw hours ago.

use crate::coordinator::JobReport;
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the spool cannot keep or give back a result.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The directory or a file could not be read or written.
    #[error("the result spool at {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// Results waiting to be reported, oldest first. The directory is read
/// once, when the spool opens; after that the spool keeps its own list of
/// the files it holds, so that a spool of many results costs no directory
/// scan per result.
#[derive(Debug)]
pub struct Spool {
    directory: PathBuf,
    next: u64,
    max_bytes: u64,
    /// The files held, oldest first: sequence number and size.
    files: VecDeque<(u64, u64)>,
    /// Their total size.
    bytes: u64,
}

/// A spooled result: its place in the order and the result itself.
#[derive(Debug)]
pub struct Spooled {
    /// Its sequence number.
    pub sequence: u64,
    /// The result.
    pub report: JobReport,
}

impl Spool {
    /// Opens (or makes) the spool in `directory`, holding at most about
    /// `max_bytes`; results left by an earlier run are kept and come first.
    pub fn open(directory: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let io = |source| SpoolError::Io {
            path: directory.to_owned(),
            source,
        };
        std::fs::create_dir_all(directory).map_err(io)?;
        let files: VecDeque<(u64, u64)> = Self::sequences(directory)?.into();
        let next = files.back().map_or(0, |(sequence, _)| sequence + 1);
        Ok(Spool {
            directory: directory.to_owned(),
            next,
            max_bytes,
            bytes: files.iter().map(|(_, size)| size).sum(),
            files,
        })
    }

    /// The spooled files, by sequence, with their sizes. Temporary files of
    /// an interrupted write are left out (and removed).
    fn sequences(directory: &Path) -> Result<Vec<(u64, u64)>, SpoolError> {
        let io = |source| SpoolError::Io {
            path: directory.to_owned(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(directory).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
                continue;
            }
            let Some(sequence) = name
                .strip_suffix(".json")
                .and_then(|stem| stem.parse::<u64>().ok())
            else {
                continue;
            };
            let size = entry.metadata().map_err(io)?.len();
            found.push((sequence, size));
        }
        found.sort_unstable();
        Ok(found)
    }

    fn path(&self, sequence: u64) -> PathBuf {
        self.directory.join(format!("{sequence:020}.json"))
    }

    /// Keeps a result durably; returns how many old results were dropped
    /// to stay within the bound.
    pub fn push(&mut self, report: &JobReport) -> Result<usize, SpoolError> {
        let sequence = self.next;
        let path = self.path(sequence);
        let temporary = path.with_extension("tmp");
        let io = |source| SpoolError::Io {
            path: temporary.clone(),
            source,
        };
        let bytes = serde_json::to_vec(report).map_err(|e| io(std::io::Error::other(e)))?;
        let mut file = std::fs::File::create(&temporary).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temporary, &path).map_err(io)?;
        self.next += 1;
        self.files.push_back((sequence, bytes.len() as u64));
        self.bytes += bytes.len() as u64;
        self.trim()
    }

    /// Drops the oldest results while the spool is over its bound (the
    /// newest is always kept).
    fn trim(&mut self) -> Result<usize, SpoolError> {
        let mut dropped = 0;
        while self.bytes > self.max_bytes && self.files.len() > 1 {
            let (sequence, _) = self.files[0];
            self.remove(sequence)?;
            dropped += 1;
        }
        Ok(dropped)
    }

    /// The oldest results, at most `limit`, in order. A file that cannot be
    /// read as a result (a disk fault) is set aside as `.bad` and skipped.
    pub fn oldest(&mut self, limit: usize) -> Result<Vec<Spooled>, SpoolError> {
        let mut found = Vec::new();
        let mut unreadable = Vec::new();
        for &(sequence, _) in &self.files {
            if found.len() >= limit {
                break;
            }
            let path = self.path(sequence);
            let read = std::fs::read(&path).map_err(|source| SpoolError::Io {
                path: path.clone(),
                source,
            })?;
            match serde_json::from_slice(&read) {
                Ok(report) => found.push(Spooled { sequence, report }),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "setting aside an unreadable spooled result");
                    let _ = std::fs::rename(&path, path.with_extension("bad"));
                    unreadable.push(sequence);
                }
            }
        }
        self.forget(&unreadable);
        Ok(found)
    }

    /// Forgets a result the server has.
    pub fn remove(&mut self, sequence: u64) -> Result<(), SpoolError> {
        let path = self.path(sequence);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SpoolError::Io { path, source }),
        }
        self.forget(&[sequence]);
        Ok(())
    }

    /// Drops files from the list (and their sizes from the total).
    fn forget(&mut self, sequences: &[u64]) {
        if sequences.is_empty() {
            return;
        }
        let bytes = &mut self.bytes;
        self.files.retain(|(sequence, size)| {
            let gone = sequences.contains(sequence);
            if gone {
                *bytes -= size;
            }
            !gone
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_core::Timestamp;
    use sightline_core::monitor::{CheckReport, Problem, ProblemKind};

    fn report(job_id: i64) -> JobReport {
        JobReport {
            job_id,
            monitor_id: 7,
            due_at: Timestamp::from(1_800_000_000_000 + job_id),
            attempt: 0,
            started_at: Timestamp::from(1_800_000_000_010 + job_id),
            report: CheckReport::failed(Problem::new(ProblemKind::Connect, "refused"), 3),
            lease: format!("proof of {job_id}"),
        }
    }

    #[test]
    fn results_come_back_in_order_across_restarts_and_within_the_bound() {
        let directory = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(directory.path(), 1 << 20).unwrap();
        for job in 1..=3 {
            assert_eq!(spool.push(&report(job)).unwrap(), 0);
        }
        // A write cut short leaves a temporary file, which is not a result.
        std::fs::write(directory.path().join("00000000000000000009.tmp"), b"{").unwrap();
        drop(spool);
        let mut spool = Spool::open(directory.path(), 1 << 20).unwrap();
        spool.push(&report(4)).unwrap();
        let jobs = |spool: &mut Spool| -> Vec<i64> {
            spool
                .oldest(10)
                .unwrap()
                .iter()
                .map(|spooled| spooled.report.job_id)
                .collect()
        };
        assert_eq!(jobs(&mut spool), [1, 2, 3, 4]);
        let first = spool.oldest(2).unwrap();
        assert_eq!(first.len(), 2);
        spool.remove(first[0].sequence).unwrap();
        assert_eq!(jobs(&mut spool), [2, 3, 4]);

        // Past the bound, the oldest go.
        let one = serde_json::to_vec(&report(1)).unwrap().len() as u64;
        let mut small = Spool::open(&directory.path().join("small"), one * 2).unwrap();
        for job in 1..=5 {
            small.push(&report(job)).unwrap();
        }
        assert_eq!(jobs(&mut small), [4, 5]);
    }
}
