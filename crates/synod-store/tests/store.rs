//! Behaviour of the blocking store against real SQLite files.

mod common;

use std::fs;

use common::{output, run, verdict};
use rusqlite::Connection;
use serde_json::json;
use synod_core::{Classify, ErrorClass};
use synod_store::{Error, Options, Page, RunId, SCHEMA_VERSION, Store};

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("synod.db"), Options::default()).expect("open");
    (dir, store)
}

#[test]
fn record_and_read_back() {
    let (_dir, store) = temp_store();
    let outputs = vec![
        output("a", 1, false, 50),
        output("a", 2, true, 70),
        output("b", 1, true, 30),
    ];
    let id = store
        .record_stage(&run("S1", "plan", 1_000), &outputs, &verdict(1))
        .unwrap();

    let got = store.run(id).unwrap().expect("run present");
    assert_eq!(got.spec_id, "S1");
    assert_eq!(got.stage, "plan");
    assert_eq!(got.started_at, 1_000);
    assert_eq!(got.finished_at, 1_100);
    assert_eq!(got.verdict, verdict(1));

    let stored = store.outputs_for_run(id).unwrap();
    assert_eq!(stored.len(), 3);
    for (s, o) in stored.iter().zip(&outputs) {
        assert_eq!(s.run_id, id);
        assert_eq!(s.agent, o.agent);
        assert_eq!(s.attempt, o.attempt);
        assert_eq!(s.exit_code, o.exit_code);
        assert_eq!(s.duration_ms, o.duration_ms);
        assert_eq!(s.raw_output, o.raw_output);
        assert_eq!(s.parsed_json, o.parsed_json);
        assert_eq!(s.error, o.error);
    }
    assert_eq!(store.spec("S1").unwrap().unwrap().stage, "plan");
    assert_eq!(store.run(RunId(id.0 + 100)).unwrap(), None);
    assert_eq!(store.latest_verdict("S1", "review").unwrap(), None);
}

#[test]
fn latest_history_and_stage() {
    let (_dir, store) = temp_store();
    let a = store
        .record_stage(&run("S", "plan", 10), &[], &verdict(1))
        .unwrap();
    let b = store
        .record_stage(&run("S", "plan", 30), &[], &verdict(2))
        .unwrap();
    let c = store
        .record_stage(&run("S", "review", 20), &[], &verdict(3))
        .unwrap();
    store
        .record_stage(&run("other", "plan", 40), &[], &verdict(4))
        .unwrap();

    assert_eq!(store.latest_verdict("S", "plan").unwrap().unwrap().id, b);
    assert_eq!(
        store
            .latest_verdict("S", "review")
            .unwrap()
            .unwrap()
            .verdict,
        verdict(3)
    );

    let ids = |page| {
        store
            .history("S", page)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(Page::first(10)), vec![b, c, a]);
    assert_eq!(ids(Page::first(2)), vec![b, c]);
    assert_eq!(ids(Page::first(2).next()), vec![a]);
    assert!(ids(Page::first(2).next().next()).is_empty());

    // The spec's stage follows the run that finished last, not the one recorded last.
    assert_eq!(store.spec("S").unwrap().unwrap().stage, "plan");
    store
        .record_stage(&run("S", "review", 5), &[], &verdict(5))
        .unwrap();
    assert_eq!(store.spec("S").unwrap().unwrap().stage, "plan");
    store
        .record_stage(&run("S", "review", 50), &[], &verdict(6))
        .unwrap();
    let spec = store.spec("S").unwrap().unwrap();
    assert_eq!((spec.stage.as_str(), spec.updated_at), ("review", 150));
}

