//! The run watchdog: what kills a run's agents when `synod run` itself is SIGKILLed.
//!
//! Agents run in their own process groups (synod-exec), so a SIGKILL of `synod run` would
//! leave them running: nothing in the killed process can clean up, and the agents do not
//! notice a closed pipe until they write to it. So `synod run` starts one small helper,
//! `synod __watchdog --parent PID --marker TOKEN`, and gives every agent the environment
//! variable `SYNOD_WATCHDOG=TOKEN` (inherited by the agents' own children). The helper polls
//! its parent pid, and at each poll records the parent's descendant tree from `/proc` (pid and
//! start time of every process below it, whatever its group, session or environment). Once
//! the parent is gone (killed or exited) it SIGKILLs, scanning `/proc` until none is left:
//! every process whose environment carries the token (and its process group), every recorded
//! process still alive with the same start time, and every live descendant of those. So a
//! descendant that cleared its environment and left its session (`env -i setsid ...`) dies
//! too, whether it was recorded at a poll or is still below a marked agent. Then it exits. On
//! a clean exit there is nothing left to kill and the helper is stopped.
//!
//! Linux only (it reads `/proc`). On macOS and the BSDs no helper starts and agents outlive a
//! SIGKILLed `synod run` until their own timeout... which they cannot enforce themselves, so
//! prefer SIGTERM/Ctrl-C, which cancels cleanly on every platform. Windows needs no helper and
//! builds none (`watchdog_other.rs`): each agent's job object kills its whole tree when synod
//! dies, however it dies.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use synod::exec::process_tree::ProcessTable;

pub(crate) use crate::watchdog_args::{MARKER_VAR, WatchdogArgs};

