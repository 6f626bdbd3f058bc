//! The async store suite: every test in a `suite!` runs against both backends through
//! [`AnyStore`] (SQLite, and PostgreSQL with the `postgres` feature, on the synod-testpg
//! fixture's server); the SQLite-only behaviours (files, read-only opens, backups) follow.

mod common;
#[path = "common/backend.rs"]
#[macro_use]
mod backend;

use std::sync::Arc;

use common::{break_a_check_constraint, output, run, verdict};
use serde_json::json;
use synod_store::{
    AnyStore, AsyncStore, Error, EvidenceStore, NewOutput, Options, Page, SCHEMA_VERSION,
    StageRecord, Usage,
};

suite!(concurrent_async_writes_and_reads, |fresh| async move {
    let store = fresh.store.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8_i64 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in 0..20 {
                let outputs = vec![output("a", 1, true, 5), output("b", 1, false, 7)];
                store
                    .record_stage(run(&format!("A{t}"), "plan", i), outputs, verdict(i))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    for t in 0..8 {
        let history = store
            .history(format!("A{t}"), Page::first(100))
            .await
            .unwrap();
        assert_eq!(history.len(), 20);
        let latest = store
            .latest_verdict(format!("A{t}"), "plan")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.verdict, verdict(19));
        assert_eq!(store.outputs_for_run(latest.id).await.unwrap().len(), 2);
        assert_eq!(store.run(latest.id).await.unwrap().unwrap().id, latest.id);
    }
    let stats = store.agent_stats().await.unwrap();
    assert_eq!(stats.iter().map(|s| s.attempts).sum::<u64>(), 320);
    assert_eq!(
        store
            .outputs_for_agent("b", Page::first(5))
            .await
            .unwrap()
            .len(),
        5
    );
    let report = store.prune_before(10).await.unwrap();
    assert_eq!((report.runs, report.outputs), (80, 160));
    let e = store.execution_started("a", 1).await.unwrap();
    assert_eq!(store.unfinished_executions().await.unwrap().len(), 1);
    assert!(store.execution_finished(e, 2, "ok", None).await.unwrap());
    assert!(store.unfinished_executions().await.unwrap().is_empty());
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert!(store.spec("A0").await.unwrap().is_some());
    store.verify().await.unwrap();
    store.integrity_check().await.unwrap();
    if let Some(sqlite) = store.as_sqlite() {
        sqlite.incremental_vacuum(0).await.unwrap();
        assert!(sqlite.checkpoint().await.unwrap());
    }
});

