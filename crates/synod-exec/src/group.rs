//! Process groups: each child leads its own group, and stopping a child means SIGTERM to the
//! group, a grace period, SIGKILL to the group, and reaping the leader.
//!
//! [`ChildGuard`] owns a spawned child until it has been reaped. Dropped early (a `run`
//! future dropped mid-flight, a `Running` dropped), it hands the child to a background task
//! that stops the group; if no runtime is left to run that task, it SIGKILLs the group at once.

use std::collections::HashSet;
use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::time::Instant;

use crate::command::AgentCommand;
use crate::descendants::{Tracker, spawn_registered};
use crate::error::{Error, Result};
use crate::process_tree::ProcessTable;
use crate::run::spawn_error;

/// Longest pause between two checks for a group's survivors.
const POLL_MAX: Duration = Duration::from_millis(20);

/// Sends `signal` to the process group; a group that no longer exists is no error.
pub(crate) fn signal_group(pgid: Pid, signal: Signal) {
    let _ = killpg(pgid, signal);
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

/// Whether any live member of group `pgid` is in `table`.
fn group_alive_in(table: &ProcessTable, pgid: Pid) -> bool {
    let pgid = pgid.as_raw().unsigned_abs();
    table.iter().any(|p| p.pgid == pgid && !p.is_dead())
}

/// Whether the group or a tracked descendant is left to stop (from a fresh snapshot when
/// tracking is on, unless a few syscalls show that a snapshot would find nothing:
/// [`Tracker::nothing_left`]).
pub(crate) fn leftovers(pgid: Pid, tracker: &mut Tracker) -> bool {
    if tracker.nothing_left() {
        return false;
    }
    match tracker.scan_now() {
        Some(table) => group_alive_in(&table, pgid) || tracker.needs_stopping(&table),
        None => group_alive(pgid),
    }
}

/// Stops a process group and every tracked descendant: records the tree, SIGTERM (to the
/// group and to each descendant outside it), then up to `grace` for the leader (when given)
/// to be reaped and everything else to exit, then SIGKILL to whatever is left, then reaps the
/// leader and the descendants reparented to us.
pub(crate) async fn terminate(
    child: Option<&mut Child>,
    pgid: Pid,
    tracker: &mut Tracker,
    grace: Duration,
) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + grace;
    // Record the tree before anything dies: a descendant whose parent exits is reparented.
    let table = tracker.scan_now();
    let mut signalled = HashSet::new();
    let first = if grace.is_zero() {
        Signal::SIGKILL
    } else {
        Signal::SIGTERM
    };
    signal_group(pgid, first);
    if let Some(table) = &table {
        tracker.signal(table, first, &mut signalled);
    }
    if !grace.is_zero() {
        // SIGCONT so a stopped group can act on the SIGTERM.
        signal_group(pgid, Signal::SIGCONT);
        if let Some(table) = &table {
            tracker.signal(table, Signal::SIGCONT, &mut HashSet::new());
        }
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
    loop {
        let (alive, table) = match tracker.scan_now() {
            Some(table) => (
                group_alive_in(&table, pgid) || tracker.any_alive(&table),
                Some(table),
            ),
            None => (group_alive(pgid), None),
        };
        if !alive {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::debug!(
                pgid = pgid.as_raw(),
                "grace elapsed: SIGKILL to the process group and its descendants"
            );
            signal_group(pgid, Signal::SIGKILL);
            if let Some(table) = &table {
                tracker.signal(table, Signal::SIGKILL, &mut HashSet::new());
            }
            break;
        }
        // Descendants found since (forked during the grace) get the SIGTERM too.
        if let Some(table) = &table {
            tracker.signal(table, first, &mut signalled);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(POLL_MAX);
    }
    if let (None, Some(child)) = (status, child) {
        status = Some(child.wait().await?);
    }
    tracker.reap().await;
    Ok(status)
}

/// Owns a spawned child (leader of group `pgid`) until it is reaped; stops the group when
/// dropped before [`ChildGuard::disarm`].
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Option<Child>,
    pgid: Pid,
    pub(crate) grace: Duration,
    /// Taken out only in `drop`.
    tracker: Option<Tracker>,
    armed: bool,
}

impl ChildGuard {
    /// Spawns `cmd` as the leader of a new process group, registered for descendant tracking.
    pub(crate) fn spawn(cmd: &AgentCommand, program: &str) -> Result<Self> {
        let mut command = cmd.to_tokio(None);
        let (child, tracker) = spawn_registered(
            cmd.track_descendants,
            || command.spawn(),
            tokio::process::Child::id,
        )
        .map_err(|e| spawn_error(cmd, program, e))?;
        let Some(pid) = child.id() else {
            return Err(Error::io(
                program,
                "spawning",
                io::Error::other("the child exited and was reaped before its pid was read"),
            ));
        };
        let pid = i32::try_from(pid)
            .map_err(|_| Error::io(program, "spawning", io::Error::other("pid out of range")))?;
        Ok(Self {
            child: Some(child),
            pgid: Pid::from_raw(pid),
            grace: cmd.kill_grace,
            tracker: Some(tracker),
            armed: true,
        })
    }

    /// The leader's pid (also its process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.pgid.as_raw().unsigned_abs()
    }

    /// Whether the leader (already reaped) left anything to stop: its group, or a tracked
    /// descendant.
    pub(crate) fn leftovers(&mut self) -> bool {
        let pgid = self.pgid;
        let (_, tracker) = self.parts();
        leftovers(pgid, tracker)
    }

    /// Stops what the reaped leader left behind (see [`terminate`]).
    pub(crate) async fn stop_leftovers(&mut self) -> io::Result<()> {
        let (pgid, grace) = (self.pgid, self.grace);
        let (_, tracker) = self.parts();
        terminate(None, pgid, tracker, grace).await.map(drop)
    }

    /// Stops the running leader and everything else (see [`terminate`]); its exit status.
    pub(crate) async fn stop(&mut self) -> io::Result<ExitStatus> {
        let (pgid, grace) = (self.pgid, self.grace);
        let (child, tracker) = self.parts();
        terminate(Some(child), pgid, tracker, grace)
            .await?
            .ok_or_else(|| io::Error::other("the process group leader was not reaped"))
    }

    /// The child and its descendant tracker, borrowed together.
    pub(crate) fn parts(&mut self) -> (&mut Child, &mut Tracker) {
        match (self.child.as_mut(), self.tracker.as_mut()) {
            (Some(child), Some(tracker)) => (child, tracker),
            _ => unreachable!("child taken before drop"),
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
        let (Some(child), Some(tracker)) = (self.child.take(), self.tracker.take()) else {
            return;
        };
        stop_in_background(child, self.pgid, self.grace, tracker);
    }
}

/// Stops the group and the descendants from a background task, or at once with SIGKILL when
/// no runtime is left.
fn stop_in_background(mut child: Child, pgid: Pid, grace: Duration, mut tracker: Tracker) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            tracing::debug!(
                pgid = pgid.as_raw(),
                "dropped while running: stopping the group"
            );
            // Scanned now, while the tree is intact: the task may start after the leader died.
            tracker.scan_now();
            // Built outside the task so it fires even if the task is dropped unpolled.
            let last_resort = KillOnDrop(Some((pgid, tracker)));
            handle.spawn(async move {
                let mut last_resort = last_resort;
                let Some((_, tracker)) = last_resort.0.as_mut() else {
                    return;
                };
                if let Err(error) = terminate(Some(&mut child), pgid, tracker, grace).await {
                    tracing::warn!(pgid = pgid.as_raw(), %error, "stopping a dropped child failed");
                    signal_group(pgid, Signal::SIGKILL);
                    tracker.kill_now();
                }
                last_resort.disarm();
            });
        }
        Err(_) => {
            signal_group(pgid, Signal::SIGKILL);
            tracker.kill_now();
            // tokio reaps dropped children on a best-effort basis; descendants reparented to
            // us stay zombies until this process reaps them or exits.
            drop(child);
        }
    }
}

/// SIGKILLs the group and the tracked descendants when dropped while still holding them (the
/// runtime shut down before the graceful stop finished).
struct KillOnDrop(Option<(Pid, Tracker)>);

impl KillOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some((pgid, mut tracker)) = self.0.take() {
            signal_group(pgid, Signal::SIGKILL);
            tracker.kill_now();
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
