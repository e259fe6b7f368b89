//! Expiry sweeps that adapters own: instead of a task per adapter that the composition root
//! must start and stop, an adapter runs its sweep from its own write path, at most once per
//! period. An idle store then never sweeps, and needs to: nothing in it grows.

use std::sync::Mutex;
use std::time::Duration;

use crate::rt::Instant;

/// Says when a sweep is due: at most once per `period`, the first one period after creation.
#[derive(Debug)]
pub struct SweepGate {
    period: Duration,
    last: Mutex<Instant>,
}

impl SweepGate {
    /// A gate whose first sweep is due one `period` from now.
    pub fn new(period: Duration) -> Self {
        Self { period, last: Mutex::new(Instant::now()) }
    }

    /// Whether the caller should sweep now; if so, the next sweep is due one period later.
    pub fn due(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() < self.period {
            return false;
        }
        *last = Instant::now();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // a native test may block its own thread
    fn due_once_per_period() {
        let gate = SweepGate::new(Duration::from_millis(50));
        assert!(!gate.due(), "not right after creation");
        std::thread::sleep(Duration::from_millis(60));
        assert!(gate.due());
        assert!(!gate.due(), "once per period");
    }
}
