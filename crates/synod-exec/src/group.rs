//! Process groups: each child leads its own group, and stopping a child means SIGTERM to the
//! group, a grace period, SIGKILL to the group, and reaping the leader.
//!
//! [`ChildGuard`] owns a spawned child until it has been reaped. Dropped early (a `run`
//! future dropped mid-flight, a `Running` dropped), it hands the child to a background task
//! that stops the group; if no runtime is left to run that task, it SIGKILLs the group at once.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::time::Instant;

/// Longest pause between two checks for a group's survivors.
const POLL_MAX: Duration = Duration::from_millis(20);

/// Sends `signal` to the process group; `false` when the group no longer exists.
pub(crate) fn signal_group(pgid: Pid, signal: Signal) -> bool {
    killpg(pgid, signal) != Err(Errno::ESRCH)
}

/// Whether any live (non-zombie) process is still in the group.
pub(crate) fn group_alive(pgid: Pid) -> bool {
    // EPERM means a process exists that we may not signal: still alive.
    if killpg(pgid, None) == Err(Errno::ESRCH) {
        return false;
    }
    // kill(2) also counts zombies: grandchildren that died after their parent, waiting for
    // init (which may reap them late) to collect them. They are dead; /proc tells them apart.
    live_member_in_proc(pgid.as_raw()).unwrap_or(true)
}

/// Whether /proc lists a process of group `pgid` that is not a zombie; `None` without /proc.
fn live_member_in_proc(pgid: i32) -> Option<bool> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let mut any = false;
    for entry in dir.flatten() {
        any = true;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((state, pgrp)) = parse_stat(&stat)
            && pgrp == pgid
            && !matches!(state, 'Z' | 'X')
        {
            return Some(true);
        }
    }
    any.then_some(false)
}

/// (state, process group) from a /proc/PID/stat line.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Stops a process group: SIGTERM, then up to `grace` for the leader (when given) to be reaped
/// and the rest of the group to exit, then SIGKILL to whatever is left, then reaps the leader.
pub(crate) async fn terminate(
    child: Option<&mut Child>,
    pgid: Pid,
    grace: Duration,
) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + grace;
    if grace.is_zero() {
        signal_group(pgid, Signal::SIGKILL);
    } else {
        signal_group(pgid, Signal::SIGTERM);
        // SIGCONT so a stopped group can act on the SIGTERM.
        signal_group(pgid, Signal::SIGCONT);
    }
    let mut status = None;
    let child = match child {
        Some(child) => {
            if let Ok(waited) = tokio::time::timeout_at(deadline, child.wait()).await {
                status = Some(waited?);
            }
            Some(child)
        }
        None => None,
    };
    let mut pause = Duration::from_millis(1);
    while group_alive(pgid) {
        let now = Instant::now();
        if now >= deadline {
            tracing::debug!(
                pgid = pgid.as_raw(),
                "grace elapsed: SIGKILL to the process group"
            );
            signal_group(pgid, Signal::SIGKILL);
            break;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(POLL_MAX);
    }
    if let (None, Some(child)) = (status, child) {
        status = Some(child.wait().await?);
    }
    Ok(status)
}

/// Owns a spawned child (leader of group `pgid`) until it is reaped; stops the group when
/// dropped before [`ChildGuard::disarm`].
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Option<Child>,
    pub(crate) pgid: Pid,
    pub(crate) grace: Duration,
    armed: bool,
}

impl ChildGuard {
    pub(crate) fn new(child: Child, pgid: Pid, grace: Duration) -> Self {
        Self {
            child: Some(child),
            pgid,
            grace,
            armed: true,
        }
    }

    pub(crate) fn child(&mut self) -> &mut Child {
        // The child is only taken out in `drop`.
        self.child
            .as_mut()
            .unwrap_or_else(|| unreachable!("child taken before drop"))
    }

    /// The child has been reaped and its group is gone: nothing to clean up on drop.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Some(child) = self.child.take() else {
            return;
        };
        stop_in_background(child, self.pgid, self.grace);
    }
}

/// Stops the group from a background task, or at once with SIGKILL when no runtime is left.
fn stop_in_background(mut child: Child, pgid: Pid, grace: Duration) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            tracing::debug!(
                pgid = pgid.as_raw(),
                "dropped while running: stopping the group"
            );
            // Built outside the task so it fires even if the task is dropped unpolled.
            let last_resort = KillOnDrop(Some(pgid));
            handle.spawn(async move {
                let mut last_resort = last_resort;
                if let Err(error) = terminate(Some(&mut child), pgid, grace).await {
                    tracing::warn!(pgid = pgid.as_raw(), %error, "stopping a dropped child failed");
                    signal_group(pgid, Signal::SIGKILL);
                }
                last_resort.disarm();
            });
        }
        Err(_) => {
            signal_group(pgid, Signal::SIGKILL);
            // tokio reaps dropped children on a best-effort basis.
            drop(child);
        }
    }
}

/// SIGKILLs the group when dropped while still holding it (the runtime shut down before the
/// graceful stop finished).
struct KillOnDrop(Option<Pid>);

impl KillOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        assert_eq!(parse_stat("12 (sleep) S 1 12 12 0"), Some(('S', 12)));
        assert_eq!(parse_stat("13 (a (b) c) Z 1 99 99 0"), Some(('Z', 99)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_group_is_alive() {
        let me = nix::unistd::getpgrp();
        assert!(group_alive(me));
        assert_eq!(live_member_in_proc(me.as_raw()), Some(true));
    }
}