suite!(
    a_stage_is_recorded_whole_with_its_executions,
    |fresh| async move {
        let store = fresh.store;
        let evidence: &dyn EvidenceStore = &store;
        let first = evidence.execution_started("claude", 1_000).await.unwrap();
        let second = evidence.execution_started("gemini", 1_001).await.unwrap();
        let mut with_usage = output("claude", 1, true, 900);
        with_usage.session_id = Some("sess-1".into());
        with_usage.model = Some("m-1".into());
        with_usage.usage = Some(Usage::new(1_200, 85, 1_000));
        with_usage.cost_usd = Some(0.0042);
        let outputs = vec![
            with_usage.clone(),
            output("gemini", 1, false, 50),
            output("gemini", 2, true, 700),
        ];
        let record = StageRecord::new(run("S-1", "plan", 1_000), outputs, verdict(1))
            .execution(first, "ok")
            .execution(second, "ok");
        let id = evidence.record_stage(Arc::new(record)).await.unwrap();
        let stored = store.outputs_for_run(id).await.unwrap();
        let order: Vec<_> = stored
            .iter()
            .map(|o| (o.agent.as_str(), o.attempt))
            .collect();
        assert_eq!(order, [("claude", 1), ("gemini", 1), ("gemini", 2)]);
        assert_eq!(stored[0].session_id.as_deref(), Some("sess-1"));
        assert_eq!(stored[0].model.as_deref(), Some("m-1"));
        assert_eq!(stored[0].usage, Some(Usage::new(1_200, 85, 1_000)));
        assert_eq!(stored[0].cost_usd, Some(0.0042));
        assert_eq!(stored[0].parsed_json, with_usage.parsed_json);
        assert_eq!(stored[1].usage, None);
        assert_eq!(stored[1].parsed_json, None);
        assert_eq!(stored[1].error.as_deref(), Some("exit status 1"));
        assert!(stored[0].id < stored[1].id && stored[1].id < stored[2].id);
        let executions = store.executions_for_run(id).await.unwrap();
        assert_eq!(executions.len(), 2);
        assert!(executions.iter().all(|e| e.completed_at == Some(1_100)));
        assert!(
            executions
                .iter()
                .all(|e| e.outcome.as_deref() == Some("ok"))
        );
        assert!(store.unfinished_executions().await.unwrap().is_empty());
        let spec = store.spec("S-1").await.unwrap().unwrap();
        assert_eq!((spec.stage.as_str(), spec.updated_at), ("plan", 1_100));
        // An older run of another stage does not move the spec back.
        store
            .record_stage(run("S-1", "draft", 10), vec![], verdict(0))
            .await
            .unwrap();
        assert_eq!(store.spec("S-1").await.unwrap().unwrap().stage, "plan");
        assert_eq!(
            store.run(id).await.unwrap().unwrap().verdict,
            verdict(1),
            "the verdict comes back as recorded"
        );
    }
);

suite!(
    runs_sharing_a_start_are_both_kept_newest_first,
    |fresh| async move {
        let store = fresh.store;
        let a = store
            .record_stage(run("S", "plan", 5), vec![], verdict(1))
            .await
            .unwrap();
        let b = store
            .record_stage(run("S", "plan", 5), vec![], verdict(2))
            .await
            .unwrap();
        assert_ne!(a, b);
        let history = store.history("S", Page::first(10)).await.unwrap();
        assert_eq!(history.iter().map(|r| r.id).collect::<Vec<_>>(), [b, a]);
        assert_eq!(
            store
                .latest_verdict("S", "plan")
                .await
                .unwrap()
                .map(|r| r.id),
            Some(b)
        );
        let second_page = store
            .history(
                "S",
                Page {
                    offset: 1,
                    limit: 1,
                },
            )
            .await
            .unwrap();
        assert_eq!(second_page.iter().map(|r| r.id).collect::<Vec<_>>(), [a]);
        assert!(
            store
                .run(synod_store::RunId(9_999))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.spec("nobody").await.unwrap().is_none());
    }
);

suite!(
    agent_stats_count_runs_successes_and_the_nearest_rank_p95,
    |fresh| async move {
        let store = fresh.store;
        // 20 attempts of `a` with durations 1..=20 over 10 runs, every 4th failing.
        for r in 0..10_i64 {
            let outputs = (0..2)
                .map(|k| {
                    let n = (r * 2 + k + 1) as u64;
                    output("a", k as u32 + 1, !n.is_multiple_of(4), n)
                })
                .collect();
            store
                .record_stage(run("S", "plan", r), outputs, verdict(r))
                .await
                .unwrap();
        }
        let stats = store.agent_stats().await.unwrap();
        assert_eq!(stats.len(), 1);
        let a = &stats[0];
        assert_eq!(
            (a.agent.as_str(), a.runs, a.attempts, a.successes),
            ("a", 10, 20, 15)
        );
        assert!((a.success_rate - 0.75).abs() < 1e-9);
        assert!((a.mean_duration_ms - 10.5).abs() < 1e-9);
        assert_eq!(a.p95_duration_ms, 19);
        assert!(AnyStore::agent_stats(&store).await.is_ok());
    }
);

