//! A snapshot of the system's processes from `/proc` (Linux), to find every descendant of a
//! process, including those that left its process group or session (`setsid`) or cleared
//! their environment.
//!
//! synod-exec uses it to stop an agent's whole tree (see [`crate::become_subreaper`]); it is
//! public so a supervisor (such as the `synod` CLI's watchdog) can record a tree and kill it
//! later. A process is identified by its pid *and* its start time (clock ticks since boot,
//! field 22 of `/proc/PID/stat`): a pid can be reused once its process is reaped, the pair
//! cannot.
//!
//! Without `/proc` (macOS, the BSDs, Windows, a container without it) [`ProcessTable::snapshot`]
//! returns `None`.
//!
//! ```
//! use synod_exec::process_tree::ProcessTable;
//!
//! # if cfg!(target_os = "linux") && std::path::Path::new("/proc/self/stat").exists() {
//! let table = ProcessTable::snapshot().expect("/proc is mounted");
//! let me = table.get(std::process::id()).expect("this process is listed");
//! assert_eq!(me.pid, std::process::id());
//! // Nothing here was started by this doc test, so it has no descendants.
//! assert!(table.descendants_of([me.pid]).is_empty());
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One process, as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent's pid (after reparenting: the nearest subreaper, or 1).
    pub ppid: u32,
    /// Process group id.
    pub pgid: u32,
    /// Session id.
    pub sid: u32,
    /// State letter: `R`, `S`, `D`, `T`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Start time in clock ticks since boot: with the pid, the process's identity.
    pub start_ticks: u64,
}

impl ProcessInfo {
    /// Whether it has exited (a zombie waiting to be reaped, or dead).
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }

    /// Parses one `/proc/PID/stat` line; `None` when it is malformed.
    pub fn parse_stat(stat: &str) -> Option<Self> {
        // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
        //  utime stime cutime cstime priority nice num_threads itrealvalue starttime ...":
        // comm may hold spaces and parentheses, so fields are counted after the last ')'.
        let open = stat.find('(')?;
        let pid = stat.get(..open)?.trim().parse().ok()?;
        let rest = stat.get(stat.rfind(')')? + 1..)?;
        let mut fields = rest.split_ascii_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgid = fields.next()?.parse().ok()?;
        let sid = fields.next()?.parse().ok()?;
        // Field 22 of the line; the 20th after the name (16 more after the session).
        let start_ticks = fields.nth(15)?.parse().ok()?;
        Some(Self {
            pid,
            state,
            ppid,
            pgid,
            sid,
            start_ticks,
        })
    }

    /// Reads one process from `/proc`; `None` when it does not exist (or `/proc` is missing).
    pub fn read(pid: u32) -> Option<Self> {
        let mut buf = Vec::new();
        let stat = read_small(Path::new(&format!("/proc/{pid}/stat")), &mut buf)?;
        Self::parse_stat(stat)
    }
}

/// Reads a small text file (a `/proc/PID/stat` line) into `buf`, reused between calls: no
/// size probe and no allocation once `buf` is large enough. `None` when it cannot be read or
/// is not UTF-8.
fn read_small<'b>(path: &Path, buf: &'b mut Vec<u8>) -> Option<&'b str> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    if buf.len() < 512 {
        buf.resize(512, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    std::str::from_utf8(&buf[..len]).ok()
}

/// The pid the kernel allocated last in this pid namespace (`/proc/sys/kernel/ns_last_pid`);
/// `None` where the file does not exist.
#[cfg(unix)]
pub(crate) fn last_pid() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The pids of this process's children (those of every thread), from
/// `/proc/self/task/TID/children`; `None` when they cannot be listed for sure (no `/proc`, a
/// kernel without `CONFIG_PROC_CHILDREN`, or a thread exited while they were read, which
/// may have moved its children to a thread already read).
#[cfg(unix)]
pub(crate) fn my_children() -> Option<Vec<u32>> {
    let tasks = || -> Option<Vec<std::ffi::OsString>> {
        let mut tids: Vec<_> = std::fs::read_dir("/proc/self/task")
            .ok()?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .ok()?;
        tids.sort_unstable();
        Some(tids)
    };
    let before = tasks()?;
    let mut children = Vec::new();
    let mut path = std::path::PathBuf::from("/proc/self/task");
    for tid in &before {
        path.push(tid);
        path.push("children");
        let list = std::fs::read_to_string(&path).ok()?;
        children.extend(
            list.split_ascii_whitespace()
                .filter_map(|s| s.parse::<u32>().ok()),
        );
        path.pop();
        path.pop();
    }
    (tasks()? == before).then_some(children)
}

