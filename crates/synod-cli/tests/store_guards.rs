//! The store guards as the CLI shows them: private files, refusals before any agent runs
//! (empty, non-SQLite, read-only, damaged stores), read-only reading commands, and waiting
//! out a busy store (`--busy-timeout`, `store.busy_timeout`).
//!
//! Tests run as root in CI, where the kernel ignores permission bits; read-only conditions are
//! made with `chmod a-w`, which synod honours itself (see the store's `Store::open` docs).
//! Unix only (modes, `sh` agents); synod-store's own tests cover the Windows guards.

#![cfg(unix)]

mod run_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use run_support::{Project, answers, config};

const PLAN: &str = r#"{"approach": "incremental"}"#;

/// A project whose one agent leaves `ran-<n>` files behind, so a test can tell it ran.
fn project() -> Project {
    let body = format!("touch \"ran-$$\"; {}", answers(PLAN));
    Project::new(&config(&[("a", &body, "")], ""))
}

fn agent_ran(project: &Project) -> bool {
    fs::read_dir(project.path())
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("ran-"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(project: &Project, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--spec", "G-1", "--stage", "s", "--quiet"];
    args.extend_from_slice(extra);
    project.synod(&args)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Asserts a refusal: exit 2, one line on stderr containing every needle.
fn assert_refused(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
}

/// Restores write permission on drop (for non-root users' temporary directory cleanup).
struct Writable(PathBuf);
impl Drop for Writable {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700));
    }
}

