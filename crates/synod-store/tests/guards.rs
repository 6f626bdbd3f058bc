//! The store's guards against real files: private permissions, atomic creation, empty and
//! read-only files and directories, damage marks, and waiting out a busy database.
//!
//! These tests run as root in CI, where the kernel ignores permission bits. Read-only
//! conditions are therefore made with `chmod a-w`, which the store honours itself (it reads the
//! mode bits as well as asking `access(2)`), so the tests hold for root and other users alike.
//! On Windows a read-only file is one with the read-only attribute; permission modes and
//! read-only directories are Unix-only, and so are the tests of them.

mod common;

use std::fs;
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{output, run, verdict};
use rusqlite::Connection;
use synod_core::{Classify, ErrorClass};
use synod_store::{Error, Options, Page, Store};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A new store at `path` holding one run of spec `S`, stage `plan`, with one output.
fn store_with_one_run(path: &Path) -> Store {
    let store = Store::open(path, Options::default()).unwrap();
    store
        .record_stage(
            &run("S", "plan", 1),
            &[output("a", 1, true, 5)],
            &verdict(1),
        )
        .unwrap();
    store
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Restores write permission on drop, so a failed assertion does not leave an undeletable
/// temporary directory behind for non-root users.
struct Writable(PathBuf);
impl Drop for Writable {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700));
        #[cfg(not(unix))]
        let _ = set_read_only(&self.0, false);
    }
}

/// Sets or clears the read-only attribute (Windows's only read-only bit for files).
#[cfg(not(unix))]
fn set_read_only(path: &Path, read_only: bool) -> std::io::Result<()> {
    let mut permissions = fs::metadata(path)?.permissions();
    permissions.set_readonly(read_only);
    fs::set_permissions(path, permissions)
}

/// A closed store with `runs` runs of 4 KB outputs, its WAL checkpointed into the file.
fn filled_store(path: &Path, runs: i64) {
    let store = Store::open(path, Options::default()).unwrap();
    for i in 0..runs {
        let mut o = output("a", 1, true, 10);
        o.raw_output = format!("{i:>6}").repeat(700);
        store
            .record_stage(&run("S", "plan", i), &[o], &verdict(i))
            .unwrap();
    }
    assert!(store.checkpoint().unwrap(), "checkpoint held back");
}

#[cfg(unix)]
#[test]
fn new_store_files_and_directories_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/synod.db");
    let store = store_with_one_run(&path);
    assert_eq!(mode(&path), 0o600, "database file");
    assert_eq!(mode(&sibling(&path, "-wal")), 0o600, "WAL file");
    assert_eq!(mode(&sibling(&path, "-shm")), 0o600, "shared-memory file");
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    // No temporary file of the creation is left behind.
    assert_eq!(
        listing(&dir.path().join("a/b")),
        ["synod.db", "synod.db-shm", "synod.db-wal"]
    );

    let backup = dir.path().join("backup.db");
    store.backup_to(&backup).unwrap();
    assert_eq!(mode(&backup), 0o600, "backup");
    // Over an existing, world-readable destination too.
    chmod(&backup, 0o644);
    store.backup_to(&backup).unwrap();
    assert_eq!(mode(&backup), 0o600, "backup over an existing file");
}

/// On every platform: a new store (directories included) appears complete, with no temporary
/// file of its creation left, and a backup replaces its destination whole.
#[test]
fn new_stores_and_backups_appear_whole_with_no_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/synod.db");
    let store = store_with_one_run(&path);
    assert_eq!(
        listing(&dir.path().join("a/b")),
        ["synod.db", "synod.db-shm", "synod.db-wal"]
    );
    let backup = dir.path().join("backup.db");
    // The second backup replaces the first.
    store.backup_to(&backup).unwrap();
    store.backup_to(&backup).unwrap();
    drop(store);
    assert_eq!(listing(dir.path()), ["a", "backup.db"]);
    let copy = Store::open_read_only(&backup, Options::default()).unwrap();
    assert_eq!(copy.history("S", Page::first(10)).unwrap().len(), 1);
}