/// Calls `f` with every numeric entry of `root` (the pids of a `/proc`-like directory);
/// `None` when `root` cannot be read. On Unix the listing allocates nothing per entry (a scan
/// lists every process on the machine, and reads only the few it wants).
#[cfg(unix)]
fn for_each_pid(root: &Path, mut f: impl FnMut(u32)) -> Option<()> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut dir = nix::dir::Dir::open(root, flags, Mode::empty()).ok()?;
    // An entry that cannot be read is skipped, as one that vanished would be.
    for entry in dir.iter().flatten() {
        if let Some(pid) = parse_pid(entry.file_name().to_bytes()) {
            f(pid);
        }
    }
    Some(())
}

/// [`for_each_pid`] where `nix` is not available.
#[cfg(not(unix))]
fn for_each_pid(root: &Path, mut f: impl FnMut(u32)) -> Option<()> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        if let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| parse_pid(s.as_bytes()))
        {
            f(pid);
        }
    }
    Some(())
}

/// The pid a directory entry names: ASCII digits only, fitting a `u32`.
fn parse_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() {
        return None;
    }
    name.iter().try_fold(0u32, |pid, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        pid.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// Every process visible in `/proc` at one moment (each read separately, so a process may
/// start or exit while the snapshot is taken).
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    by_pid: HashMap<u32, ProcessInfo>,
}

impl ProcessTable {
    /// Reads `/proc`; `None` when it cannot be read (not Linux, or not mounted).
    pub fn snapshot() -> Option<Self> {
        Self::snapshot_at(Path::new("/proc"))
    }

    /// Reads a `/proc`-like directory (`root/PID/stat`); `None` when it cannot be read.
    pub fn snapshot_at(root: &Path) -> Option<Self> {
        Self::snapshot_where(root, |_| true)
    }

    /// Reads only the processes whose pid is at least `first` (cheaper: a tracker only cares
    /// about processes allocated after its child, and pids are allocated in increasing order
    /// until they wrap around, which [`last_pid`] lets the caller notice).
    #[cfg(unix)]
    pub(crate) fn snapshot_since(first: u32) -> Option<Self> {
        Self::snapshot_where(Path::new("/proc"), |pid| pid >= first)
    }

    fn snapshot_where(root: &Path, wanted: impl Fn(u32) -> bool) -> Option<Self> {
        let mut by_pid = HashMap::new();
        let mut path = root.to_path_buf();
        let mut buf = Vec::new();
        for_each_pid(root, |pid| {
            if !wanted(pid) {
                return;
            }
            path.push(pid.to_string());
            path.push("stat");
            // A process that exited since the listing simply has no stat any more.
            if let Some(stat) = read_small(&path, &mut buf)
                && let Some(info) = ProcessInfo::parse_stat(stat)
                && info.pid == pid
            {
                by_pid.insert(pid, info);
            }
            path.pop();
            path.pop();
        })?;
        (!by_pid.is_empty()).then_some(Self { by_pid })
    }

    /// A table of exactly these processes (for tests and tools that read `/proc` themselves).
    pub fn from_processes(processes: impl IntoIterator<Item = ProcessInfo>) -> Self {
        Self {
            by_pid: processes.into_iter().map(|p| (p.pid, p)).collect(),
        }
    }

    /// The process with this pid, if listed.
    pub fn get(&self, pid: u32) -> Option<&ProcessInfo> {
        self.by_pid.get(&pid)
    }

    /// Whether `pid` is listed with this start time (the same process, not a reused pid).
    pub fn is_same(&self, pid: u32, start_ticks: u64) -> bool {
        self.get(pid).is_some_and(|p| p.start_ticks == start_ticks)
    }

