//! Edges of the query layer against real SQLite files: what counts as a success in the agent
//! figures, paging, pruning by age, and what the store says about values it cannot read.

mod common;

use std::time::Duration;

use common::{break_a_check_constraint, output, run, verdict};
use rusqlite::Connection;
use synod_store::{Error, ExecutionId, NewOutput, Options, Page, RunId, Store, now_millis};

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("synod.db"), Options::default()).expect("open");
    (dir, store)
}

fn attempt(agent: &str, exit_code: Option<i32>, error: Option<&str>) -> NewOutput {
    NewOutput {
        exit_code,
        error: error.map(str::to_owned),
        ..output(agent, 1, true, 10)
    }
}

#[test]
fn a_success_is_exit_code_zero_without_an_error_in_the_output_and_in_the_figures() {
    let cases = [
        ("clean", Some(0), None, true),
        ("zero-but-error", Some(0), Some("invalid JSON"), false),
        ("failed-quietly", Some(1), None, false),
        ("failed-loudly", Some(2), Some("exit status 2"), false),
        ("killed", None, None, false),
    ];
    let (_dir, store) = temp_store();
    let outputs: Vec<NewOutput> = cases
        .iter()
        .map(|(agent, code, error, _)| attempt(agent, *code, *error))
        .collect();
    for (o, (agent, _, _, want)) in outputs.iter().zip(&cases) {
        assert_eq!(o.succeeded(), *want, "{agent}");
    }
    store
        .record_stage(&run("S", "plan", 1), &outputs, &verdict(1))
        .unwrap();
    // The figures count exactly the attempts `succeeded` calls successes.
    let stats = store.agent_stats().unwrap();
    for (agent, _, _, want) in cases {
        let figures = stats.iter().find(|s| s.agent == agent).expect(agent);
        assert_eq!(figures.successes, u64::from(want), "{agent}");
        assert_eq!(figures.attempts, 1, "{agent}");
    }
}

#[test]
fn paging_through_a_history_visits_every_run_once_newest_first() {
    let (_dir, store) = temp_store();
    let ids: Vec<RunId> = (0..7)
        .map(|i| {
            store
                .record_stage(&run("S", "plan", 100 + i), &[], &verdict(i))
                .unwrap()
        })
        .collect();
    let first = Page::first(3);
    assert_eq!(
        first,
        Page {
            offset: 0,
            limit: 3
        }
    );
    let mut seen = Vec::new();
    let mut page = first;
    loop {
        let runs = store.history("S", page).unwrap();
        if runs.is_empty() {
            break;
        }
        assert!(runs.len() <= 3);
        seen.extend(runs.iter().map(|r| r.id));
        page = page.next();
        assert!(seen.len() <= ids.len(), "paging does not move on: {page:?}");
    }
    let newest_first: Vec<RunId> = ids.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(
        Page::first(3).next().next(),
        Page {
            offset: 6,
            limit: 3
        }
    );
    assert_eq!(
        Page {
            offset: u32::MAX - 1,
            limit: 5
        }
        .next(),
        Page {
            offset: u32::MAX,
            limit: 5
        }
    );
}

#[test]
fn prune_by_age_counts_back_from_now() {
    let (_dir, store) = temp_store();
    let now = now_millis();
    let day = 86_400_000;
    assert!(now > 1_700_000_000_000, "the clock reads {now}");
    let old = store
        .record_stage(
            &run("S", "plan", now - 3 * day),
            &[output("a", 1, true, 5)],
            &verdict(1),
        )
        .unwrap();
    let fresh = store
        .record_stage(
            &run("S", "plan", now - day / 2),
            &[output("a", 1, true, 5)],
            &verdict(2),
        )
        .unwrap();
    // Nobody else holds the database: no write had to wait and retry.
    assert_eq!(store.busy_retries(), 0);
    let report = store.prune(Duration::from_secs(86_400)).unwrap();
    assert_eq!((report.runs, report.outputs), (1, 1));
    assert_eq!(store.run(old).unwrap(), None);
    assert!(store.run(fresh).unwrap().is_some());
    // Nothing is older than ten years here.
    assert_eq!(
        store
            .prune(Duration::from_secs(10 * 365 * 86_400))
            .unwrap()
            .runs,
        0
    );
}

#[test]
fn ids_print_as_their_number() {
    assert_eq!(RunId(42).to_string(), "42");
    assert_eq!(ExecutionId(-7).to_string(), "-7");
    assert_eq!(format!("run {}", RunId(0)), "run 0");
}

#[test]
fn a_verdict_that_is_not_json_names_its_run() {
    let (dir, store) = temp_store();
    let id = store
        .record_stage(
            &run("S", "plan", 5),
            &[output("a", 1, true, 1)],
            &verdict(1),
        )
        .unwrap();
    let conn = Connection::open(dir.path().join("synod.db")).unwrap();
    conn.execute(
        "UPDATE consensus_runs SET verdict_json = 'not json' WHERE id = ?1",
        [id.0],
    )
    .unwrap();
    conn.execute(
        "UPDATE agent_outputs SET parsed_json = '{' WHERE run_id = ?1",
        [id.0],
    )
    .unwrap();
    drop(conn);
    let err = store.run(id).unwrap_err();
    assert!(
        matches!(&err, Error::Json { what, .. } if *what == format!("verdict_json of run {id}")),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("run {}", id.0)), "{err}");
    let err = store.latest_verdict("S", "plan").unwrap_err();
    assert!(matches!(err, Error::Json { .. }), "{err:?}");
    let err = store.outputs_for_run(id).unwrap_err();
    assert!(
        matches!(&err, Error::Json { what, .. } if what.starts_with("parsed_json of output ")),
        "{err:?}"
    );
}

