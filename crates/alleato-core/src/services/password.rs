//! Password hashing (Argon2id), bounded.
//!
//! One Argon2id hash with OWASP's parameters takes 19 MiB and tens of milliseconds of a core.
//! Unbounded, 200 concurrent failed logins (no account needed) asked for 3.8 GiB at once. So at
//! most one hash per core runs at a time; a bounded number of callers queue for a bounded time,
//! and everyone past that is told to come back (`503 unavailable:auth` with `Retry-After`)
//! instead of piling up memory and latency.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::error::{Error, Result, Surface};
use crate::model::Password;

/// OWASP's recommended Argon2id parameters: 19 MiB, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"))
}

/// A hash of a random password, verified against when an email is unknown, so a login takes
/// the same time whether or not the account exists.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = uuid::Uuid::new_v4().to_string();
    hasher()
        .hash_password(random.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("hashing a random password")
        .to_string()
});

/// Computes the timing-equaliser hash ahead of the first login.
pub(crate) fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Admission to the hashing pool: `permits` hashes at once, at most `max_waiting` callers
/// queued, each for at most `max_wait`.
pub(crate) struct HashGate {
    permits: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

/// Decrements the queue length when a waiter leaves, however it leaves.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashGate {
    pub(crate) const fn new(permits: usize, max_waiting: usize, max_wait: Duration) -> Self {
        Self { permits: Semaphore::const_new(permits), waiting: AtomicUsize::new(0), max_waiting, max_wait }
    }

    /// Runs `work` on the blocking pool once a permit is free.
    pub(crate) async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let busy = || Error::unavailable(Surface::Auth, "too many password checks at once; retry in a few seconds");
        let permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(busy());
                }
                let _queued = Waiting(&self.waiting);
                match crate::rt::timeout(self.max_wait, self.permits.acquire()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(busy()),
                }
            }
        };
        let result = crate::rt::run_blocking(Surface::Auth, work).await?;
        drop(permit);
        result
    }
}

/// The process's gate: one hash per core, and a queue a few seconds deep at that rate.
static GATE: LazyLock<HashGate> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    HashGate::new(cores, 64 * cores, Duration::from_secs(5))
});

/// Hashes a new password (Argon2id, OWASP parameters), through the gate.
pub(crate) async fn hash_password(password: Password) -> Result<String> {
    GATE.run(move || {
        hasher()
            .hash_password(password.expose().as_bytes(), &SaltString::generate(&mut OsRng))
            .map(|h| h.to_string())
            .map_err(|e| Error::backend(Surface::Auth, e.to_string()))
    })
    .await
}

/// Verifies through the gate; with no password or no stored hash it verifies against
/// [`DUMMY_HASH`] and returns false, taking the same time.
pub(crate) async fn verify_password(password: Option<Password>, stored_hash: Option<String>) -> Result<bool> {
    GATE.run(move || {
        let real = stored_hash.is_some() && password.is_some();
        let hash = stored_hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let candidate = password.as_ref().map(Password::expose).unwrap_or("not the password");
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::backend(Surface::Auth, e.to_string()))?;
        Ok(hasher().verify_password(candidate.as_bytes(), &parsed).is_ok() && real)
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[allow(clippy::disallowed_methods)] // stands for a hash: blocking work, on the blocking pool
    fn slow() -> Result<()> {
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_callers_are_told_to_retry() {
        let gate = Arc::new(HashGate::new(1, 2, Duration::from_secs(10)));
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.run(slow).await })
            })
            .collect();
        let mut ok = 0;
        let mut busy = 0;
        for call in calls {
            match call.await.unwrap() {
                Ok(()) => ok += 1,
                Err(err) => {
                    assert_eq!(err.code(), "unavailable:auth");
                    busy += 1;
                }
            }
        }
        // One runs, two wait their turn, three find the queue full.
        assert_eq!((ok, busy), (3, 3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_waits_at_most_the_bound() {
        let gate = Arc::new(HashGate::new(1, 8, Duration::from_millis(50)));
        let first = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(slow).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let err = gate.run(slow).await.unwrap_err();
        assert_eq!(err.code(), "unavailable:auth");
        first.await.unwrap().unwrap();
        // Once free, the gate admits again.
        gate.run(|| Ok(())).await.unwrap();
    }
}