#[test]
fn runs_sharing_a_start_time_are_both_kept_with_their_true_start() {
    let (_dir, store) = temp_store();
    let first = store
        .record_stage(
            &run("S", "plan", 10),
            &[output("a", 1, true, 1)],
            &verdict(1),
        )
        .unwrap();
    let second = store
        .record_stage(
            &run("S", "plan", 10),
            &[output("a", 1, true, 1)],
            &verdict(2),
        )
        .unwrap();
    assert_ne!(first, second);
    let history = store.history("S", Page::default()).unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|r| r.started_at == 10));
    // The later insert is the latest verdict of a tie.
    assert_eq!(
        store.latest_verdict("S", "plan").unwrap().map(|r| r.id),
        Some(second)
    );
    assert_eq!(
        store.outputs_for_agent("a", Page::default()).unwrap().len(),
        2
    );
}

#[test]
fn outputs_by_agent_and_stats() {
    let (_dir, store) = temp_store();
    let r1 = store
        .record_stage(
            &run("S", "plan", 1),
            &[output("a", 1, false, 100), output("a", 2, true, 300)],
            &verdict(1),
        )
        .unwrap();
    let r2 = store
        .record_stage(
            &run("S", "plan", 2),
            &[output("a", 1, true, 200)],
            &verdict(2),
        )
        .unwrap();
    let extra: Vec<_> = (1..=17)
        .map(|i| output("b", i, true, u64::from(i) * 10))
        .collect();
    assert_eq!(store.record_outputs(r2, &extra).unwrap(), 17);

    let a = store.outputs_for_agent("a", Page::default()).unwrap();
    assert_eq!(
        a.iter().map(|o| (o.run_id, o.attempt)).collect::<Vec<_>>(),
        vec![(r2, 1), (r1, 2), (r1, 1)]
    );
    let b_page = store
        .outputs_for_agent(
            "b",
            Page {
                offset: 2,
                limit: 3,
            },
        )
        .unwrap();
    assert_eq!(
        b_page.iter().map(|o| o.attempt).collect::<Vec<_>>(),
        vec![15, 14, 13]
    );

    let stats = store.agent_stats().unwrap();
    assert_eq!(stats.len(), 2);
    let a = &stats[0];
    assert_eq!(
        (a.agent.as_str(), a.runs, a.attempts, a.successes),
        ("a", 2, 3, 2)
    );
    assert!((a.success_rate - 2.0 / 3.0).abs() < 1e-9);
    assert!((a.mean_duration_ms - 200.0).abs() < 1e-9);
    assert_eq!(a.p95_duration_ms, 300);
    let b = &stats[1];
    assert_eq!((b.runs, b.attempts, b.successes), (1, 17, 17));
    // nearest rank: ceil(0.95 * 17) = 17th of 10..=170
    assert_eq!(b.p95_duration_ms, 170);
    assert!((b.mean_duration_ms - 90.0).abs() < 1e-9);
}

#[test]
fn executions_are_tracked() {
    let (_dir, store) = temp_store();
    let e1 = store.execution_started("a", 100).unwrap();
    let e2 = store.execution_started("b", 50).unwrap();
    let id = store
        .record_stage(&run("S", "plan", 10), &[], &verdict(1))
        .unwrap();
    assert_eq!(
        store
            .unfinished_executions()
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        vec![e2, e1]
    );
    assert!(
        store
            .execution_finished(e1, 200, "exited 0", Some(id))
            .unwrap()
    );
    assert!(
        !store
            .execution_finished(synod_store::ExecutionId(999), 200, "x", None)
            .unwrap()
    );
    let unfinished = store.unfinished_executions().unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].agent, "b");
    let attached = store.executions_for_run(id).unwrap();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].outcome.as_deref(), Some("exited 0"));
    assert_eq!(attached[0].completed_at, Some(200));
}

