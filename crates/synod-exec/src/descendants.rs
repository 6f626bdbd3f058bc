//! Descendant tracking: every process an agent started, wherever it went (another process
//! group, another session, a cleared environment), so it is stopped with the agent.
//!
//! A [`Tracker`] per spawned child records `(pid, start time)` of its descendants from
//! `/proc` snapshots: while the child runs (polled by `supervise`) and once more before it is
//! stopped. After a child exits, that last snapshot is skipped when a few syscalls show it
//! could find nothing ([`Tracker::nothing_left`]: nothing recorded, the child's group empty,
//! and for a subreaper no child of ours that synod-exec did not spawn). A process is a
//! descendant when
//!
//! - its parent chain leads to the child or to a recorded descendant,
//! - it is in the child's process group, or in a group or session led by a recorded
//!   descendant (a daemon's child whose parent already exited),
//! - or, when this process is a child subreaper ([`crate::become_subreaper`]), it is a child
//!   of ours that left our process group, was not spawned by synod-exec, and started while
//!   this child ran and no other tracked child older than it did (an orphan reparented to
//!   us whose parent chain was never seen: a double-forking daemon that exited between two
//!   polls). With several children running at once, such an orphan is claimed by the last
//!   of them to finish, never while another candidate could still own it.
//!
//! Every spawn is registered (under one lock, so a child being spawned is never mistaken for
//! an orphan), and only the exact pids recorded here are ever reaped with `waitpid`, never
//! `waitpid(-1)`: tokio reaps its own children by pid, and those are never recorded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::time::Instant;

use crate::process_tree::{ProcessInfo, ProcessTable, last_pid};

/// Longest time spent reaping SIGKILLed descendants reparented to us.
const REAP_LIMIT: Duration = Duration::from_secs(2);

/// A child spawned by synod-exec and not yet finished with.
#[derive(Debug, Clone, Copy)]
struct Root {
    pid: u32,
    start: Option<u64>,
    /// Its tracker may claim orphans (descendant tracking is on for it).
    owner: bool,
}

/// Every child spawned by synod-exec whose tracker is alive, by registration id.
static ROOTS: Mutex<BTreeMap<u64, Root>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn roots() -> std::sync::MutexGuard<'static, BTreeMap<u64, Root>> {
    ROOTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Spawns with `spawn` and registers the child (pid from `pid_of`) under the registry lock,
/// so that no scan sees the new child before it is known as ours.
pub(crate) fn spawn_registered<T>(
    track: bool,
    spawn: impl FnOnce() -> io::Result<T>,
    pid_of: impl FnOnce(&T) -> Option<u32>,
) -> io::Result<(T, Tracker)> {
    let mut roots = roots();
    let child = spawn()?;
    let pid = pid_of(&child).unwrap_or(0);
    let start = ProcessInfo::read(pid).map(|p| p.start_ticks);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let enabled = track && pid != 0 && start.is_some();
    roots.insert(
        id,
        Root {
            pid,
            start,
            owner: enabled,
        },
    );
    drop(roots);
    Ok((
        child,
        Tracker {
            enabled,
            id,
            root: pid,
            root_start: start.unwrap_or(0),
            known: HashMap::new(),
            last_pid: 0,
            wrapped: false,
        },
    ))
}

/// Whether this process is a child subreaper (orphaned descendants reparent to it).
fn subreaper_active() -> bool {
    crate::subreaper::is_subreaper()
}

/// The descendants of one spawned child (the root, which leads process group `root`).
#[derive(Debug)]
pub(crate) struct Tracker {
    enabled: bool,
    id: u64,
    root: u32,
    root_start: u64,
    /// Every descendant ever recorded: pid -> start time.
    known: HashMap<u32, u64>,
    /// The last allocated pid at the previous scan.
    last_pid: u32,
    /// Pids wrapped around since the spawn (or cannot be followed): scans read every process.
    wrapped: bool,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        roots().remove(&self.id);
    }
}

