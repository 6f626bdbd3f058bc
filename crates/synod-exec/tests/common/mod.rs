//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::killpg;
use nix::unistd::Pid;

/// Whether any live process remains in group `pgid`: `kill(-pgid, 0)` finds the group and
/// /proc shows a member that is not a zombie (a dead grandchild waiting for init to reap it
/// still counts for `kill`).
pub fn group_alive(pgid: i32) -> bool {
    if killpg(Pid::from_raw(pgid), None) == Err(Errno::ESRCH) {
        return false;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        let Some(close) = stat.rfind(')') else {
            return false;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z"
    })
}

/// Waits (up to 10 s, generous for loaded machines) for group `pgid` to be gone.
pub async fn assert_group_gone(pgid: i32) {
    for _ in 0..1000 {
        if !group_alive(pgid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process group {pgid} is still alive");
}

/// Whether `pid` is a live (non-zombie) process.
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => state_of(&stat) != Some('Z'),
        Err(_) => false,
    }
}

/// The state letter of a /proc/PID/stat line (the field after the parenthesized name).
pub fn state_of(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// (pid, state) of every process whose parent is this test process.
pub fn my_children() -> Vec<(i32, char)> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next() == Some(me.as_str()) {
            found.push((pid, state));
        }
    }
    found
}

/// Waits (up to 10 s) for `path` to hold a line per expected pid, and returns them.
pub async fn read_pids(path: &Path, count: usize) -> Vec<i32> {
    for _ in 0..1000 {
        if let Ok(text) = std::fs::read_to_string(path) {
            let pids: Vec<i32> = text
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            if pids.len() >= count && text.ends_with('\n') {
                return pids;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never listed {count} pids", path.display());
}

/// A marker unique to this test process and call, to put in a descendant's argv.
pub fn unique_marker(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "synod-exec-test-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Pids of the live (non-zombie) processes whose command line holds `marker`.
pub fn marked_alive(marker: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = marker.as_bytes();
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle))
        })
        .filter(|pid| process_alive(*pid))
        .collect()
}

/// Waits (up to 10 s) for no live process to carry `marker` in its command line.
pub async fn assert_marker_gone(marker: &str) {
    let mut left = Vec::new();
    for _ in 0..1000 {
        left = marked_alive(marker);
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("processes marked {marker} survived: {left:?}");
}

/// Perl that writes its pid to `$ARGV[0]` and sleeps (`$ARGV[1]` is a marker, only in argv).
pub const PERL_SLEEPER: &str =
    r#"open F, ">", $ARGV[0] or die; print F "$$\n"; close F; sleep 300"#;

/// Shell lines starting, in the background, a `setsid` child and an `env -i` + `setsid` child
/// (both outside the group and session, the second without any environment), each writing
/// its pid to `$DIR/setsid` and `$DIR/envi`; run with `sh -c SCRIPT sh DIR MARKER`.
pub const SETSID_CHILDREN: &str = r#"
setsid perl -e "$SLEEPER" "$1/setsid" "$2" &
env -i setsid perl -e "$SLEEPER" "$1/envi" "$2" &
"#;

/// A shell line starting, in the background, a `setsid` child that ignores SIGTERM (only a
/// SIGKILL stops it), writing its pid to `$DIR/stubborn`.
pub const STUBBORN_SETSID_CHILD: &str = r#"
setsid perl -e '$SIG{TERM} = "IGNORE"; open F, ">", $ARGV[0] or die; print F "$$\n"; close F; sleep 300' "$1/stubborn" "$2" &
"#;

/// A double-forking daemon (fork, setsid, fork; the intermediates exit at once) writing its
/// pid to `$DIR/daemon`.
pub const DAEMON: &str = r#"
perl -MPOSIX -e 'exit 0 if fork; POSIX::setsid(); exit 0 if fork; open F, ">", $ARGV[0] or die; print F "$$\n"; close F; sleep 300' "$1/daemon" "$2"
"#;

/// `sh -c` running `body` with `$1` = `dir`, `$2` = `marker` and `$SLEEPER` set.
pub fn agent_script(body: &str, dir: &Path, marker: &str) -> synod_exec::AgentCommand {
    let script = format!("SLEEPER='{PERL_SLEEPER}'\n{body}");
    synod_exec::AgentCommand::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(dir)
        .arg(marker)
        .kill_grace(Duration::from_millis(150))
}

/// Reads the pid each named file in `dir` holds (waiting, up to 10 s, for each).
pub async fn pids_in(dir: &Path, names: &[&str]) -> Vec<i32> {
    let mut pids = Vec::new();
    for name in names {
        pids.extend(read_pids(&dir.join(name), 1).await);
    }
    pids
}
