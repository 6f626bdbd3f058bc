//! The async facade: same pool, every call on the blocking pool.

mod common;

use common::{output, run, verdict};
use synod_store::{AsyncStore, Options, Page};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_async_writes_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = AsyncStore::open(dir.path().join("async.db"), Options::default())
        .await
        .unwrap();
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
    store.incremental_vacuum(0).await.unwrap();
    store.integrity_check().await.unwrap();
    assert!(store.checkpoint().await.unwrap());
    store.backup_to(dir.path().join("copy.db")).await.unwrap();
    let e = store.execution_started("a", 1).await.unwrap();
    assert_eq!(store.unfinished_executions().await.unwrap().len(), 1);
    assert!(store.execution_finished(e, 2, "ok", None).await.unwrap());
    assert_eq!(
        store.schema_version().await.unwrap(),
        synod_store::SCHEMA_VERSION
    );
    assert!(store.spec("A0").await.unwrap().is_some());
}

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
    let reader = AsyncStore::open_read_only(&path, Options::default())
        .await
        .unwrap();
    assert_eq!(reader.history("R", Page::first(5)).await.unwrap().len(), 1);
    reader.quick_check().await.unwrap();
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