impl Tracker {
    /// Whether descendants are tracked (on for this command, and `/proc` is readable).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Takes a snapshot and records the descendants in it; `None` when tracking is off.
    ///
    /// Every process this tracker cares about (the child, its descendants, its group, orphans
    /// reparented to us while it ran) was allocated a pid after the child, so while pids have
    /// not wrapped around since the spawn only pids from the child's up are read: a final
    /// scan after a short run reads a handful of processes instead of all of them. The last
    /// allocated pid is checked at every scan (at most 250 ms apart); once it is seen below
    /// the child's pid or below an earlier reading, pids wrapped and every scan reads all.
    pub(crate) fn scan_now(&mut self) -> Option<ProcessTable> {
        if !self.enabled {
            return None;
        }
        let table = if self.pids_in_order() {
            ProcessTable::snapshot_since(self.root)?
        } else {
            ProcessTable::snapshot()?
        };
        self.scan(&table);
        Some(table)
    }

    /// After the child was reaped: whether a scan of `/proc` is sure to find nothing to stop,
    /// known from a few syscalls instead of reading the process table (the common case of an
    /// agent that leaves nothing behind). `false` whenever a scan could find something:
    ///
    /// - a descendant was recorded while the child ran (its group, session or children may
    ///   remain);
    /// - the child's process group still has a member (`kill(-pgid, 0)`, zombies included);
    /// - this process is a subreaper and has a child that synod-exec did not spawn (an orphan
    ///   the scan may claim), or its children cannot be listed.
    ///
    /// Otherwise a scan has no seed: the child is gone, so no parent chain leads to it; no
    /// process is in its group; no process is in a session it led (a group leader cannot
    /// call `setsid`); nothing was recorded; and no orphan is ours to claim (every live
    /// descendant of a reaped child is below one of its reparented children, which went to
    /// init, not to us, or are listed among our children).
    pub(crate) fn nothing_left(&self) -> bool {
        self.nothing_left_as(subreaper_active())
    }

    /// [`nothing_left`](Self::nothing_left), as if this process were a subreaper or not.
    fn nothing_left_as(&self, subreaper: bool) -> bool {
        if !self.enabled || !self.known.is_empty() {
            return false;
        }
        let Ok(pgid) = i32::try_from(self.root) else {
            return false;
        };
        if nix::sys::signal::killpg(Pid::from_raw(pgid), None) != Err(nix::errno::Errno::ESRCH) {
            return false;
        }
        if !subreaper {
            return true;
        }
        self.only_registered_children(crate::process_tree::my_children().as_deref())
    }

    /// Whether every one of `children` (this process's; `None`: unknown) was spawned by
    /// synod-exec, so that none can be an orphan to claim.
    fn only_registered_children(&self, children: Option<&[u32]>) -> bool {
        let Some(children) = children else {
            return false;
        };
        let roots = roots();
        children
            .iter()
            .all(|child| roots.values().any(|r| r.pid == *child))
    }

    /// Whether every pid allocated since the spawn is still above the child's (no wrap).
    fn pids_in_order(&mut self) -> bool {
        if self.wrapped {
            return false;
        }
        match last_pid() {
            Some(last) if last >= self.root && last >= self.last_pid => {
                self.last_pid = last;
                true
            }
            _ => {
                self.wrapped = true;
                false
            }
        }
    }

    /// Records every descendant in `table` (see the module docs for the rules).
    pub(crate) fn scan(&mut self, table: &ProcessTable) {
        self.scan_as(table, subreaper_active());
    }

    /// [`scan`](Self::scan), claiming orphans reparented to us when `subreaper`.
    fn scan_as(&mut self, table: &ProcessTable, subreaper: bool) {
        if !self.enabled {
            return;
        }
        let me = std::process::id();
        let mut seeds: HashSet<u32> = HashSet::new();
        if table.is_same(self.root, self.root_start) {
            seeds.insert(self.root);
        }
        seeds.extend(
            self.known
                .iter()
                .filter(|(pid, start)| table.is_same(**pid, **start))
                .map(|(pid, _)| *pid),
        );
        // A group or session id is ours when it is the root's or a recorded descendant's
        // pid, and that pid is not now held by a different process.
        let ours = |id: u32| -> bool {
            let expected = if id == self.root {
                Some(self.root_start)
            } else {
                self.known.get(&id).copied()
            };
            expected.is_some_and(|start| table.get(id).is_none_or(|p| p.start_ticks == start))
        };
        for p in table.iter() {
            if p.pid != self.root
                && p.pid != me
                && p.start_ticks >= self.root_start
                && (ours(p.pgid) || ours(p.sid))
            {
                seeds.insert(p.pid);
            }
        }
        if subreaper {
            self.claim_orphans(table, me, &mut seeds);
        }
        for pid in table.closure(&seeds) {
            if pid == self.root || pid == me {
                continue;
            }
            if let Some(p) = table.get(pid) {
                self.known.insert(pid, p.start_ticks);
            }
        }
    }

