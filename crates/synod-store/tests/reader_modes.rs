//! A store opened read-only next to a live writer: it must see what the writer commits,
//! whether the commit is still in the WAL when the reader opens or lands after it opened.

#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{output, run, verdict};
use synod_store::{Options, Page, Store};

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_reader_sees_commits_a_writer_makes_after_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let writer = Store::open(&path, Options::default()).unwrap();
    writer
        .record_stage(
            &run("S", "plan", 1),
            &[output("a", 1, true, 5)],
            &verdict(1),
        )
        .unwrap();
    drop(writer);

    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert!(!reader.is_writable());
    assert_eq!(reader.history("S", Page::first(10)).unwrap().len(), 1);

    let writer = Store::open(&path, Options::default()).unwrap();
    assert!(writer.is_writable());
    let second = writer
        .record_stage(
            &run("S", "review", 2),
            &[output("b", 1, true, 5)],
            &verdict(2),
        )
        .unwrap();
    let latest = reader.latest_verdict("S", "review").unwrap();
    assert_eq!(latest.map(|r| r.id), Some(second));
    assert_eq!(reader.history("S", Page::first(10)).unwrap().len(), 2);
    assert_eq!(reader.outputs_for_run(second).unwrap().len(), 1);
}

#[test]
fn a_reader_of_a_write_protected_file_sees_commits_still_in_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let writer = Store::open(&path, Options::default()).unwrap();
    let id = writer
        .record_stage(
            &run("S", "plan", 1),
            &[output("a", 1, true, 5)],
            &verdict(1),
        )
        .unwrap();
    let wal = dir.path().join("synod.db-wal");
    assert!(
        fs::metadata(&wal).is_ok_and(|m| m.len() > 0),
        "the commit is still in the WAL"
    );
    // The file loses its write bits while the writer still has commits in the WAL.
    chmod(&path, 0o444);

    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert_eq!(reader.run(id).unwrap().map(|r| r.verdict), Some(verdict(1)));
    assert_eq!(reader.outputs_for_run(id).unwrap().len(), 1);
    drop(reader);
    drop(writer);
    chmod(&path, 0o644);
}

#[test]
fn a_reader_refuses_an_older_schema_until_a_writer_migrates_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    {
        // A database from before the first migration: valid SQLite, user_version 0.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE notes (text TEXT);")
            .unwrap();
    }
    let err = Store::open_read_only(&path, Options::default()).unwrap_err();
    assert!(
        matches!(
            err,
            synod_store::Error::NeedsMigration {
                found: 0,
                supported: synod_store::SCHEMA_VERSION,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("migrate"), "{err}");

    let writer = Store::open(&path, Options::default()).unwrap();
    assert_eq!(
        writer.schema_version().unwrap(),
        synod_store::SCHEMA_VERSION
    );
    drop(writer);
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert_eq!(
        reader.schema_version().unwrap(),
        synod_store::SCHEMA_VERSION
    );
    assert!(reader.history("S", Page::first(1)).unwrap().is_empty());
}

#[test]
fn every_write_through_a_read_only_store_is_refused_before_sqlite_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let writer = Store::open(&path, Options::default()).unwrap();
    let id = writer
        .record_stage(&run("S", "plan", 1), &[], &verdict(1))
        .unwrap();
    drop(writer);
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    let refused = |result: synod_store::Result<()>, what: &str| {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, synod_store::Error::ReadOnly { detail, .. } if detail == "it was opened read-only"),
            "{what}: {err:?}"
        );
    };
    refused(
        reader
            .record_stage(&run("S", "review", 2), &[], &verdict(2))
            .map(drop),
        "record_stage",
    );
    refused(
        reader
            .record_outputs(id, &[output("a", 1, true, 1)])
            .map(drop),
        "record_outputs",
    );
    refused(
        reader.execution_started("a", 5).map(drop),
        "execution_started",
    );
    refused(reader.prune_before(i64::MAX).map(drop), "prune_before");
    refused(reader.incremental_vacuum(0).map(drop), "incremental_vacuum");
    refused(reader.checkpoint().map(drop), "checkpoint");
    assert_eq!(reader.history("S", Page::first(10)).unwrap().len(), 1);
}

#[test]
fn a_store_marked_damaged_by_another_process_refuses_writes_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let store = Store::open(&path, Options::default()).unwrap();
    store
        .record_stage(&run("S", "plan", 1), &[], &verdict(1))
        .unwrap();
    // Another process ran a check that failed and left the mark.
    let marker = dir.path().join("synod.db.damaged");
    fs::write(&marker, "integrity_check found: row 3 missing from index\n").unwrap();

    let err = store
        .record_stage(&run("S", "review", 2), &[], &verdict(2))
        .unwrap_err();
    assert!(
        matches!(&err, synod_store::Error::Damaged { detail, marker: m, .. }
            if detail == "integrity_check found: row 3 missing from index" && *m == marker),
        "{err:?}"
    );
    let err = store.execution_started("a", 5).unwrap_err();
    assert!(matches!(err, synod_store::Error::Damaged { .. }), "{err:?}");
    let err = store.checkpoint().unwrap_err();
    assert!(matches!(err, synod_store::Error::Damaged { .. }), "{err:?}");
    // Reads still work, and nothing was added.
    assert_eq!(store.history("S", Page::first(10)).unwrap().len(), 1);
    assert!(store.unfinished_executions().unwrap().is_empty());
}

// A write-protected file is opened `immutable` through a `file:` URI: `%`, `?` and `#` in its
// path must reach SQLite as themselves, not as an escape, a query or a fragment.
#[test]
fn a_write_protected_store_opens_under_a_path_with_uri_characters() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("a%41b?c#d");
    fs::create_dir(&odd).unwrap();
    let path = odd.join("synod.db");
    let writer = Store::open(&path, Options::default()).unwrap();
    writer
        .record_stage(&run("S", "plan", 1), &[], &verdict(1))
        .unwrap();
    drop(writer);
    chmod(&path, 0o444);
    let reader = Store::open_read_only(&path, Options::default()).unwrap();
    assert_eq!(reader.history("S", Page::first(10)).unwrap().len(), 1);
    assert_eq!(reader.path(), path);
    drop(reader);
    chmod(&path, 0o644);
}

// A path that runs through a regular file is a wrong path, not a store yet to be created.
#[test]
fn a_path_through_a_regular_file_is_named_as_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    fs::write(&plain, "not a directory").unwrap();
    let path = plain.join("synod.db");
    let err = Store::open_read_only(&path, Options::default()).unwrap_err();
    match &err {
        synod_store::Error::Io {
            path: named,
            source,
        } => {
            assert_eq!(named, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory, "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.to_string().contains("no store file here"), "{err}");
}