/// Runs the watchdog until its parent is gone, then kills the marked and recorded processes.
pub(crate) async fn run(args: &WatchdogArgs) -> ExitCode {
    let poll = Duration::from_millis(args.poll_ms.max(10));
    let proc_root = Path::new("/proc");
    let mut recorded = HashMap::new();
    while std::os::unix::process::parent_id() == args.parent {
        if let Some(table) = ProcessTable::snapshot_at(proc_root) {
            record_tree(&table, args.parent, &mut recorded);
        }
        tokio::time::sleep(poll).await;
    }
    // The parent is gone. Kill until nothing marked or recorded is left (a dying shell may
    // still be forking); give up after a few rounds.
    let needle = format!("{MARKER_VAR}={}", args.marker);
    for _ in 0..50 {
        if kill_leftovers(proc_root, &needle, &recorded) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ExitCode::SUCCESS
}

/// Records `(pid, start time)` of every descendant of `parent` in `table` (this process
/// excluded), forgetting recorded processes that are gone (their pids may be reused).
fn record_tree(table: &ProcessTable, parent: u32, recorded: &mut HashMap<u32, u64>) {
    let me = std::process::id();
    recorded.retain(|pid, start| table.is_same(*pid, *start));
    for p in table.descendants_of([parent]) {
        if p.pid != me {
            recorded.insert(p.pid, p.start_ticks);
        }
    }
}

/// What to kill: every live process whose environment holds `needle` (`NAME=VALUE`), every
/// `recorded` process still alive with the same start time, and every live descendant of
/// those; this process, init and its own group excluded. Returns `(pids, groups)`.
fn victims(proc_root: &Path, needle: &str, recorded: &HashMap<u32, u64>) -> (Vec<u32>, Vec<u32>) {
    let me = std::process::id();
    let own_pgrp = nix::unistd::getpgrp().as_raw().unsigned_abs();
    let marked = marked_processes(proc_root, needle);
    let groups: Vec<u32> = marked
        .iter()
        .filter_map(|(_, pgrp)| *pgrp)
        .filter(|g| *g > 1 && *g != own_pgrp)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let table = ProcessTable::snapshot_at(proc_root).unwrap_or_default();
    let mut roots: HashSet<u32> = marked.iter().map(|(pid, _)| *pid).collect();
    roots.extend(
        recorded
            .iter()
            .filter(|(pid, start)| {
                table
                    .get(**pid)
                    .is_some_and(|p| p.start_ticks == **start && !p.is_dead())
            })
            .map(|(pid, _)| *pid),
    );
    let mut pids: HashSet<u32> = roots.clone();
    pids.extend(
        table
            .descendants_of(roots)
            .into_iter()
            .filter(|p| !p.is_dead())
            .map(|p| p.pid),
    );
    pids.retain(|pid| *pid != me && *pid > 1);
    let mut pids: Vec<u32> = pids.into_iter().collect();
    pids.sort_unstable();
    (pids, groups)
}

/// SIGKILLs the [`victims`]; returns how many live processes were found.
fn kill_leftovers(proc_root: &Path, needle: &str, recorded: &HashMap<u32, u64>) -> usize {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;

    let (pids, groups) = victims(proc_root, needle, recorded);
    for group in groups {
        if let Ok(raw) = i32::try_from(group) {
            let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    for pid in &pids {
        if let Ok(raw) = i32::try_from(*pid) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    pids.len()
}

/// `(pid, process group)` of every live (non-zombie) process under `proc_root` whose
/// environment holds `needle`.
fn marked_processes(proc_root: &Path, needle: &str) -> Vec<(u32, Option<u32>)> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let needle = needle.as_bytes();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|var| var == needle) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let (state, pgrp) = parse_stat(&stat);
        if state == Some('Z') {
            continue;
        }
        out.push((pid, pgrp));
    }
    out
}

/// State and process group from `/proc/PID/stat` (`pid (comm) state ppid pgrp ...`; comm may
/// hold spaces and parentheses, so fields are counted after the last `)`).
fn parse_stat(stat: &str) -> (Option<char>, Option<u32>) {
    let Some(close) = stat.rfind(')') else {
        return (None, None);
    };
    let mut fields = stat[close + 1..].split_whitespace();
    let state = fields.next().and_then(|s| s.chars().next());
    let pgrp = fields.nth(1).and_then(|s| s.parse().ok());
    (state, pgrp)
}

/// A running watchdog for this process's agents.
pub(crate) struct Guard {
    marker: String,
    running: synod::exec::Running,
}

impl Guard {
    /// Starts `synod __watchdog` for this process (Linux only; None elsewhere or when the
    /// helper cannot start, which only weakens the SIGKILL guarantee). The helper process
    /// exists when this returns, so agents started afterwards are always covered.
    pub(crate) fn start() -> Option<Guard> {
        if !cfg!(target_os = "linux") || !Path::new("/proc/self/environ").exists() {
            return None;
        }
        let exe = std::env::current_exe().ok()?;
        let marker = format!("{}-{}", std::process::id(), synod::store::now_millis());
        let cmd = synod::exec::AgentCommand::new(exe)
            .arg("__watchdog")
            .arg("--parent")
            .arg(std::process::id().to_string())
            .arg("--marker")
            .arg(&marker)
            .kill_grace(Duration::from_millis(100))
            // It starts nothing; its tree needs no tracking (nor may it claim orphans).
            .track_descendants(false);
        match synod::exec::spawn(&cmd) {
            Ok(running) => Some(Guard { marker, running }),
            Err(err) => {
                tracing::warn!(error = %err, "cannot start the run watchdog");
                None
            }
        }
    }

    /// The marker value agents must carry in [`MARKER_VAR`].
    pub(crate) fn marker(&self) -> &str {
        &self.marker
    }

    /// Stops the watchdog (the run ended normally; its agents are all reaped).
    pub(crate) async fn stop(self) {
        let _ = self.running.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_handles_odd_names() {
        assert_eq!(parse_stat("42 (sh) S 1 42 42 0"), (Some('S'), Some(42)));
        assert_eq!(parse_stat("7 (a) b (c)) Z 1 9 9"), (Some('Z'), Some(9)));
        assert_eq!(parse_stat("garbage"), (None, None));
    }

    #[test]
    fn finds_only_marked_live_processes() {
        let root = tempfile::tempdir().unwrap();
        let add = |pid: &str, env: &[u8], stat: &str| {
            let dir = root.path().join(pid);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("environ"), env).unwrap();
            std::fs::write(dir.join("stat"), stat).unwrap();
        };
        add("10", b"A=1\0SYNOD_WATCHDOG=t1\0", "10 (sleep) S 1 10 10");
        add("11", b"SYNOD_WATCHDOG=t10\0", "11 (sleep) S 1 11 11");
        add("12", b"SYNOD_WATCHDOG=t1\0", "12 (sh) Z 1 12 12");
        add("self", b"SYNOD_WATCHDOG=t1\0", "1 (x) S 1 1 1");
        let found = marked_processes(root.path(), "SYNOD_WATCHDOG=t1");
        assert_eq!(found, vec![(10, Some(10))]);
    }

    /// A fake `/proc` entry: `stat` with the given fields, `environ` as given.
    fn add_process(root: &Path, pid: u32, ppid: u32, sid: u32, start: u64, env: &[u8]) {
        add_in_state(root, pid, 'S', ppid, sid, start, env);
    }

    fn add_in_state(
        root: &Path,
        pid: u32,
        state: char,
        ppid: u32,
        sid: u32,
        start: u64,
        env: &[u8],
    ) {
        let dir = root.join(pid.to_string());
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("environ"), env).unwrap();
        let stat = format!(
            "{pid} (x) {state} {ppid} {sid} {sid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0"
        );
        std::fs::write(dir.join("stat"), stat).unwrap();
    }

    #[test]
    fn never_kills_itself_init_its_own_group_or_the_dead() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let marked = b"SYNOD_WATCHDOG=t\0";
        let me = std::process::id();
        let own_group = nix::unistd::getpgrp().as_raw().unsigned_abs();
        // Fake pids above any real pid_max; 4_999_999 is nobody's parent.
        let nobody = 4_999_999;
        // An agent in its own group, and its child that already died (a zombie).
        add_process(r, 5_000_200, nobody, 5_000_200, 10, marked);
        add_in_state(r, 5_000_201, 'Z', 5_000_200, 5_000_200, 20, b"");
        // Marked processes in init's group and in the watchdog's own group: they die, their
        // groups are not signalled.
        add_process(r, 5_000_202, nobody, 1, 10, marked);
        add_process(r, 5_000_203, nobody, own_group, 10, marked);
        // The watchdog itself and init, were they to carry the marker.
        add_process(r, me, nobody, own_group, 10, marked);
        add_process(r, 1, 0, 1, 1, marked);
        let (pids, groups) = victims(r, "SYNOD_WATCHDOG=t", &HashMap::new());
        assert_eq!(pids, [5_000_200, 5_000_202, 5_000_203]);
        assert_eq!(groups, [5_000_200]);
    }

    #[test]
    fn records_the_tree_and_kills_recorded_and_env_cleared_descendants() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        // 100: the parent (`synod run`); 101: a marked agent; 102: its child that cleared its
        // environment and left the session; 103: reparented to init after its parent 104
        // exited, recorded earlier; 105: unrelated.
        add_process(r, 100, 1, 100, 10, b"");
        add_process(r, 101, 100, 100, 20, b"SYNOD_WATCHDOG=t\0");
        add_process(r, 102, 101, 102, 30, b"");
        add_process(r, 104, 101, 101, 25, b"");
        add_process(r, 103, 104, 103, 40, b"");
        add_process(r, 105, 1, 105, 5, b"");
        let mut recorded = HashMap::new();
        record_tree(&ProcessTable::snapshot_at(r).unwrap(), 100, &mut recorded);
        assert_eq!(recorded.len(), 4, "{recorded:?}");

        // The parent is gone; 104 exited, so 103 now hangs off init.
        std::fs::remove_dir_all(r.join("100")).unwrap();
        std::fs::remove_dir_all(r.join("104")).unwrap();
        std::fs::remove_dir_all(r.join("103")).unwrap();
        add_process(r, 103, 1, 103, 40, b"");
        // A process reusing a recorded pid... would have another start time.
        let (pids, groups) = victims(r, "SYNOD_WATCHDOG=t", &recorded);
        assert_eq!(pids, [101, 102, 103]);
        assert_eq!(groups, [100]);

        // Pid 103 reused by an unrelated process: not killed.
        std::fs::remove_dir_all(r.join("103")).unwrap();
        add_process(r, 103, 1, 103, 99, b"");
        let (pids, _) = victims(r, "SYNOD_WATCHDOG=t", &recorded);
        assert_eq!(pids, [101, 102]);
        // Without the marker, the recorded tree alone still finds the agent and its child.
        let (pids, _) = victims(r, "SYNOD_WATCHDOG=other", &recorded);
        assert_eq!(pids, [101, 102]);
    }
}