#[test]
fn run_creates_a_private_store_and_backups_are_private() {
    let project = project();
    let out = run(&project, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&project.path().join(".synod")), 0o700);
    assert_eq!(mode(&project.store()), 0o600);
    let backup = project.path().join("copy.db");
    let out = project.synod(&["store", "backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&backup), 0o600);
    // Backing the store up onto itself is refused in one line, exit 2, and harms nothing.
    let out = project.synod(&["store", "backup", ".synod/./synod.db"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("is the store") && message.lines().count() == 1,
        "{message}"
    );
    // So is one onto a side file of a store in the current directory, named bare: a backup
    // written as `synod.db-journal` would be taken for the store's hot journal.
    fs::copy(project.store(), project.path().join("here.db")).unwrap();
    for dest in ["here.db-journal", "here.db-wal", "here.db"] {
        let out = project.synod(&["store", "backup", "--store", "here.db", dest]);
        assert_eq!(out.status.code(), Some(2), "{dest}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is the store"),
            "{dest}: {}",
            stderr(&out)
        );
    }
    assert!(!project.path().join("here.db-journal").exists());
    // So is a backup over the config file (a slip of the tab key), which is kept as it was.
    let config = fs::read(project.path().join("synod.toml")).unwrap();
    let out = project.synod(&["store", "backup", "synod.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("refusing to back up over synod.toml")
            && message.contains("not a SQLite database")
            && message.lines().count() == 1,
        "{message}"
    );
    assert_eq!(fs::read(project.path().join("synod.toml")).unwrap(), config);
    assert!(project.synod(&["store", "check"]).status.success());
}

#[test]
fn an_empty_or_foreign_store_file_is_refused_before_any_agent_runs() {
    for (content, needle) in [
        (&b""[..], "empty (0 bytes)"),
        (&b"name,value\nnot,sqlite\n"[..], "not a SQLite database"),
    ] {
        let project = project();
        fs::create_dir_all(project.store().parent().unwrap()).unwrap();
        fs::write(project.store(), content).unwrap();
        assert_refused(&run(&project, &[]), &[needle, "synod.db"]);
        assert!(!agent_ran(&project), "an agent ran");
        assert_refused(&project.synod(&["history", "G-1"]), &[needle]);
        assert_eq!(fs::read(project.store()).unwrap(), content);
    }
}

#[test]
fn a_read_only_store_file_refuses_run_and_still_reads() {
    let project = project();
    assert!(run(&project, &[]).status.success());
    let store = project.store();
    chmod(&store, 0o444);
    let _restore = Writable(store.clone());
    let before = fs::read(&store).unwrap();

    let out = run(&project, &[]);
    assert_refused(&out, &["read-only", "synod.db", "mode 0444"]);
    assert!(!agent_ran_again(&project), "an agent ran");
    for cmd in [&["history", "G-1"][..], &["show", "1"], &["store", "check"]] {
        let out = project.synod(cmd);
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
    }
    assert_refused(
        &project.synod(&["store", "prune", "--older-than", "0s"]),
        &["read-only"],
    );
    // Counting what a prune would delete needs no write access.
    let dry = project.synod(&["store", "prune", "--older-than", "0s", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains(": 1 run(s), "),
        "{}",
        String::from_utf8_lossy(&dry.stdout)
    );
    assert_eq!(fs::read(&store).unwrap(), before);
}

/// Whether more than the first run's agent ran (the first run was set up by the test).
fn agent_ran_again(project: &Project) -> bool {
    fs::read_dir(project.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("ran-")
        })
        .count()
        > 1
}

#[test]
fn a_read_only_store_directory_refuses_run_and_still_reads() {
    let project = project();
    assert!(run(&project, &[]).status.success());
    let dir = project.path().join(".synod");
    let listing = || {
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing(), ["synod.db"]);
    chmod(&dir, 0o555);
    let _restore = Writable(dir.clone());

    assert_refused(&run(&project, &[]), &["read-only", "its directory"]);
    assert!(!agent_ran_again(&project), "an agent ran");
    for cmd in [
        &["history", "G-1"][..],
        &["show", "1", "--json"],
        &["store", "check"],
    ] {
        let out = project.synod(cmd);
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
    }
    let history = project.synod(&["history", "G-1", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
    assert_eq!(listing(), ["synod.db"], "reading created files");
}

/// Fills the project's store with 60 runs of 4 KB outputs through the library, closed and
/// checkpointed, and returns its bytes.
fn fill(project: &Project) -> Vec<u8> {
    use synod::store::{NewOutput, NewRun, Options, Store};
    let store = Store::open(project.store(), Options::default()).unwrap();
    for i in 0..60 {
        let run = NewRun {
            spec_id: "G-1".into(),
            stage: "s".into(),
            started_at: 1_000 + i,
            finished_at: 2_000 + i,
            status: "ok".into(),
        };
        let output = NewOutput {
            agent: "a".into(),
            attempt: 1,
            exit_code: Some(0),
            duration_ms: 5,
            status: "ok".into(),
            raw_output: format!("{i:>6}").repeat(700),
            parsed_json: None,
            error: None,
            ..NewOutput::default()
        };
        store
            .record_stage(&run, &[output], &serde_json::json!({"status": "ok"}))
            .unwrap();
    }
    assert!(store.checkpoint().unwrap());
    drop(store);
    fs::read(project.store()).unwrap()
}

/// Overwrites four pages in the middle of the store file.
fn damage(project: &Project) -> Vec<u8> {
    let mut bytes = fs::read(project.store()).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 40, "store too small: {pages} pages");
    for p in pages / 2..pages / 2 + 4 {
        bytes[p * 4096..(p + 1) * 4096].fill(0x5a);
    }
    fs::write(project.store(), &bytes).unwrap();
    bytes
}

#[test]
fn a_store_check_found_damaged_is_never_written_or_backed_up() {
    let project = project();
    let good = fill(&project);
    let damaged = damage(&project);
    let store = project.store();

    let check = project.synod(&["store", "check"]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert!(stdout(&check).contains("is damaged"), "{}", stdout(&check));
    assert!(sibling(&store, ".damaged").exists());

    let needles = [
        "damaged",
        "synod store check",
        ".recover",
        "restore a backup",
    ];
    assert_refused(&run(&project, &[]), &needles);
    assert!(!agent_ran(&project), "an agent ran on a damaged store");
    let backup = project.path().join("backup.db");
    assert_refused(
        &project.synod(&["store", "backup", backup.to_str().unwrap()]),
        &needles,
    );
    assert!(!backup.exists());
    assert_refused(
        &project.synod(&["store", "prune", "--older-than", "0s"]),
        &needles,
    );
    assert_refused(&project.synod(&["store", "vacuum"]), &needles);
    assert_eq!(
        fs::read(&store).unwrap(),
        damaged,
        "the damaged file changed"
    );
    assert!(!sibling(&store, "-wal").exists_nonempty());

    // Restore the good copy: the next check clears the mark and runs work again.
    fs::write(&store, &good).unwrap();
    let check = project.synod(&["store", "check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(
        stdout(&check).contains("removed the damage mark"),
        "{}",
        stdout(&check)
    );
    let out = run(&project, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

trait NonEmpty {
    fn exists_nonempty(&self) -> bool;
}
impl NonEmpty for PathBuf {
    fn exists_nonempty(&self) -> bool {
        fs::metadata(self).is_ok_and(|m| m.len() > 0)
    }
}

#[test]
fn unchecked_damage_is_caught_by_backup_and_prune_themselves() {
    let project = project();
    fill(&project);
    let damaged = damage(&project);
    let backup = project.path().join("backup.db");
    let needles = ["damaged", "quick_check", "synod store check"];
    assert_refused(
        &project.synod(&["store", "backup", backup.to_str().unwrap()]),
        &needles,
    );
    assert!(!backup.exists());
    fs::remove_file(sibling(&project.store(), ".damaged")).unwrap();
    assert_refused(
        &project.synod(&["store", "prune", "--older-than", "0s"]),
        &needles,
    );
    assert_eq!(fs::read(project.store()).unwrap(), damaged);
}

#[test]
fn busy_timeout_flag_and_config_key_are_read() {
    let project = project();
    let explain = |extra: &[&str]| {
        let mut args = vec!["config", "explain", "store.busy_timeout"];
        args.extend_from_slice(extra);
        let out = project.synod(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let default = explain(&[]);
    assert!(
        default.contains("\"1m\"") && default.contains("default"),
        "{default}"
    );
    let flag = explain(&["--busy-timeout", "45s"]);
    assert!(flag.contains("\"45s\""), "{flag}");
    let out = project.synod(&[
        "config",
        "explain",
        "store.busy_timeout",
        "--busy-timeout",
        "soon",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--busy-timeout"), "{}", stderr(&out));
    let mut toml = fs::read_to_string(project.path().join("synod.toml")).unwrap();
    toml.push_str("\n[store]\nbusy_timeout = \"3m\"\n");
    fs::write(project.path().join("synod.toml"), toml).unwrap();
    let file = explain(&[]);
    assert!(
        file.contains("\"3m\"") && file.contains("synod.toml"),
        "{file}"
    );
}

/// Holds the store's write lock, as another synod process saving a large run would.
fn hold_write_lock(project: &Project) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(project.store()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

#[test]
fn a_too_short_busy_timeout_fails_naming_the_setting_and_keeps_the_stage_aside() {
    let project = project();
    assert!(run(&project, &[]).status.success());
    let holder = hold_write_lock(&project);
    let out = run(&project, &["--busy-timeout", "300ms"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("busy")
            && err.contains("store.busy_timeout")
            && err.contains("--busy-timeout"),
        "{err}"
    );
    // The store waited out the timeout given, not the default.
    assert!(err.contains("past the busy timeout of 300ms;"), "{err}");
    holder.execute_batch("COMMIT").unwrap();

    // The stage the store refused is kept aside, and the one-line error says where.
    let unsaved = project.path().join(".synod/unsaved");
    assert!(err.contains("kept in .synod/unsaved/G-1-s-"), "{err}");
    assert!(
        err.starts_with("error: stage \"s\" of G-1 ran but could not be stored;"),
        "the error leads with what happened to the run: {err}"
    );
    let files: Vec<PathBuf> = fs::read_dir(&unsaved)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&files[0]), 0o600);
    assert_eq!(mode(&unsaved), 0o700);
    let kept: serde_json::Value = serde_json::from_slice(&fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(kept["run"]["spec_id"], "G-1");
    assert_eq!(kept["run"]["stage"], "s");
    assert_eq!(kept["outputs"][0]["agent"], "a");
    assert!(
        kept["outputs"][0]["raw_output"]
            .as_str()
            .unwrap()
            .contains("incremental"),
        "{kept}"
    );
    assert_eq!(kept["verdict"]["status"], "ok", "{kept}");
    // Nothing half-written reached the store.
    let history = project.synod(&["history", "G-1", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
}

#[test]
fn a_run_waits_out_a_store_locked_by_another_process() {
    let project = project();
    assert!(run(&project, &[]).status.success());
    let holder = hold_write_lock(&project);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("synod"))
        .current_dir(project.path())
        .args([
            "run",
            "--spec",
            "G-1",
            "--stage",
            "s",
            "--quiet",
            "--busy-timeout",
            "60s",
        ])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Hold the lock for a while (the condition under test), then let go.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run gave up while the store was locked"
    );
    holder.execute_batch("COMMIT").unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "run failed after the lock was released");
    assert!(started.elapsed() < Duration::from_secs(30));
    let history = project.synod(&["history", "G-1", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        runs.as_array().map(Vec::len),
        Some(2),
        "the second run was not stored"
    );
}

/// A file-size limit (`ulimit -f`, the RLIMIT_FSIZE stand-in for a full disk) makes the
/// store's write fail: synod reports it on one line and exits 2 instead of dying by SIGXFSZ,
/// and the store stays consistent.
#[test]
fn a_write_past_the_file_size_limit_is_a_clear_error_not_a_signal() {
    let big = "cat >/dev/null; head -c 3000000 /dev/zero | tr '\\\\0' x; echo; echo '{\"approach\": \"incremental\"}'";
    let project = Project::new(&config(&[("a", big, "")], ""));
    assert!(run(&project, &[]).status.success());
    let out = std::process::Command::new("bash")
        .current_dir(project.path())
        .arg("-c")
        .arg(format!(
            "ulimit -f 2000; exec '{}' run --spec G-1 --stage s --quiet",
            assert_cmd::cargo::cargo_bin("synod").display()
        ))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains("G-1"), "{err}");
    let check = project.synod(&["store", "check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    let history = project.synod(&["history", "G-1", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
}