#[test]
fn prune_removes_exactly_the_old_runs() {
    let (_dir, store) = temp_store();
    let mut old = Vec::new();
    let mut young = Vec::new();
    for i in 0..40_i64 {
        let outputs = vec![output("a", 1, true, 10), output("b", 1, i % 3 != 0, 20)];
        let started = 1_000 + i * 10; // 1000..=1390
        let id = store
            .record_stage(
                &run(&format!("S{}", i % 4), "plan", started),
                &outputs,
                &verdict(i),
            )
            .unwrap();
        if started < 1_200 {
            old.push(id);
        } else {
            young.push(id);
        }
    }
    let loose_done = store.execution_started("a", 1_100).unwrap();
    store
        .execution_finished(loose_done, 1_150, "ok", None)
        .unwrap();
    let loose_running = store.execution_started("a", 1_100).unwrap();
    let attached = store.execution_started("a", 1_300).unwrap();
    store
        .execution_finished(attached, 1_310, "ok", Some(old[0]))
        .unwrap();

    // Counted first through a read-only store: the dry run needs no write access.
    let reader = Store::open_read_only(store.path(), Options::default()).unwrap();
    let counted = reader.prunable_before(1_200).unwrap();
    let report = store.prune_before(1_200).unwrap();
    assert_eq!(counted, report);
    assert_eq!(report.runs, old.len() as u64);
    assert_eq!(report.outputs, 2 * old.len() as u64);
    assert_eq!(report.executions, 2);
    for id in &old {
        assert_eq!(store.run(*id).unwrap(), None);
        assert!(store.outputs_for_run(*id).unwrap().is_empty());
    }
    for id in &young {
        assert!(store.run(*id).unwrap().is_some());
        assert_eq!(store.outputs_for_run(*id).unwrap().len(), 2);
    }
    let unfinished = store.unfinished_executions().unwrap();
    assert_eq!(
        unfinished.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![loose_running]
    );
    assert_eq!(
        store.prune_before(1_200).unwrap(),
        synod_store::PruneReport::default()
    );
    let _ = store.incremental_vacuum(0).unwrap();
    store.integrity_check().unwrap();
}

#[test]
fn prune_then_vacuum_shrinks_the_file() {
    let (dir, store) = temp_store();
    let big = "x".repeat(64 * 1024);
    for i in 0..30 {
        let mut o = output("a", 1, true, 1);
        o.raw_output.clone_from(&big);
        store
            .record_stage(&run("S", "plan", i), &[o], &verdict(i))
            .unwrap();
    }
    store.checkpoint().unwrap();
    let path = dir.path().join("synod.db");
    let before = fs::metadata(&path).unwrap().len();
    assert_eq!(store.prune_before(1_000).unwrap().runs, 30);
    let freed = store.incremental_vacuum(0).unwrap();
    assert!(freed > 400, "freed {freed} pages");
    assert!(store.checkpoint().unwrap());
    let after = fs::metadata(&path).unwrap().len();
    assert!(
        after < before / 4,
        "file went from {before} to {after} bytes"
    );
}

#[test]
fn pragmas_and_file_setup() {
    let (dir, store) = temp_store();
    drop(store);
    let conn = Connection::open(dir.path().join("synod.db")).unwrap();
    let q = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
            .unwrap()
    };
    assert_eq!(
        q("PRAGMA journal_mode"),
        rusqlite::types::Value::Text("wal".into())
    );
    assert_eq!(q("PRAGMA auto_vacuum"), rusqlite::types::Value::Integer(2));
    assert_eq!(
        q("PRAGMA user_version"),
        rusqlite::types::Value::Integer(SCHEMA_VERSION)
    );
}