#[test]
fn an_empty_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    fs::write(&path, b"").unwrap();
    for err in [
        Store::open(&path, Options::default()).unwrap_err(),
        Store::open_read_only(&path, Options::default()).unwrap_err(),
    ] {
        assert!(
            matches!(&err, Error::NotADatabase { path: p, .. } if p == &path),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("empty (0 bytes)") && text.contains("synod.db"),
            "{text}"
        );
        assert_eq!(err.class(), ErrorClass::Permanent);
    }
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    assert_eq!(listing(dir.path()), ["synod.db"]);
}

#[test]
fn concurrent_first_opens_all_get_the_same_complete_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("new/synod.db"));
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (path, start) = (Arc::clone(&path), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let store = Store::open(&*path, Options::default())
                    .unwrap_or_else(|e| panic!("opener {i}: {e}"));
                store
                    .record_stage(&run("S", "plan", i), &[], &verdict(i))
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = Store::open_read_only(&*path, Options::default()).unwrap();
    assert_eq!(store.history("S", Page::first(100)).unwrap().len(), 8);
    store.integrity_check().unwrap();
    drop(store);
    let names = listing(&dir.path().join("new"));
    assert!(
        names.iter().all(|n| !n.contains(".new-")),
        "temporary files left: {names:?}"
    );
}

#[test]
fn a_read_only_file_is_refused_by_writers_and_read_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    filled_store(&path, 3);
    #[cfg(unix)]
    chmod(&path, 0o444);
    #[cfg(not(unix))]
    set_read_only(&path, true).unwrap();
    let _restore = Writable(path.clone());
    let before = fs::read(&path).unwrap();

    let err = Store::open(&path, Options::default()).unwrap_err();
    assert!(
        matches!(&err, Error::ReadOnly { path: p, .. } if p == &path),
        "{err:?}"
    );
    let text = err.to_string();
    let why = if cfg!(unix) {
        "no write permission (mode 0444)"
    } else {
        "has the read-only attribute"
    };
    assert!(text.contains("synod.db") && text.contains(why), "{text}");
    assert_eq!(text.lines().count(), 1);

    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert!(!reader.is_writable());
    assert_eq!(reader.history("S", Page::first(10)).unwrap().len(), 3);
    reader.integrity_check().unwrap();
    let write = reader
        .record_stage(&run("S", "plan", 99), &[], &verdict(99))
        .unwrap_err();
    assert!(matches!(write, Error::ReadOnly { .. }), "{write:?}");
    assert!(matches!(
        reader.prune_before(i64::MAX),
        Err(Error::ReadOnly { .. })
    ));
    drop(reader);
    assert_eq!(fs::read(&path).unwrap(), before, "the file changed");
    // Read immutably: no -wal or -shm (with the file's 0444) was left to block writers later.
    assert_eq!(listing(dir.path()), ["synod.db"]);
    #[cfg(unix)]
    chmod(&path, 0o600);
    #[cfg(not(unix))]
    set_read_only(&path, false).unwrap();
    let store = Store::open(&path, Options::default()).unwrap();
    store
        .record_stage(&run("S", "plan", 99), &[], &verdict(99))
        .unwrap();
}

#[cfg(unix)]
#[test]
fn a_read_only_directory_is_refused_by_writers_and_read_immutably() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let path = store_dir.join("synod.db");
    filled_store(&path, 3);
    // Closing the last connection removed the WAL and shared-memory files.
    assert_eq!(listing(&store_dir), ["synod.db"]);
    chmod(&store_dir, 0o555);
    let _restore = Writable(store_dir.clone());

    let err = Store::open(&path, Options::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err:?}");
    assert!(
        text.contains("its directory") && text.contains("store"),
        "{text}"
    );

    // A new store in a read-only directory is refused too, and nothing is created.
    let fresh = store_dir.join("other.db");
    let err = Store::open(&fresh, Options::default()).unwrap_err();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err:?}");

    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert_eq!(reader.history("S", Page::first(10)).unwrap().len(), 3);
    assert_eq!(reader.agent_stats().unwrap().len(), 1);
    reader.integrity_check().unwrap();
    drop(reader);
    // Read immutably: no -wal or -shm was created (root could have created them).
    assert_eq!(listing(&store_dir), ["synod.db"]);
}