suite!(
    outputs_for_an_unknown_run_are_refused_whole,
    |fresh| async move {
        let store = fresh.store;
        let id = store
            .record_stage(
                run("S", "plan", 1),
                vec![output("a", 1, true, 1)],
                verdict(1),
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .record_outputs(id, vec![output("a", 2, true, 2)])
                .await
                .unwrap(),
            1
        );
        let err = store
            .record_outputs(
                synod_store::RunId(id.0 + 1_000),
                vec![output("a", 3, true, 3)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Constraint { .. }), "{err:?}");
        assert_eq!(
            store
                .outputs_for_agent("a", Page::first(10))
                .await
                .unwrap()
                .len(),
            2
        );
        let too_long = NewOutput {
            duration_ms: u64::MAX,
            ..output("a", 4, true, 0)
        };
        let err = store
            .record_stage(run("S", "plan", 2), vec![too_long], verdict(2))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::OutOfRange { .. }), "{err:?}");
        assert_eq!(store.history("S", Page::first(10)).await.unwrap().len(), 1);
    }
);

suite!(
    prune_deletes_old_runs_their_outputs_and_finished_loose_executions,
    |fresh| async move {
        let store = fresh.store;
        let old = store
            .record_stage(
                run("S", "plan", 10),
                vec![output("a", 1, true, 1)],
                verdict(1),
            )
            .await
            .unwrap();
        let exec = store.execution_started("a", 10).await.unwrap();
        store
            .execution_finished(exec, 11, "ok", Some(old))
            .await
            .unwrap();
        let loose = store.execution_started("b", 5).await.unwrap();
        store
            .execution_finished(loose, 6, "crashed", None)
            .await
            .unwrap();
        let running = store.execution_started("c", 5).await.unwrap();
        let new = store
            .record_stage(
                run("S", "plan", 1_000),
                vec![output("a", 1, true, 1)],
                verdict(2),
            )
            .await
            .unwrap();
        // A dry run counts exactly what the prune then deletes, and deletes nothing.
        let counted = store.prunable_before(500).await.unwrap();
        assert_eq!(
            (counted.runs, counted.outputs, counted.executions),
            (1, 1, 2)
        );
        assert!(store.run(old).await.unwrap().is_some());
        assert_eq!(store.prunable_before(500).await.unwrap(), counted);
        let report = store.prune_before(500).await.unwrap();
        assert_eq!(report, counted);
        assert_eq!(
            store.prunable_before(500).await.unwrap(),
            synod_store::PruneReport::default()
        );
        assert!(store.run(old).await.unwrap().is_none());
        assert!(store.run(new).await.unwrap().is_some());
        let unfinished: Vec<_> = store
            .unfinished_executions()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(unfinished, [running], "an unfinished execution is kept");
        let by_age = store
            .prunable(std::time::Duration::from_secs(3_600))
            .await
            .unwrap();
        assert_eq!((by_age.runs, by_age.outputs), (1, 1));
        let none = store
            .prune(std::time::Duration::from_secs(3_600))
            .await
            .unwrap();
        assert_eq!(none.runs, 1, "a run from 1970 is older than an hour");
        assert_eq!(
            json!(store.history("S", Page::first(5)).await.unwrap().len()),
            json!(0)
        );
    }
);

#[tokio::test]
async fn open_errors_surface_through_async() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    std::fs::write(&path, b"junk").unwrap();
    let err = AsyncStore::open(&path, Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, synod_store::Error::NotADatabase { .. }),
        "{err:?}"
    );
    let err = AnyStore::open(&path.display().to_string(), Options::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err:?}");
}

#[tokio::test]
async fn the_full_check_through_the_async_handle_finds_damage() {
    let fresh = backend::sqlite().await;
    let store = &fresh.store;
    store
        .record_stage(run("S", "plan", 1), vec![], verdict(1))
        .await
        .unwrap();
    store.integrity_check().await.unwrap();
    break_a_check_constraint(&fresh.location);
    let sqlite = store.as_sqlite().unwrap();
    for err in [
        sqlite.quick_check().await.unwrap_err(),
        store.integrity_check().await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, Error::Corrupt { detail, .. } if detail.contains("CHECK constraint failed")),
            "{err:?}"
        );
    }
    // The checks left the damage mark: maintenance is refused from now on.
    let err = store.verify().await.unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err:?}");
}