    /// Every listed process, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &ProcessInfo> {
        self.by_pid.values()
    }

    /// How many processes are listed.
    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    /// Whether no process is listed.
    pub fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }

    /// Every listed process whose chain of parents leads to one of `roots` (the roots
    /// themselves excluded), whatever its process group or session. Descendants whose parent
    /// already exited were reparented and are not found here: record them earlier, or make
    /// the supervisor a subreaper ([`crate::become_subreaper`]).
    pub fn descendants_of(&self, roots: impl IntoIterator<Item = u32>) -> Vec<&ProcessInfo> {
        let roots: HashSet<u32> = roots.into_iter().collect();
        self.closure(&roots)
            .into_iter()
            .filter(|pid| !roots.contains(pid))
            .filter_map(|pid| self.get(pid))
            .collect()
    }

    /// `seeds` plus every listed descendant of them (by parent pid).
    pub(crate) fn closure(&self, seeds: &HashSet<u32>) -> HashSet<u32> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for p in self.by_pid.values() {
            if p.ppid != p.pid {
                children.entry(p.ppid).or_default().push(p.pid);
            }
        }
        let mut found: HashSet<u32> = seeds.clone();
        let mut stack: Vec<u32> = seeds.iter().copied().collect();
        while let Some(pid) = stack.pop() {
            for &child in children.get(&pid).into_iter().flatten() {
                if found.insert(child) {
                    stack.push(child);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        pid: u32,
        comm: &str,
        state: char,
        ppid: u32,
        pgid: u32,
        sid: u32,
        start: u64,
    ) -> String {
        format!(
            "{pid} ({comm}) {state} {ppid} {pgid} {sid} 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 {start} 3133440 379"
        )
    }

    #[test]
    fn small_files_are_read_whole_into_a_reused_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(1500);
        std::fs::write(dir.path().join("long"), &long).unwrap();
        std::fs::write(dir.path().join("short"), "1 (a) S").unwrap();
        std::fs::write(dir.path().join("binary"), [0xff, 0xfe]).unwrap();
        let mut buf = Vec::new();
        assert_eq!(read_small(&dir.path().join("long"), &mut buf), Some(&*long));
        assert_eq!(
            read_small(&dir.path().join("short"), &mut buf),
            Some("1 (a) S")
        );
        assert_eq!(read_small(&dir.path().join("binary"), &mut buf), None);
        assert_eq!(read_small(&dir.path().join("missing"), &mut buf), None);
        // A directory opens but cannot be read (EISDIR): an error, not a retry.
        assert_eq!(read_small(dir.path(), &mut buf), None);
    }

    #[test]
    fn only_numeric_entries_are_pids() {
        assert_eq!(parse_pid(b"4242"), Some(4242));
        assert_eq!(parse_pid(b"0"), Some(0));
        assert_eq!(parse_pid(b"4294967295"), Some(u32::MAX));
        for name in [
            &b""[..],
            b"self",
            b"12a",
            b"-1",
            b" 1",
            b"4294967296",
            b"1.5",
        ] {
            assert_eq!(parse_pid(name), None, "{:?}", String::from_utf8_lossy(name));
        }
    }

    #[test]
    fn parses_stat_lines_with_odd_names() {
        let p = ProcessInfo::parse_stat(&line(42, "a) (b c", 'S', 1, 42, 40, 4900)).unwrap();
        assert_eq!(
            p,
            ProcessInfo {
                pid: 42,
                ppid: 1,
                pgid: 42,
                sid: 40,
                state: 'S',
                start_ticks: 4900,
            }
        );
        assert!(!p.is_dead());
        let z = ProcessInfo::parse_stat(&line(7, "sh", 'Z', 1, 7, 7, 1)).unwrap();
        assert!(z.is_dead());
        assert_eq!(ProcessInfo::parse_stat("garbage"), None);
        assert_eq!(ProcessInfo::parse_stat("12 (sleep) S 1 12 12 0"), None);
    }

    #[test]
    fn descendants_cross_groups_and_sessions() {
        let p = |pid, ppid, pgid, sid| ProcessInfo {
            pid,
            ppid,
            pgid,
            sid,
            state: 'S',
            start_ticks: 1,
        };
        let table = ProcessTable::from_processes([
            p(10, 1, 10, 5),
            p(11, 10, 10, 5),
            // Left the group and the session.
            p(12, 11, 12, 12),
            p(13, 12, 12, 12),
            p(20, 1, 20, 5),
        ]);
        let mut found: Vec<u32> = table.descendants_of([10]).iter().map(|p| p.pid).collect();
        found.sort_unstable();
        assert_eq!(found, [11, 12, 13]);
        assert!(table.descendants_of([20]).is_empty());
        assert!(table.is_same(12, 1) && !table.is_same(12, 2) && !table.is_same(99, 1));
    }

    #[test]
    fn snapshot_at_reads_a_proc_like_directory() {
        let root = tempfile::tempdir().unwrap();
        for (pid, ppid) in [(3u32, 1u32), (4, 3)] {
            let dir = root.path().join(pid.to_string());
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("stat"), line(pid, "x", 'S', ppid, pid, pid, 9)).unwrap();
        }
        std::fs::create_dir(root.path().join("self")).unwrap();
        let table = ProcessTable::snapshot_at(root.path()).unwrap();
        assert_eq!(table.len(), 2);
        assert!(!table.is_empty());
        assert!(ProcessTable::from_processes([]).is_empty());
        assert_eq!(table.descendants_of([3])[0].pid, 4);
        assert!(ProcessTable::snapshot_at(&root.path().join("missing")).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_snapshot_since_a_pid_reads_that_pid_and_newer_ones_only() {
        let me = std::process::id();
        let table = ProcessTable::snapshot_since(me).unwrap();
        assert!(table.get(me).is_some());
        assert!(table.iter().all(|p| p.pid >= me));
        assert!(super::last_pid().is_some());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_in_the_live_table() {
        let table = ProcessTable::snapshot().unwrap();
        let me = table.get(std::process::id()).unwrap();
        assert_eq!(
            ProcessInfo::read(me.pid).unwrap().start_ticks,
            me.start_ticks
        );
    }
}
