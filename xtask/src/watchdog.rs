//! A bound on one step of `test`: a stuck test costs its step's limit instead of the whole CI
//! run, and the log shows what was still running when it was stopped.

use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Disarmed when dropped (the step ended in time).
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

/// Watches `pid` (the step's process): after `limit`, lists it and every process it started
/// (with how long each has run), then kills them all.
pub fn arm(pid: u32, limit: Duration, step: String) -> Watchdog {
    let (disarm, disarmed) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = disarmed.recv_timeout(limit) {
            let tree = tree(pid);
            say!("`{step}` still running after {} min; stopping it. What was running:", limit.as_secs() / 60);
            let list = tree.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let _ = Command::new("ps").args(["-o", "pid,ppid,etime,args", "-p", &list]).status();
            // Parents first: a parent that saw its children die first could end on its own,
            // cleanly, hiding that it was stopped.
            for pid in &tree {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    });
    Watchdog { _disarm: disarm }
}

/// `root` and its descendants, parents before children.
fn tree(root: u32) -> Vec<u32> {
    let output = Command::new("ps").args(["-e", "-o", "pid=,ppid="]).output();
    let table: Vec<(u32, u32)> = output
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().map(str::parse::<u32>);
            Some((fields.next()?.ok()?, fields.next()?.ok()?))
        })
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(table.iter().filter(|&&(_, ppid)| ppid == parent).map(|&(pid, _)| pid));
        next += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Gone, or a zombie waiting for its new parent to reap it.
    fn ended(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
    }

    #[test]
    fn a_step_past_its_limit_is_killed_with_everything_it_started() {
        let mut step = Command::new("sh").args(["-c", "sleep 60 & sleep 60 & wait"]).spawn().unwrap();
        let began = Instant::now();
        let mut started = tree(step.id());
        while started.len() < 3 && began.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
            started = tree(step.id());
        }
        assert_eq!(started.len(), 3, "sh and its two sleeps: {started:?}");
        let _watchdog = arm(step.id(), Duration::from_millis(200), "sleepers".into());
        assert!(!step.wait().unwrap().success(), "killed, not ended");
        assert!(began.elapsed() < Duration::from_secs(30));
        while !started.iter().all(|&pid| ended(pid)) && began.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(started.iter().all(|&pid| ended(pid)), "what the step started is gone too");
    }

    #[test]
    fn a_step_that_ends_in_time_is_left_alone() {
        let mut step = Command::new("sh").args(["-c", "sleep 0.3"]).spawn().unwrap();
        let watchdog = arm(step.id(), Duration::from_secs(60), "short".into());
        assert!(step.wait().unwrap().success());
        drop(watchdog);
    }
}