#[test]
fn rollback_journal_file_is_converted_to_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (42);")
            .unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
    }
    let store = Store::open(&path, Options::default()).unwrap();
    store
        .record_stage(&run("S", "plan", 1), &[], &verdict(1))
        .unwrap();
    drop(store);
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let av: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        .unwrap();
    assert_eq!(av, 2);
    let x: i64 = conn
        .query_row("SELECT x FROM unrelated", [], |r| r.get(0))
        .unwrap();
    assert_eq!(x, 42);
}

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/synod.db");
    let id = {
        let store = Store::open(&path, Options::default()).unwrap();
        store
            .record_stage(
                &run("S", "plan", 1),
                &[output("a", 1, true, 5)],
                &verdict(7),
            )
            .unwrap()
    };
    let store = Store::open(&path, Options::default()).unwrap();
    assert_eq!(store.run(id).unwrap().unwrap().verdict, verdict(7));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn not_a_database_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    let before = snapshot(dir.path());
    let err = Store::open(&path, Options::default()).unwrap_err();
    assert!(
        matches!(&err, Error::NotADatabase { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("notes.db"), "{err}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(
        snapshot(dir.path()),
        before,
        "the file or its directory changed"
    );
}

#[test]
fn truncated_database_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    {
        let store = Store::open(&good, Options::default()).unwrap();
        for i in 0..50 {
            let mut o = output("a", 1, true, 1);
            o.raw_output = "y".repeat(2_000);
            store
                .record_stage(&run("S", "plan", i), &[o], &verdict(i))
                .unwrap();
        }
    }
    let bytes = fs::read(&good).unwrap();
    assert!(
        bytes.len() > 8 * 4096,
        "database too small for the test: {}",
        bytes.len()
    );
    for cut in [50, 4096 * 3, 4096 * 5 + 123, bytes.len() - 4096] {
        let case = tempfile::tempdir().unwrap();
        let path = case.path().join("cut.db");
        fs::write(&path, &bytes[..cut]).unwrap();
        let before = snapshot(case.path());
        let err = Store::open(&path, Options::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt { path: p, .. } if p == &path),
            "cut at {cut}: {err:?}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert_eq!(
            snapshot(case.path()),
            before,
            "cut at {cut}: the directory changed"
        );
    }
}