// A reader holding an old snapshot keeps the WAL from being truncated: the checkpoint says
// so, and succeeds once the reader is done.
#[tokio::test]
async fn a_checkpoint_held_back_by_a_reader_says_so() {
    let fresh = backend::sqlite().await;
    let store = fresh.store.as_sqlite().unwrap();
    store
        .record_stage(run("S", "plan", 1), vec![], verdict(1))
        .await
        .unwrap();
    let reader = rusqlite::Connection::open(&fresh.location).unwrap();
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM consensus_runs;")
        .unwrap();
    store
        .record_stage(run("S", "plan", 2), vec![], verdict(2))
        .await
        .unwrap();
    assert!(
        !store.checkpoint().await.unwrap(),
        "held back by the reader"
    );
    reader.execute_batch("COMMIT").unwrap();
    assert!(store.checkpoint().await.unwrap());
}

#[tokio::test]
async fn sqlite_only_maintenance_works_on_sqlite() {
    let fresh = backend::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    fresh
        .store
        .record_stage(run("kept", "plan", 5_000), vec![], verdict(1))
        .await
        .unwrap();
    let copy = dir.path().join("copy.db");
    fresh.store.backup_to(&copy).await.unwrap();
    let copy = AnyStore::open(&copy.display().to_string(), Options::default())
        .await
        .unwrap();
    assert_eq!(copy.history("kept", Page::first(5)).await.unwrap().len(), 1);
    assert_eq!(fresh.store.incremental_vacuum(0).await.unwrap(), 0);
    let big = "x".repeat(64 * 1024);
    for i in 0..10 {
        let mut o = output("a", 1, true, 1);
        o.raw_output.clone_from(&big);
        fresh
            .store
            .record_stage(run("S", "plan", i), vec![o], verdict(i))
            .await
            .unwrap();
    }
    assert_eq!(fresh.store.prune_before(1_000).await.unwrap().runs, 10);
    let freed = fresh.store.incremental_vacuum(0).await.unwrap();
    assert!(
        freed > 100,
        "the pruned outputs' pages are returned: {freed}"
    );
    assert_eq!(fresh.store.incremental_vacuum(0).await.unwrap(), 0);
    assert_eq!(fresh.store.backend(), "SQLite");
    assert_eq!(
        EvidenceStore::location(&fresh.store).map(|p| p.display().to_string()),
        Some(fresh.location.clone())
    );
    assert_eq!(fresh.store.describe(), fresh.location);
}

#[tokio::test]
async fn in_memory_async() {
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = store
        .record_stage(run("M", "plan", 1), vec![], verdict(1))
        .await
        .unwrap();
    let blocking = store.blocking().clone();
    let got = tokio::task::spawn_blocking(move || blocking.run(id))
        .await
        .unwrap()
        .unwrap();
    assert!(got.is_some());
}

#[tokio::test]
async fn read_only_async_store_reads_verifies_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let writer = AsyncStore::open(&path, Options::default()).await.unwrap();
    writer
        .record_stage(
            run("R", "plan", 1),
            vec![output("a", 1, true, 5)],
            verdict(1),
        )
        .await
        .unwrap();
    drop(writer);
    let reader = AnyStore::open_read_only(&path.display().to_string(), Options::default())
        .await
        .unwrap();
    assert_eq!(reader.history("R", Page::first(5)).await.unwrap().len(), 1);
    let sqlite = reader.as_sqlite().unwrap();
    sqlite.quick_check().await.unwrap();
    reader.verify().await.unwrap();
    let err = reader
        .record_stage(run("R", "plan", 2), vec![], verdict(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, synod_store::Error::ReadOnly { .. }),
        "{err:?}"
    );
}