    /// Adds the orphans reparented to us that only this tracker can own.
    fn claim_orphans(&self, table: &ProcessTable, me: u32, seeds: &mut HashSet<u32>) {
        let my_pgid = nix::unistd::getpgrp().as_raw().unsigned_abs();
        let roots = roots();
        for p in table.iter() {
            if p.ppid != me
                || p.pgid == my_pgid
                || p.start_ticks < self.root_start
                || seeds.contains(&p.pid)
                || roots.values().any(|r| r.pid == p.pid)
            {
                continue;
            }
            let only_candidate = roots
                .iter()
                .filter(|(_, r)| r.owner && r.start.is_some_and(|s| s <= p.start_ticks))
                .all(|(id, _)| *id == self.id);
            if only_candidate {
                tracing::debug!(
                    pid = p.pid,
                    root = self.root,
                    "claiming an orphaned descendant"
                );
                seeds.insert(p.pid);
            }
        }
    }

    /// Recorded descendants still in `table` (same start time).
    fn present<'t>(&'t self, table: &'t ProcessTable) -> impl Iterator<Item = &'t ProcessInfo> {
        self.known
            .iter()
            .filter_map(|(pid, start)| table.get(*pid).filter(|p| p.start_ticks == *start))
    }

    /// Whether a recorded descendant is alive, or is a zombie child of ours to reap.
    pub(crate) fn needs_stopping(&self, table: &ProcessTable) -> bool {
        let me = std::process::id();
        self.present(table).any(|p| !p.is_dead() || p.ppid == me)
    }

    /// Whether a recorded descendant is still alive (not a zombie).
    pub(crate) fn any_alive(&self, table: &ProcessTable) -> bool {
        self.present(table).any(|p| !p.is_dead())
    }

    /// Sends `signal` to every live recorded descendant not in `skip`, adding them to it.
    pub(crate) fn signal(
        &self,
        table: &ProcessTable,
        signal: Signal,
        skip: &mut HashSet<(u32, u64)>,
    ) {
        for p in self.present(table).filter(|p| !p.is_dead()) {
            if skip.insert((p.pid, p.start_ticks)) {
                send(p.pid, signal);
            }
        }
    }

    /// SIGKILLs every live recorded descendant (after a fresh scan), synchronously.
    pub(crate) fn kill_now(&mut self) {
        if let Some(table) = self.scan_now() {
            for p in self.present(&table).filter(|p| !p.is_dead()) {
                send(p.pid, Signal::SIGKILL);
            }
        }
    }

    /// Reaps the recorded descendants that were reparented to us, waiting (bounded) for
    /// SIGKILLed ones to die.
    pub(crate) async fn reap(&mut self) {
        if !self.enabled || self.known.is_empty() {
            return;
        }
        let me = std::process::id();
        let limit = Instant::now() + REAP_LIMIT;
        let mut pause = Duration::from_millis(1);
        loop {
            let Some(table) = ProcessTable::snapshot() else {
                return;
            };
            let mut pending = 0;
            for p in self.present(&table).filter(|p| p.ppid == me) {
                // Only this exact pid, which is ours and not tokio's: it cannot be reused
                // before it is reaped, so the start-time check above still holds.
                let Ok(raw) = i32::try_from(p.pid) else {
                    continue;
                };
                // ECHILD (not ours after all) or reaped now: nothing left to wait for.
                let waited = waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG));
                if matches!(waited, Ok(WaitStatus::StillAlive)) {
                    pending += 1;
                }
            }
            if pending == 0 {
                return;
            }
            let now = Instant::now();
            if now >= limit {
                tracing::warn!(
                    pending,
                    root = self.root,
                    "descendants did not die after SIGKILL"
                );
                return;
            }
            tokio::time::sleep(pause.min(limit - now)).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    #[cfg(test)]
    pub(crate) fn known(&self) -> &HashMap<u32, u64> {
        &self.known
    }
}