#[test]
fn debug_output_names_the_file_and_never_the_contents() {
    let (dir, store) = temp_store();
    // The connection that opened (and checked) the file stays open, idle, for the first write.
    let opened = format!("{store:?}");
    assert!(
        opened.contains("open_connections: 1, idle_connections: 1, waiting_for_connection: 0"),
        "{opened}"
    );
    store
        .record_stage(&run("SPEC-SECRET", "plan", 5), &[], &verdict(1))
        .unwrap();
    let shown = format!("{store:?}");
    assert!(shown.starts_with("Store {"), "{shown}");
    assert!(
        shown.contains(&format!("{:?}", dir.path().join("synod.db"))),
        "{shown}"
    );
    // One read-write connection, idle between writes.
    assert!(
        shown.contains("open_connections: 1, idle_connections: 1"),
        "{shown}"
    );
    assert!(!shown.contains("SPEC-SECRET"), "{shown}");
}

/// A store with enough rows, and queries through its indexes, that SQLite's `PRAGMA
/// optimize` on close finds statistics worth gathering.
fn busy_store(path: &std::path::Path) -> Store {
    let store = Store::open(path, Options::default()).unwrap();
    for i in 0..100 {
        store
            .record_stage(
                &run(&format!("S{i}"), "plan", i),
                &[output("a", 1, true, 5)],
                &verdict(i),
            )
            .unwrap();
    }
    store.history("S1", Page::first(5)).unwrap();
    store.agent_stats().unwrap();
    store
}

fn has_planner_statistics(path: &std::path::Path) -> bool {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

#[test]
fn closing_a_store_leaves_query_planner_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    drop(busy_store(&path));
    assert!(has_planner_statistics(&path));
}

#[test]
fn a_dropped_store_is_closed_whole_before_drop_returns() {
    // Closing runs `PRAGMA optimize` (statistics into the WAL) and then the last connection's
    // checkpoint, which moves them into the file and removes `-wal` and `-shm`. All of it must
    // be done when `drop` returns: a process may exit, or copy the file, right after.
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synod.db");
        drop(busy_store(&path));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["synod.db"], "round {round}");
        let closed = std::fs::read(&path).unwrap();
        assert!(has_planner_statistics(&path), "round {round}");
        assert_eq!(std::fs::read(&path).unwrap(), closed, "round {round}");
    }
}

#[test]
fn closing_a_store_another_process_marked_damaged_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let store = busy_store(&path);
    let marker = dir.path().join("synod.db.damaged");
    std::fs::write(&marker, "quick_check found: page 7 is never used\n").unwrap();
    assert!(store.damage_mark().is_some());
    drop(store);
    std::fs::remove_file(&marker).unwrap();
    assert!(!has_planner_statistics(&path));
}

#[test]
fn incremental_vacuum_returns_exactly_the_pages_it_freed() {
    let (_dir, store) = temp_store();
    let big = "x".repeat(64 * 1024);
    for i in 0..10 {
        let mut o = output("a", 1, true, 1);
        o.raw_output.clone_from(&big);
        store
            .record_stage(&run("S", "plan", i), &[o], &verdict(i))
            .unwrap();
    }
    assert_eq!(store.prune_before(1_000).unwrap().runs, 10);
    assert_eq!(store.incremental_vacuum(10).unwrap(), 10);
    let rest = store.incremental_vacuum(0).unwrap();
    assert!(rest > 100, "freed {rest} more pages");
    assert_eq!(store.incremental_vacuum(0).unwrap(), 0);
}

#[test]
fn a_single_problem_found_by_the_integrity_check_is_damage() {
    let (dir, store) = temp_store();
    store
        .record_stage(&run("S", "plan", 1), &[], &verdict(1))
        .unwrap();
    store.integrity_check().unwrap();
    break_a_check_constraint(dir.path().join("synod.db"));
    let err = store.integrity_check().unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { detail, .. } if detail.contains("CHECK constraint failed")
            && !detail.contains(';')),
        "{err:?}"
    );
    assert!(store.damage_mark().is_some());
}

#[test]
fn a_write_that_breaks_a_constraint_fails_at_once_without_retrying() {
    let (_dir, store) = temp_store();
    let err = store
        .record_outputs(RunId(404), &[output("a", 1, true, 1)])
        .unwrap_err();
    // SQLite's foreign-key message names no constraint: the kind is the name.
    assert!(
        matches!(&err, Error::Constraint { name, .. } if name == "FOREIGN KEY"),
        "{err:?}"
    );
    // Only a locked database is worth retrying; a constraint failure is not.
    assert_eq!(store.busy_retries(), 0);
    assert!(
        store
            .outputs_for_agent("a", Page::default())
            .unwrap()
            .is_empty()
    );
}

// A trigger someone added that refuses writes (`RAISE(ABORT, ...)`) is a constraint too,
// named by its own words.
#[test]
fn a_trigger_that_refuses_a_write_is_named_by_its_message() {
    let (dir, store) = temp_store();
    let conn = Connection::open(dir.path().join("synod.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER frozen BEFORE INSERT ON consensus_runs \
         BEGIN SELECT RAISE(ABORT, 'runs are frozen'); END;",
    )
    .unwrap();
    drop(conn);
    let err = store
        .record_stage(&run("S", "plan", 1), &[], &verdict(1))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Constraint { name, detail } if name == "runs are frozen" && detail == name),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "constraint runs are frozen rejected the write: runs are frozen"
    );
}
