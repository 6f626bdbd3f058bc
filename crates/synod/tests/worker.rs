//! A worker whose lease is taken over mid-stage: its heartbeat finds out, its agents are
//! stopped, and nothing it ran is recorded; the new holder records the job once.
#![cfg(all(unix, feature = "orchestrator"))]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use synod::orchestrator::{JobOutcome, Plan, SynodConfig, Worker, WorkerOptions};
use synod::store::{
    AsyncStore, JobState, NewJob, NewRun, Options, Page, StageRecord, Store, now_millis,
};
use tokio_util::sync::CancellationToken;

fn config(dir: &Path) -> SynodConfig {
    let dir = dir.display();
    toml::from_str(&format!(
        r#"
[[agents]]
name = "held"
command = "sh"
args = ["-c", '''cat >/dev/null; touch "{dir}/started"; while [ -e "{dir}/hold" ]; do sleep 0.02; done; echo '{{"answer": 1}}' ''']
timeout = "20s"
kill_grace = "100ms"

[[stages]]
name = "slow"
prompt = "Answer for {{spec_id}}."
"#
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_over_mid_stage_stops_the_agents_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    std::fs::write(dir.path().join("hold"), "").unwrap();
    let store = AsyncStore::open(&path, Options::default()).await.unwrap();
    let id = synod::store::JobQueue::submit(&store, NewJob::new("L-1", "slow"))
        .await
        .unwrap();
    let outcomes: Arc<Mutex<Vec<JobOutcome>>> = Arc::default();
    let seen = Arc::clone(&outcomes);
    let options = WorkerOptions::new("slow")
        .lease(Duration::from_millis(600))
        .once(true);
    let worker = Worker::new(
        Plan::new(config(dir.path()), ".").unwrap(),
        Arc::new(store.clone()),
        options,
    )
    .on_job(Arc::new(move |_, outcome| {
        seen.lock().unwrap().push(outcome.clone());
    }));
    let running = tokio::spawn(async move { worker.run(&CancellationToken::new()).await });

    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.path().join("started").exists() {
        assert!(Instant::now() < deadline, "the agent never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another worker takes the job over as if the lease had expired (its clock is ahead).
    let thief = Store::open(&path, Options::default()).unwrap();
    let stolen = thief
        .claim_job_at("thief", Duration::from_secs(60), now_millis() + 60_000)
        .unwrap()
        .expect("the running job is claimable once its lease is over");
    assert_eq!((stolen.id(), stolen.job.tries), (id, 2));

    let report = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the worker stops once its lease is lost")
        .unwrap()
        .unwrap();
    assert_eq!((report.lost, report.completed), (1, 0), "{report:?}");
    assert_eq!(*outcomes.lock().unwrap(), vec![JobOutcome::Lost]);
    assert!(thief.history("L-1", Page::first(5)).unwrap().is_empty());

    // The holder records it, once.
    let run = NewRun {
        spec_id: "L-1".into(),
        stage: "slow".into(),
        started_at: 1,
        finished_at: 2,
        status: "ok".into(),
    };
    thief
        .complete_job(
            &stolen,
            &StageRecord::new(run, vec![], serde_json::json!({})),
        )
        .unwrap();
    let job = thief.job(id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);
    assert_eq!(job.lease_owner.as_deref(), Some("thief"));
    assert_eq!(thief.history("L-1", Page::first(5)).unwrap().len(), 1);
}
