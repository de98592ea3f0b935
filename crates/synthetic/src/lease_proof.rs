//! Proofs of leases: with every job it leases, a checkpoint receives a
//! proof (an HMAC-SHA256 tag under a key only the server knows) that names
//! the checkpoint, the job, its monitor, its due time and its attempt. A
//! report must carry it back, so a checkpoint can report only the jobs it
//! leased, as it leased them, even after the job has left the queue.

use base64::Engine as _;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sightline_store::{ReportedJob, Store, StoreError};

/// The name of the signing key in the store.
const KEY_NAME: &str = "lease_proof";
/// Bytes of the tag handed out: 128 bits cannot be guessed.
const TAG_BYTES: usize = 16;

/// Issues and checks lease proofs with the key every server process on
/// the database shares.
#[derive(Clone)]
pub struct LeaseProofs {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for LeaseProofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeaseProofs")
    }
}

impl LeaseProofs {
    /// Proofs under the database's key, made (32 random bytes) on first use.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let mut candidate = [0u8; 32];
        OsRng.fill_bytes(&mut candidate);
        let key = store.server_key(KEY_NAME, &candidate).await?;
        Ok(Self::with_key(&key))
    }

    /// Proofs under a given key.
    pub fn with_key(key: &[u8]) -> Self {
        LeaseProofs {
            key: Hmac::new_from_slice(key).expect("HMAC takes a key of any length"),
        }
    }

    fn tag(&self, checkpoint_id: i64, job: &ReportedJob) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        for field in [
            checkpoint_id,
            job.job_id,
            job.monitor_id,
            job.due_at.as_millis(),
            job.attempt,
        ] {
            mac.update(&field.to_be_bytes());
        }
        mac
    }

    /// The proof that checkpoint `checkpoint_id` leased `job`.
    pub fn issue(&self, checkpoint_id: i64, job: &ReportedJob) -> String {
        let tag = self.tag(checkpoint_id, job).finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
    }

    /// Whether `proof` shows that checkpoint `checkpoint_id` leased `job`
    /// (compared in constant time).
    pub fn holds(&self, checkpoint_id: i64, job: &ReportedJob, proof: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(proof) else {
            return false;
        };
        tag.len() == TAG_BYTES
            && self
                .tag(checkpoint_id, job)
                .verify_truncated_left(&tag)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_core::Timestamp;

    fn job() -> ReportedJob {
        ReportedJob {
            job_id: 7,
            monitor_id: 3,
            due_at: Timestamp::from_millis(1_700_000_000_000),
            attempt: 0,
        }
    }

    #[test]
    fn a_proof_holds_for_its_checkpoint_and_job_only() {
        let proofs = LeaseProofs::with_key(b"k");
        let proof = proofs.issue(2, &job());
        assert!(proofs.holds(2, &job(), &proof));
        assert!(!proofs.holds(1, &job(), &proof), "another checkpoint");
        for other in [
            ReportedJob { job_id: 8, ..job() },
            ReportedJob {
                monitor_id: 4,
                ..job()
            },
            ReportedJob {
                due_at: Timestamp::from_millis(1_700_000_000_001),
                ..job()
            },
            ReportedJob {
                attempt: 1,
                ..job()
            },
        ] {
            assert!(!proofs.holds(2, &other, &proof), "{other:?}");
        }
        assert!(!LeaseProofs::with_key(b"other").holds(2, &job(), &proof));
        for forged in ["", "AAAA", "not base64!", &proof[..proof.len() - 2]] {
            assert!(!proofs.holds(2, &job(), forged), "{forged:?}");
        }
    }
}