/// Overwrites four pages in the middle of the file with a pattern that is not a b-tree page.
fn damage_middle(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let page = 4096;
    let pages = bytes.len() / page;
    assert!(pages > 40, "store too small to damage: {pages} pages");
    for p in pages / 2..pages / 2 + 4 {
        bytes[p * page..(p + 1) * page].fill(0x5a);
    }
    overwrite(path, &bytes);
}

/// Writes `bytes` over the store file. On Windows a closed store's memory map can outlive its
/// connections for a moment ("File has a user-mapped section", error 1224): wait for it, a
/// bounded while.
fn overwrite(path: &Path, bytes: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match fs::write(path, bytes) {
            Err(e) if e.raw_os_error() == Some(1224) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
}

#[test]
fn a_damaged_store_is_marked_and_never_written_or_backed_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let marker = sibling(&path, ".damaged");
    filled_store(&path, 60);
    let good_copy = fs::read(&path).unwrap();
    damage_middle(&path);
    let damaged = fs::read(&path).unwrap();

    // The check finds it and leaves the mark (private).
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert_eq!(reader.damage_mark(), None);
    let err = reader.integrity_check().unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    #[cfg(unix)]
    assert_eq!(mode(&marker), 0o600);
    let mark = reader.damage_mark().expect("damage mark");
    assert!(mark.starts_with("integrity_check"), "{mark}");
    // Reading still works where the pages are intact.
    assert!(!reader.history("S", Page::first(5)).unwrap().is_empty());

    // Nothing copies it: the old backup at the destination survives.
    let dest = dir.path().join("backup.db");
    Connection::open(&dest)
        .unwrap()
        .execute_batch("CREATE TABLE older (x); INSERT INTO older VALUES (1);")
        .unwrap();
    let previous = fs::read(&dest).unwrap();
    let err = reader.backup_to(&dest).unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err:?}");
    assert_eq!(fs::read(&dest).unwrap(), previous);
    drop(reader);

    // Nothing writes it.
    let err = Store::open(&path, Options::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Damaged { path: p, marker: m, .. } if p == &path && m == &marker),
        "{err:?}"
    );
    let text = err.to_string();
    assert_eq!(text.lines().count(), 1);
    for needle in [
        "synod store check",
        ".recover",
        "restore a backup",
        "synod.db.damaged",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(
        fs::read(&path).unwrap(),
        damaged,
        "the damaged file changed"
    );

    // Restoring a good copy and checking again clears the mark.
    fs::write(&path, &good_copy).unwrap();
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    reader.integrity_check().unwrap();
    assert!(!marker.exists());
    drop(reader);
    let store = Store::open(&path, Options::default()).unwrap();
    store
        .record_stage(&run("S", "plan", 1_000), &[], &verdict(1))
        .unwrap();
}

#[test]
fn damage_found_by_a_backup_or_a_read_leaves_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let marker = sibling(&path, ".damaged");
    filled_store(&path, 60);
    damage_middle(&path);

    // An unchecked damaged store: the backup's own quick check refuses it.
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    let dest = dir.path().join("backup.db");
    let err = reader.backup_to(&dest).unwrap_err();
    assert!(
        matches!(&err, Error::Damaged { detail, .. } if detail.starts_with("quick_check")),
        "{err:?}"
    );
    assert!(!dest.exists());
    assert!(marker.exists());
    drop(reader);

    // A page read that fails with SQLITE_CORRUPT marks it too: damage the root page of the
    // outputs table, which every read of a run's outputs goes through.
    fs::remove_file(&marker).unwrap();
    let root: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'agent_outputs'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let page = usize::try_from(root - 1).unwrap() * 4096;
    bytes[page..page + 4096].fill(0x5a);
    overwrite(&path, &bytes);
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    let corrupt = (0..80)
        .map(|id| reader.outputs_for_run(synod_store::RunId(id)))
        .find_map(Result::err)
        .expect("some run reads a damaged page");
    assert!(matches!(corrupt, Error::Corrupt { .. }), "{corrupt:?}");
    assert!(reader.damage_mark().is_some());
    drop(reader);
    assert!(matches!(
        Store::open(&path, Options::default()),
        Err(Error::Damaged { .. })
    ));
}