fn send(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 1
    {
        let _ = kill(Pid::from_raw(raw), signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by the tests that register made-up roots and claim orphans: each must be the
    /// only one deciding who owns its orphans.
    static MADE_UP_ROOTS: Mutex<()> = Mutex::new(());

    fn made_up_roots() -> std::sync::MutexGuard<'static, ()> {
        MADE_UP_ROOTS.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A tracker for a made-up root (pids above any `pid_max`), registered like a spawn.
    fn registered(pid: u32, start: u64) -> Tracker {
        registered_as(pid, start, true)
    }

    /// [`registered`], tracking descendants (`owner`: it may claim orphans) or not.
    fn registered_as(pid: u32, start: u64, owner: bool) -> Tracker {
        let tracker = tracker_for(pid, start);
        roots().insert(
            tracker.id,
            Root {
                pid,
                start: Some(start),
                owner,
            },
        );
        tracker
    }

    /// A tracker for a made-up root, not registered (so it is nobody's candidate owner).
    fn tracker_for(pid: u32, start: u64) -> Tracker {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Tracker {
            enabled: true,
            id,
            root: pid,
            root_start: start,
            known: HashMap::new(),
            last_pid: 0,
            wrapped: false,
        }
    }

    fn p(pid: u32, ppid: u32, pgid: u32, sid: u32, start: u64) -> ProcessInfo {
        in_state('S', pid, ppid, pgid, sid, start)
    }

    /// A zombie: exited, not yet reaped by its parent.
    fn zombie(pid: u32, ppid: u32, start: u64) -> ProcessInfo {
        in_state('Z', pid, ppid, pid, pid, start)
    }

    fn in_state(state: char, pid: u32, ppid: u32, pgid: u32, sid: u32, start: u64) -> ProcessInfo {
        let line = format!(
            "{pid} (x) {state} {ppid} {pgid} {sid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0"
        );
        ProcessInfo::parse_stat(&line).unwrap()
    }

    #[test]
    fn a_running_leader_of_a_recorded_group_or_session_pulls_its_orphans_in() {
        // 3001 left the root's session and runs on; two of its grandchildren lost their
        // parent between two scans: one in 3001's group, one in a group of its own within
        // 3001's session.
        let mut t = tracker_for(3000, 50);
        t.scan_as(
            &ProcessTable::from_processes([
                p(3000, 900, 3000, 900, 50),
                p(3001, 3000, 3001, 3001, 60),
            ]),
            false,
        );
        assert!(t.known().contains_key(&3001));
        t.scan_as(
            &ProcessTable::from_processes([
                p(3000, 900, 3000, 900, 50),
                p(3001, 3000, 3001, 3001, 60),
                p(3002, 1, 3001, 3001, 70),
                p(3003, 1, 3003, 3001, 70),
                // Not ours: an orphan in a session of its own.
                p(3004, 1, 3004, 3004, 70),
            ]),
            false,
        );
        let mut known: Vec<u32> = t.known().keys().copied().collect();
        known.sort_unstable();
        assert_eq!(known, [3001, 3002, 3003]);
    }

    #[test]
    fn what_needs_stopping_is_a_live_descendant_or_a_zombie_child_of_ours() {
        let me = std::process::id();
        let mut t = tracker_for(4000, 50);
        for pid in [4001, 4002, 4003] {
            t.known.insert(pid, 60);
        }
        let live = ProcessTable::from_processes([p(4001, 1, 4001, 4001, 60)]);
        assert!(t.needs_stopping(&live) && t.any_alive(&live));
        // A zombie that init will reap: nothing to do.
        let inits = ProcessTable::from_processes([zombie(4002, 1, 60)]);
        assert!(!t.needs_stopping(&inits) && !t.any_alive(&inits));
        // A zombie reparented to us: dead, but ours to reap.
        let ours = ProcessTable::from_processes([zombie(4003, me, 60)]);
        assert!(t.needs_stopping(&ours) && !t.any_alive(&ours));
    }

    #[test]
    fn an_orphan_of_the_same_tick_is_claimed_but_never_another_runs_child() {
        let _made_up = made_up_roots();
        let me = std::process::id();
        let mut t = registered(5_200_000, 1000);
        // Another run's child, spawned with tracking off (no owner), outside our group.
        let _other = registered_as(5_200_010, 1100, false);
        let table = ProcessTable::from_processes([
            p(5_200_010, me, 5_200_010, 5_200_010, 1100),
            // Started in the same clock tick as the root.
            p(5_200_011, me, 5_200_011, 5_200_011, 1000),
        ]);
        t.scan_as(&table, true);
        let known: Vec<u32> = t.known().keys().copied().collect();
        assert_eq!(known, [5_200_011]);
    }

    #[test]
    fn follows_parents_groups_and_sessions_of_exited_descendants() {
        // Root 1000 (its own group), a child that left the session (1001), that child's own
        // child (1002); later 1001 exits, and 1002 (reparented to init) keeps 1001's session.
        let mut t = tracker_for(1000, 50);
        let first = ProcessTable::from_processes([
            p(1000, 900, 1000, 900, 50),
            p(1001, 1000, 1001, 1001, 60),
            p(1002, 1001, 1001, 1001, 70),
            p(1003, 1, 1003, 1003, 70),
        ]);
        t.scan(&first);
        let mut known: Vec<u32> = t.known().keys().copied().collect();
        known.sort_unstable();
        assert_eq!(known, [1001, 1002]);
        let later = ProcessTable::from_processes([
            p(1000, 900, 1000, 900, 50),
            p(1002, 1, 1001, 1001, 70),
            // Started after the last scan, in the session led by the exited 1001.
            p(1004, 1, 1001, 1001, 80),
            // A reused pid of 1001 would not pull its own session in.
            p(1005, 1, 1005, 1005, 80),
        ]);
        t.scan(&later);
        assert!(t.known().contains_key(&1004));
        assert!(!t.known().contains_key(&1005));
        assert!(t.any_alive(&later));
    }

    #[test]
    fn an_orphan_goes_to_its_only_candidate_owner() {
        let _made_up = made_up_roots();
        let me = std::process::id();
        let my_pgid = nix::unistd::getpgrp().as_raw().unsigned_abs();
        let mut older = registered(5_000_000, 100);
        let mut younger = registered(5_000_010, 200);
        let table = ProcessTable::from_processes([
            // Reparented to us, left our group (setsid), started while both ran.
            p(5_000_100, me, 5_000_100, 5_000_100, 300),
            // Started before the younger root: only the older can own it.
            p(5_000_101, me, 5_000_101, 5_000_101, 150),
            // Still in our process group: one of our own children, never claimed.
            p(5_000_102, me, my_pgid, 1, 300),
            // A registered root is never an orphan.
            p(5_000_010, me, 5_000_010, 1, 200),
        ]);
        // Without the subreaper, our children are never taken for orphans.
        younger.scan_as(&table, false);
        assert!(younger.known().is_empty());
        younger.scan_as(&table, true);
        assert!(younger.known().is_empty(), "{:?}", younger.known());
        older.scan_as(&table, true);
        let mut known: Vec<u32> = older.known().keys().copied().collect();
        known.sort_unstable();
        assert_eq!(known, [5_000_101]);
        // Once the older run is over, the younger is the only candidate left.
        drop(older);
        younger.scan_as(&table, true);
        let known: Vec<u32> = younger.known().keys().copied().collect();
        assert_eq!(known, [5_000_100]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn scans_read_only_newer_pids_until_the_pid_counter_wraps() {
        // A child with a pid no process has yet: the counter must have wrapped since.
        let mut wrapped = tracker_for(u32::MAX - 1, 1);
        assert!(!wrapped.pids_in_order());
        assert!(
            wrapped.wrapped,
            "once wrapped, every later scan reads every process"
        );
        let mut in_order = tracker_for(1, 1);
        assert!(in_order.pids_in_order());
        assert!(in_order.last_pid >= 1);
        // A reading below an earlier one is a wrap too.
        in_order.last_pid = u32::MAX;
        assert!(!in_order.pids_in_order());
        assert!(!in_order.pids_in_order());
    }

    /// Spawns `sh -c script` as the leader of its own group, registered like a run's child.
    #[cfg(target_os = "linux")]
    fn spawn_sh(script: &str) -> (std::process::Child, Tracker) {
        use std::os::unix::process::CommandExt;
        spawn_registered(
            true,
            || {
                std::process::Command::new("sh")
                    .args(["-c", script])
                    .stdin(std::process::Stdio::null())
                    .process_group(0)
                    .spawn()
            },
            |child| Some(child.id()),
        )
        .unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_final_scan_is_skipped_only_when_it_could_find_nothing() {
        // A child that leaves nothing: no scan needed, subreaper or not (registered spawns
        // are never taken for orphans).
        let (mut child, tracker) = spawn_sh("exit 0");
        child.wait().unwrap();
        assert!(tracker.nothing_left_as(false));
        assert!(tracker.only_registered_children(Some(&[child.id()])));

        // A child that leaves a member in its group: the scan runs (and finds it).
        let (mut child, mut tracker) = spawn_sh("sleep 30 & exit 0");
        child.wait().unwrap();
        assert!(!tracker.nothing_left_as(false));
        let table = tracker.scan_now().unwrap();
        assert!(table.iter().any(|p| p.pgid == tracker.root && !p.is_dead()));
        tracker.kill_now();
        send_group(tracker.root);

        // A descendant recorded while the child ran: the scan runs (its group, session or
        // children may remain).
        let (mut child, mut tracker) = spawn_sh("exit 0");
        child.wait().unwrap();
        tracker.known.insert(u32::MAX - 5, 1);
        assert!(!tracker.nothing_left_as(false));
        assert!(!tracker.nothing_left_as(true));

        // As a subreaper, a child of ours that synod-exec did not spawn may be an orphan to
        // claim; unlistable children count as such.
        let mut stranger = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let (mut child, tracker) = spawn_sh("exit 0");
        child.wait().unwrap();
        // `None` while a thread of this test binary starts or exits mid-listing: list again.
        let mine = std::iter::repeat_with(crate::process_tree::my_children)
            .take(10_000)
            .flatten()
            .next()
            .expect("this process's children, listed while its threads stood still");
        assert!(mine.contains(&stranger.id()), "{mine:?}");
        assert!(!tracker.only_registered_children(Some(&mine)));
        assert!(!tracker.nothing_left_as(true));
        assert!(!tracker.only_registered_children(None));
        // Not a subreaper: orphans go to init, which no scan could link to the child.
        assert!(tracker.nothing_left_as(false));
        stranger.kill().unwrap();
        stranger.wait().unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn kill_now_kills_recorded_descendants_outside_the_group() {
        let (mut child, mut tracker) = spawn_sh("setsid sleep 300 & wait");
        let descendant = loop {
            tracker.scan_now();
            if let Some(pid) = tracker.known().keys().next() {
                break *pid;
            }
            std::thread::yield_now();
        };
        tracker.kill_now();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let alive = || ProcessInfo::read(descendant).is_some_and(|p| !p.is_dead());
        while alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let survived = alive();
        if survived {
            send(descendant, Signal::SIGKILL);
        }
        child.wait().unwrap();
        assert!(!survived, "kill_now left descendant {descendant} running");
    }

    #[cfg(target_os = "linux")]
    fn send_group(pgid: u32) {
        let pgid = i32::try_from(pgid).unwrap();
        let _ = nix::sys::signal::killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }

    #[test]
    fn a_reused_pid_is_not_a_descendant() {
        let mut t = tracker_for(2000, 50);
        t.scan(&ProcessTable::from_processes([
            p(2000, 900, 2000, 900, 50),
            p(2001, 2000, 2000, 900, 60),
        ]));
        // 2001 was reaped and its pid reused by an unrelated process.
        let reused = ProcessTable::from_processes([p(2001, 1, 2001, 2001, 99)]);
        assert!(!t.any_alive(&reused));
        assert!(!t.needs_stopping(&reused));
    }
}
