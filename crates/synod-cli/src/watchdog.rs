//! The run watchdog: what kills a run's agents when `synod run` itself is SIGKILLed.
//!
//! Agents run in their own process groups (synod-exec), so a SIGKILL of `synod run` would
//! leave them running: nothing in the killed process can clean up, and the agents do not
//! notice a closed pipe until they write to it. So `synod run` starts one small helper,
//! `synod __watchdog --parent PID --marker TOKEN`, and gives every agent the environment
//! variable `SYNOD_WATCHDOG=TOKEN` (inherited by the agents' own children). The helper polls
//! its parent pid; once the parent is gone (killed or exited) it SIGKILLs the process group of
//! every process whose environment carries the token, scanning `/proc` until none is left,
//! then exits. On a clean exit there is nothing left to kill and the helper is stopped.
//!
//! Linux only (it reads `/proc`); elsewhere no helper starts and agents outlive a SIGKILLed
//! `synod run` until their own timeout... which they cannot enforce themselves, so prefer
//! SIGTERM/Ctrl-C, which cancels cleanly on every platform.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The environment variable that marks a run's agents.
pub(crate) const MARKER_VAR: &str = "SYNOD_WATCHDOG";

/// Arguments of the hidden `synod __watchdog` command.
#[derive(Debug, clap::Args)]
pub(crate) struct WatchdogArgs {
    /// Pid of the `synod run` to watch.
    #[arg(long)]
    parent: u32,
    /// Value of `SYNOD_WATCHDOG` the run's agents carry.
    #[arg(long)]
    marker: String,
    /// How often to check the parent, in milliseconds.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
}

/// Runs the watchdog until its parent is gone, then kills the marked processes.
pub(crate) async fn run(args: &WatchdogArgs) -> ExitCode {
    let poll = Duration::from_millis(args.poll_ms.max(10));
    while std::os::unix::process::parent_id() == args.parent {
        tokio::time::sleep(poll).await;
    }
    // The parent is gone. Kill until nothing carries the marker (a dying shell may still be
    // forking); give up after a few rounds.
    let needle = format!("{MARKER_VAR}={}", args.marker);
    for _ in 0..50 {
        if kill_marked(Path::new("/proc"), &needle) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ExitCode::SUCCESS
}

/// SIGKILLs every process (and its process group) whose environment holds `needle`
/// (`NAME=VALUE`). Returns how many live marked processes were found.
pub(crate) fn kill_marked(proc_root: &Path, needle: &str) -> usize {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;

    let own_pgrp = nix::unistd::getpgrp();
    let mut found = 0;
    for (pid, pgrp) in marked_processes(proc_root, needle) {
        if pid == std::process::id() {
            continue;
        }
        let Ok(raw) = i32::try_from(pid) else {
            continue;
        };
        found += 1;
        let group = pgrp
            .and_then(|g| i32::try_from(g).ok())
            .filter(|g| *g > 1)
            .map(Pid::from_raw)
            .filter(|g| *g != own_pgrp);
        if let Some(group) = group {
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
    }
    found
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
            .kill_grace(Duration::from_millis(100));
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
}