#[test]
fn a_long_write_lock_is_waited_out_and_every_record_lands() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    drop(Store::open(&path, Options::default()).unwrap());

    // Another "process" holds the write lock.
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();

    let options = Options {
        busy_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let stores: Vec<Store> = (0..4)
        .map(|_| Store::open(&path, options).unwrap())
        .collect();
    let writers: Vec<_> = stores
        .iter()
        .enumerate()
        .flat_map(|(s, store)| {
            (0..3).map(move |t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for n in 0..4 {
                        let started = (s * 100 + t * 10 + n) as i64;
                        let mut o = output("a", 1, true, 1);
                        o.raw_output = "z".repeat(256 * 1024);
                        store
                            .record_stage(&run("S", "plan", started), &[o], &verdict(started))
                            .unwrap_or_else(|e| panic!("writer {s}/{t} record {n}: {e}"));
                    }
                })
            })
        })
        .collect();
    // Hold the lock until every store has had to retry (bounded poll), then let go.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stores.iter().any(|s| s.busy_retries() == 0) {
        assert!(
            Instant::now() < deadline,
            "writers never found the lock held"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    holder.execute_batch("COMMIT").unwrap();
    for w in writers {
        w.join().unwrap();
    }
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert_eq!(
        reader.history("S", Page::first(100)).unwrap().len(),
        4 * 3 * 4
    );
    reader.integrity_check().unwrap();
}

#[test]
fn a_too_short_busy_timeout_fails_naming_the_setting_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    drop(Store::open(&path, Options::default()).unwrap());
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();

    // Four times SQLite's busy slice (250 ms), so the loop retries at least once even where
    // the busy handler's sleeps run long (Windows timers under load).
    let budget = Duration::from_millis(1_000);
    let store = Store::open(
        &path,
        Options {
            busy_timeout: budget,
            ..Options::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    let err = store
        .record_stage(
            &run("S", "plan", 1),
            &[output("a", 1, true, 1)],
            &verdict(1),
        )
        .unwrap_err();
    assert!(
        started.elapsed() >= budget,
        "gave up after {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            Error::Busy {
                operation: "record_stage",
                timeout: Some(t),
            } if t == budget
        ),
        "{err:?}"
    );
    assert!(store.busy_retries() >= 1);
    assert_eq!(err.class(), ErrorClass::Transient);
    let text = err.to_string();
    assert!(text.contains("past the busy timeout of 1s;"), "{text}");
    assert!(
        text.contains("store.busy_timeout") && text.contains("--busy-timeout"),
        "{text}"
    );
    holder.execute_batch("COMMIT").unwrap();
    assert!(store.history("S", Page::first(10)).unwrap().is_empty());
}

/// A backup onto the store itself, however spelled, is refused before anything is written:
/// renamed over the live file it would cut every other process's writes off from it.
#[test]
fn a_backup_onto_the_store_or_its_files_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    let path = dir.path().join("synod.db");
    let store = store_with_one_run(&path);
    let before = listing(dir.path());
    let same_file_spellings = [
        path.clone(),
        dir.path().join("sub/../synod.db"),
        sibling(&path, "-wal"),
        sibling(&path, "-shm"),
        sibling(&path, "-journal"),
        sibling(&path, ".damaged"),
    ];
    for dest in same_file_spellings {
        let err = store.backup_to(&dest).unwrap_err();
        assert!(
            matches!(&err, Error::BackupOntoItself { dest: d, .. } if *d == dest),
            "{}: {err:?}",
            dest.display()
        );
        assert_eq!(err.class(), ErrorClass::Permanent);
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("choose another destination for the backup"),
            "{message}"
        );
    }
    assert_eq!(listing(dir.path()), before, "nothing was written");
    assert_eq!(store.history("S", Page::first(10)).unwrap().len(), 1);
    store.integrity_check().unwrap();

    // A file beside it with a similar name is a fine destination.
    store.backup_to(sibling(&path, ".bak")).unwrap();
}