#[test]
fn schema_too_new_is_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Store::open(&path, Options::default()).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
        // Move everything into the main file now, so that no later close (ours or a pooled
        // connection of the first store finishing late) checkpoints it while we compare bytes.
        checkpoint_fully(&conn);
    }
    let before = fs::read(&path).unwrap();
    let err = Store::open(&path, Options::default()).unwrap_err();
    match &err {
        Error::SchemaTooNew {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (SCHEMA_VERSION + 5, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(err.to_string().contains("future.db"));
    assert_eq!(fs::read(&path).unwrap(), before, "the file changed");
    // A brand-new file with an unknown version set before our first open is refused too.
    let fresh = dir.path().join("fresh.db");
    {
        let conn = Connection::open(&fresh).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
    }
    let before = fs::read(&fresh).unwrap();
    assert!(matches!(
        Store::open(&fresh, Options::default()),
        Err(Error::SchemaTooNew { found: 99, .. })
    ));
    assert_eq!(fs::read(&fresh).unwrap(), before);
}

#[test]
fn in_memory_store_is_shared_across_connections() {
    let store = Store::open_in_memory_with(Options {
        pool_size: 3,
        max_idle_readers: 4,
        ..Options::default()
    })
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    store
                        .record_stage(
                            &run(&format!("T{t}"), "plan", i),
                            &[output("a", 1, true, 1)],
                            &verdict(i),
                        )
                        .unwrap();
                    assert!(
                        store
                            .latest_verdict(&format!("T{t}"), "plan")
                            .unwrap()
                            .is_some()
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in 0..4 {
        assert_eq!(
            store
                .history(&format!("T{t}"), Page::first(100))
                .unwrap()
                .len(),
            25
        );
    }
    assert_eq!(store.agent_stats().unwrap()[0].attempts, 100);
    // Two in-memory stores are separate databases.
    let other = Store::open_in_memory().unwrap();
    assert!(other.history("T0", Page::default()).unwrap().is_empty());
}

#[test]
fn backup_is_a_usable_copy() {
    let (dir, store) = temp_store();
    let id = store
        .record_stage(
            &run("S", "plan", 1),
            &[output("a", 1, true, 5)],
            &verdict(3),
        )
        .unwrap();
    let dest = dir.path().join("backups/copy.db");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    store.backup_to(&dest).unwrap();
    // the store keeps working, and the copy does not see later writes
    store
        .record_stage(&run("S", "plan", 2), &[], &verdict(4))
        .unwrap();
    let copy = Store::open(&dest, Options::default()).unwrap();
    copy.integrity_check().unwrap();
    assert_eq!(copy.run(id).unwrap().unwrap().verdict, verdict(3));
    assert_eq!(copy.outputs_for_run(id).unwrap().len(), 1);
    assert_eq!(copy.history("S", Page::default()).unwrap().len(), 1);
}

fn assert_no_full_scan(conn: &Connection, state: &str) {
    for (name, sql) in synod_store::store::PUBLIC_QUERIES {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params: Vec<rusqlite::types::Value> = (0..stmt.parameter_count())
            .map(|_| rusqlite::types::Value::Integer(1))
            .collect();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!plan.is_empty(), "{name}: no plan");
        for line in &plan {
            // `SCAN CONSTANT ROW` is the one row a SELECT of subqueries reads: no table.
            let scan = line.starts_with("SCAN ")
                && !line.contains(" USING ")
                && line != "SCAN CONSTANT ROW";
            assert!(
                !scan,
                "{name} ({state}): full table scan `{line}` in plan {plan:?} of {sql}"
            );
        }
    }
}

#[test]
fn every_public_query_uses_an_index() {
    let (dir, store) = temp_store();
    let path = dir.path().join("synod.db");
    // Without statistics.
    assert_no_full_scan(&Connection::open(&path).unwrap(), "empty, no statistics");
    // With data and statistics (small tables tempt the planner towards scans).
    for i in 0..50 {
        let outputs = [output("a", 1, true, 5), output("b", 1, i % 2 == 0, 7)];
        store
            .record_stage(
                &run(&format!("S{}", i % 5), "plan", i),
                &outputs,
                &verdict(i),
            )
            .unwrap();
    }
    let e = store.execution_started("a", 1).unwrap();
    store.execution_finished(e, 2, "ok", None).unwrap();
    drop(store);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("ANALYZE").unwrap();
    assert_no_full_scan(&conn, "50 runs, analyzed");
}

#[test]
fn unusual_values_round_trip() {
    let (_dir, store) = temp_store();
    let mut o = output(
        "ågent \u{1F916}",
        7,
        false,
        u64::try_from(i64::MAX).unwrap(),
    );
    o.exit_code = None;
    o.raw_output = "line\0with nul and \u{FFFD}".into();
    o.parsed_json = Some(json!({"deep": {"list": [1, 2.5, null, "x"]}}));
    let id = store
        .record_stage(
            &run("spec with spaces", "stage/1", -5),
            &[o.clone()],
            &json!(null),
        )
        .unwrap();
    let back = &store.outputs_for_run(id).unwrap()[0];
    assert_eq!((back.exit_code, back.duration_ms), (None, o.duration_ms));
    assert_eq!(back.raw_output, o.raw_output);
    assert_eq!(back.parsed_json, o.parsed_json);
    assert_eq!(store.run(id).unwrap().unwrap().verdict, json!(null));
    let mut too_long = o;
    too_long.duration_ms = u64::MAX;
    assert!(matches!(
        store.record_outputs(id, &[too_long]),
        Err(Error::OutOfRange {
            what: "duration_ms",
            ..
        })
    ));
}

#[test]
fn conversion_to_wal_that_cannot_happen_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.db");
    let holder = Connection::open(&path).unwrap();
    holder
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    // Another program in the middle of a read keeps the rollback-journal file from switching.
    holder.execute_batch("BEGIN; SELECT * FROM t;").unwrap();
    let options = Options {
        busy_timeout: std::time::Duration::from_millis(100),
        ..Options::default()
    };
    let err = Store::open(&path, options).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Busy {
                operation: "set journal_mode",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Transient);
    assert!(err.to_string().contains("journal_mode"), "{err}");
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    // Once the other program is done, the same open converts the file.
    let store = Store::open(&path, Options::default()).unwrap();
    store.integrity_check().unwrap();
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` until no reader holds it back (bounded: 10 s).
fn checkpoint_fully(conn: &Connection) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .unwrap();
        if busy == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "checkpoint stayed busy for 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