#[cfg(unix)]
#[test]
fn a_backup_onto_a_hard_link_or_symlink_of_the_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let store = Store::open(&path, Options::default()).unwrap();
    let link = dir.path().join("link.db");
    fs::hard_link(&path, &link).unwrap();
    let symlink = dir.path().join("symlink.db");
    std::os::unix::fs::symlink(&path, &symlink).unwrap();
    for dest in [link, symlink] {
        let err = store.backup_to(&dest).unwrap_err();
        assert!(matches!(err, Error::BackupOntoItself { .. }), "{err:?}");
    }
}

/// A backup replaces an older backup, but never a file that is not one: a config file or a
/// document named by mistake, or a directory, is refused and left as it was.
#[test]
fn a_backup_over_a_file_that_is_not_a_database_is_refused_and_the_file_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let store = store_with_one_run(&path);
    let config = dir.path().join("synod.toml");
    fs::write(&config, "version = 1\n[store]\npath = \"synod.db\"\n").unwrap();
    let short = dir.path().join("short.db");
    fs::write(&short, "SQLite").unwrap();
    let folder = dir.path().join("backups");
    fs::create_dir(&folder).unwrap();
    for (dest, what) in [
        (&config, "a 38-byte file that is not a SQLite database"),
        (&short, "a 6-byte file that is not a SQLite database"),
        (&folder, "a directory"),
    ] {
        let err = store.backup_to(dest).unwrap_err();
        assert!(
            matches!(&err, Error::BackupWouldReplace { dest: d, .. } if d == dest),
            "{err:?}"
        );
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert_eq!(
            err.to_string(),
            format!(
                "refusing to back up over {}: it is {what}, not an older backup; remove it or choose another destination",
                dest.display()
            )
        );
    }
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        "version = 1\n[store]\npath = \"synod.db\"\n"
    );
    assert_eq!(fs::read(&short).unwrap(), b"SQLite");
    assert!(folder.is_dir());

    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        // A device, a named pipe or a link is not a backup either (a device such as
        // /dev/full reads as an empty file, and renaming over it would replace the device).
        let pipe = dir.path().join("pipe.db");
        nix::unistd::mkfifo(&pipe, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let target = dir.path().join("older-target.db");
        store.backup_to(&target).unwrap();
        let link = dir.path().join("latest.db");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for (dest, what) in [
            (Path::new("/dev/null"), "a character device".to_owned()),
            (&pipe, "a named pipe".to_owned()),
            (
                &link,
                format!(
                    "a symbolic link to {} (the backup would replace the link, not its target; give the target's path)",
                    target.display()
                ),
            ),
        ] {
            let err = store.backup_to(dest).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "refusing to back up over {}: it is {what}, not an older backup; remove it or choose another destination",
                    dest.display()
                )
            );
        }
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::symlink_metadata(&pipe).unwrap().file_type().is_fifo());
        assert!(!dir.path().join("latest.db.synod-backup-tmp").exists());
    }

    // A destination in a directory that does not exist names the directory, not a
    // temporary file, and creates nothing.
    let missing = dir.path().join("no-such-dir");
    let err = store.backup_to(missing.join("x.db")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "I/O error on {}: the backup's directory does not exist; create it first",
            missing.display()
        )
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(!missing.exists());

    // An older backup is replaced, and so is an empty file (as `mktemp` leaves).
    let older = dir.path().join("older.db");
    store.backup_to(&older).unwrap();
    store.backup_to(&older).unwrap();
    let empty = dir.path().join("empty.db");
    fs::write(&empty, "").unwrap();
    store.backup_to(&empty).unwrap();
    for copy in [older, empty] {
        let copy = Store::open_read_only(&copy, Options::default()).unwrap();
        assert_eq!(copy.history("S", Page::first(10)).unwrap().len(), 1);
    }
}
