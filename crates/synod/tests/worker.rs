//! A worker whose lease is taken over mid-stage: its heartbeat finds out, its agents are
//! stopped, and nothing it ran is recorded; the new holder records the job once.
#![cfg(all(unix, feature = "orchestrator"))]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use synod::orchestrator::{JobOutcome, Plan, StageStatus, SynodConfig, Worker, WorkerOptions};
use synod::store::{
    AsyncStore, ClaimedJob, EvidenceStore, ExecutionId, Job, JobId, JobQueue, JobState, NewJob,
    NewRun, Options, Page, RunId, StageRecord, Store, StoreFuture, UnixMillis, now_millis,
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

// ------------------------------------------------------------------ a worker's whole life

/// An agent that answers only when the worker passed `MARK=yes` to it.
const MARKED: &str = r#"
[[agents]]
name = "a"
command = "sh"
args = ["-c", '''cat >/dev/null; [ "$MARK" = yes ] || exit 3; echo '{"answer": 1}' ''']
retry = { max_attempts = 1 }

[[stages]]
name = "ask"
prompt = "Answer for {spec_id}."
"#;

fn plan(toml_text: &str) -> Plan {
    Plan::new(toml::from_str::<SynodConfig>(toml_text).unwrap(), ".").unwrap()
}

type Seen = Arc<Mutex<Vec<(synod::store::ClaimedJob, JobOutcome)>>>;

fn listener(seen: &Seen) -> synod::orchestrator::JobListener {
    let seen = Arc::clone(seen);
    Arc::new(move |job, outcome| seen.lock().unwrap().push((job.clone(), outcome.clone())))
}

fn counts(report: &synod::orchestrator::WorkerReport) -> [u64; 5] {
    [
        report.completed,
        report.failed,
        report.dead,
        report.released,
        report.lost,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_is_run_once_by_the_slots_recorded_and_counted() {
    let store = AsyncStore::open_in_memory().await.unwrap();
    for spec in ["S-1", "S-2", "S-3"] {
        JobQueue::submit(&store, NewJob::new(spec, "ask"))
            .await
            .unwrap();
    }
    let seen = Seen::default();
    let worker = Worker::new(
        plan(MARKED),
        Arc::new(store.clone()),
        WorkerOptions::new("w").concurrency(2).once(true),
    )
    .agent_env("MARK", "yes")
    .on_job(listener(&seen));

    let report = worker.run(&CancellationToken::new()).await.unwrap();

    assert_eq!(counts(&report), [3, 0, 0, 0, 0], "{report:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let mut owners = std::collections::BTreeSet::new();
    for (claimed, outcome) in seen.iter() {
        let JobOutcome::Done { run, status } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(*status, StageStatus::Ok, "the agents got MARK=yes");
        assert_eq!(outcome.to_string(), format!("done: run {run}, verdict ok"));
        let job = JobQueue::job(&store, claimed.id()).await.unwrap().unwrap();
        assert_eq!(
            (job.state, job.run_id, job.tries),
            (JobState::Done, Some(*run), 1)
        );
        owners.insert(job.lease_owner.unwrap());
    }
    // Both slots claimed while the first job ran: each claims as `NAME#n`.
    assert_eq!(
        owners.into_iter().collect::<Vec<_>>(),
        ["w#1".to_owned(), "w#2".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_try_that_cannot_run_is_queued_again_until_its_tries_are_used_up() {
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = JobQueue::submit(&store, NewJob::new("S-1", "review").max_tries(2))
        .await
        .unwrap();
    let seen = Seen::default();
    let worker = Worker::new(
        plan(MARKED),
        Arc::new(store.clone()),
        WorkerOptions::new("w").once(true),
    )
    .on_job(listener(&seen));

    let report = worker.run(&CancellationToken::new()).await.unwrap();

    assert_eq!(counts(&report), [0, 1, 1, 0, 0], "{report:?}");
    let why = r#"unknown stage "review"; the config defines: ask"#;
    let outcomes: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, o)| o.to_string())
        .collect();
    assert_eq!(
        outcomes,
        [
            format!("failed (queued): {why}"),
            format!("failed (dead): {why}")
        ]
    );
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.tries, job.last_error.as_deref()),
        (
            JobState::Dead,
            2,
            Some(format!("try 2 of 2: {why}").as_str())
        )
    );
}

#[tokio::test]
async fn agents_that_fail_are_a_recorded_verdict_not_a_failed_try() {
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = JobQueue::submit(&store, NewJob::new("S-1", "ask"))
        .await
        .unwrap();
    // No MARK: the one agent exits 3.
    let worker = Worker::new(
        plan(MARKED),
        Arc::new(store.clone()),
        WorkerOptions::new("w").once(true),
    );

    let report = worker.run(&CancellationToken::new()).await.unwrap();

    assert_eq!(counts(&report), [1, 0, 0, 0, 0], "{report:?}");
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);
    let history = store.history("S-1", Page::first(5)).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_ne!(history[0].status, "ok");
}

#[tokio::test]
async fn bad_worker_options_are_refused_before_any_claim_naming_the_setting() {
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = JobQueue::submit(&store, NewJob::new("S-1", "ask"))
        .await
        .unwrap();
    let base = WorkerOptions::new("w").once(true);
    let mut equal_heartbeat = base.clone();
    equal_heartbeat.heartbeat = equal_heartbeat.lease;
    let mut zero_heartbeat = base.clone();
    zero_heartbeat.heartbeat = Duration::ZERO;
    let cases = [
        (
            base.clone().concurrency(0),
            "jobs.concurrency",
            "at least 1 slot",
        ),
        (
            base.clone().lease(Duration::ZERO),
            "jobs.lease",
            "longer than 0s",
        ),
        (zero_heartbeat, "jobs.lease", "longer than 0s"),
        (
            equal_heartbeat,
            "jobs.lease",
            "heartbeat must be shorter than the lease",
        ),
        (
            base.clone().poll(Duration::ZERO),
            "jobs.poll",
            "longer than 0s",
        ),
    ];
    for (options, key, says) in cases {
        let worker = Worker::new(plan(MARKED), Arc::new(store.clone()), options.clone());
        let err = worker.run(&CancellationToken::new()).await.unwrap_err();
        let synod::orchestrator::Error::InvalidConfig { key: got, message } = &err else {
            panic!("{options:?}: {err:?}")
        };
        assert_eq!(got, key, "{options:?}");
        assert!(message.contains(says), "{options:?}: {message}");
    }
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.tries),
        (JobState::Queued, 0),
        "nothing was claimed"
    );

    // Just inside each bound runs.
    let mut options = base.poll(Duration::from_millis(1));
    options.heartbeat = options.lease - Duration::from_millis(1);
    let worker = Worker::new(plan(MARKED), Arc::new(store.clone()), options);
    let report = worker.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(report.completed, 1);
}

#[test]
fn the_builders_set_what_they_name_and_the_lease_sets_a_heartbeat_of_a_third() {
    let options = WorkerOptions::new("w")
        .concurrency(4)
        .once(true)
        .grace(Duration::from_secs(7))
        .poll(Duration::from_millis(250))
        .lease(Duration::from_secs(90));
    assert_eq!(options.name, "w");
    assert_eq!(options.concurrency, 4);
    assert!(options.once);
    assert_eq!(options.grace, Duration::from_secs(7));
    assert_eq!(options.poll, Duration::from_millis(250));
    assert_eq!(
        (options.lease, options.heartbeat),
        (Duration::from_secs(90), Duration::from_secs(30))
    );
    let worker = Worker::new(
        Plan::new(SynodConfig::default(), ".").unwrap(),
        Arc::new(FlakyQueue {
            store: Store::open_in_memory().unwrap().into_async(),
            faults: Mutex::default(),
        }),
        options,
    );
    let shown = format!("{worker:?}");
    assert!(
        shown.starts_with("Worker { options: WorkerOptions { name: \"w\", concurrency: 4,")
            && shown.contains("queue: FlakyQueue"),
        "{shown}"
    );
    let defaults = WorkerOptions::new("w");
    assert_eq!(
        (
            defaults.concurrency,
            defaults.once,
            defaults.lease,
            defaults.heartbeat
        ),
        (1, false, Duration::from_secs(30), Duration::from_secs(10))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_hands_a_running_job_back_after_the_grace_without_counting_the_try() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hold"), "").unwrap();
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = JobQueue::submit(&store, NewJob::new("S-1", "slow"))
        .await
        .unwrap();
    let seen = Seen::default();
    let worker = Worker::new(
        Plan::new(config(dir.path()), ".").unwrap(),
        Arc::new(store.clone()),
        WorkerOptions::new("w").grace(Duration::from_millis(100)),
    )
    .on_job(listener(&seen));
    let report = stop_once_started(worker, dir.path(), || {}).await;

    assert_eq!(counts(&report), [0, 0, 0, 1, 0], "{report:?}");
    let outcome = seen.lock().unwrap()[0].1.clone();
    assert_eq!(outcome, JobOutcome::Released);
    assert_eq!(outcome.to_string(), "handed back (worker stopping)");
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!((job.state, job.tries), (JobState::Queued, 0));
    assert!(
        store
            .history("S-1", Page::first(5))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_finishes_within_the_grace_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hold"), "").unwrap();
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = JobQueue::submit(&store, NewJob::new("S-1", "slow"))
        .await
        .unwrap();
    let worker = Worker::new(
        Plan::new(config(dir.path()), ".").unwrap(),
        Arc::new(store.clone()),
        WorkerOptions::new("w").grace(Duration::from_secs(60)),
    );
    let hold = dir.path().join("hold");
    let report =
        stop_once_started(worker, dir.path(), || std::fs::remove_file(hold).unwrap()).await;

    assert_eq!(counts(&report), [1, 0, 0, 0, 0], "{report:?}");
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_worker_claims_a_job_submitted_later_and_stops_when_told() {
    let store = AsyncStore::open_in_memory().await.unwrap();
    let stop = CancellationToken::new();
    let on_done = stop.clone();
    let worker = Worker::new(
        plan(MARKED),
        Arc::new(store.clone()),
        WorkerOptions::new("w").poll(Duration::from_millis(20)),
    )
    .agent_env("MARK", "yes")
    .on_job(Arc::new(move |_, _| on_done.cancel()));
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(&stop).await }
    });
    // The worker finds the queue empty and waits (without `once` it does not stop).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!running.is_finished());
    let id = JobQueue::submit(&store, NewJob::new("S-1", "ask"))
        .await
        .unwrap();

    let report = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the job is claimed at the next poll, and the stop ends the worker")
        .unwrap()
        .unwrap();
    assert_eq!(counts(&report), [1, 0, 0, 0, 0], "{report:?}");
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);
}

/// Runs `worker` until its held agent has started (it touches `dir/started`), then stops it,
/// calls `after_stop`, and returns what the worker did.
async fn stop_once_started(
    worker: Worker,
    dir: &Path,
    after_stop: impl FnOnce(),
) -> synod::orchestrator::WorkerReport {
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(&stop).await }
    });
    wait_for(&dir.join("started")).await;
    stop.cancel();
    after_stop();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the worker stops once its jobs finish or its grace is over")
        .unwrap()
        .unwrap()
}

async fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------- a store that fails on cue

/// The real SQLite queue, with failures injected into chosen calls (each fault is used once).
#[derive(Debug, Default)]
struct Faults {
    claim: Vec<synod::store::Error>,
    complete: Vec<synod::store::Error>,
    fail: Vec<synod::store::Error>,
    release: Vec<synod::store::Error>,
}

#[derive(Debug)]
struct FlakyQueue {
    store: AsyncStore,
    faults: Mutex<Faults>,
}

impl FlakyQueue {
    fn new(store: &AsyncStore, faults: Faults) -> Arc<Self> {
        Arc::new(Self {
            store: store.clone(),
            faults: Mutex::new(faults),
        })
    }

    fn fault(
        &self,
        pick: impl FnOnce(&mut Faults) -> &mut Vec<synod::store::Error>,
    ) -> Option<synod::store::Error> {
        pick(&mut self.faults.lock().unwrap()).pop()
    }
}

fn failing<'a, T: Send + 'a>(err: synod::store::Error) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Err(err)))
}

impl EvidenceStore for FlakyQueue {
    fn execution_started<'a>(
        &'a self,
        agent: &'a str,
        at: UnixMillis,
    ) -> StoreFuture<'a, ExecutionId> {
        EvidenceStore::execution_started(&self.store, agent, at)
    }

    fn executions_started<'a>(
        &'a self,
        agents: &'a [&'a str],
        at: UnixMillis,
    ) -> StoreFuture<'a, Vec<ExecutionId>> {
        EvidenceStore::executions_started(&self.store, agents, at)
    }

    fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId> {
        EvidenceStore::record_stage(&self.store, record)
    }

    fn location(&self) -> Option<&Path> {
        None
    }
}

impl JobQueue for FlakyQueue {
    fn submit(&self, job: NewJob) -> StoreFuture<'_, JobId> {
        JobQueue::submit(&self.store, job)
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimedJob>> {
        match self.fault(|f| &mut f.claim) {
            Some(err) => failing(err),
            None => self.store.claim(worker, lease),
        }
    }

    fn heartbeat<'a>(&'a self, job: &'a ClaimedJob, lease: Duration) -> StoreFuture<'a, bool> {
        self.store.heartbeat(job, lease)
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        record: Arc<StageRecord>,
    ) -> StoreFuture<'a, RunId> {
        match self.fault(|f| &mut f.complete) {
            Some(err) => failing(err),
            None => self.store.complete(job, record),
        }
    }

    fn fail<'a>(&'a self, job: &'a ClaimedJob, error: &'a str) -> StoreFuture<'a, JobState> {
        match self.fault(|f| &mut f.fail) {
            Some(err) => failing(err),
            None => self.store.fail(job, error),
        }
    }

    fn release<'a>(&'a self, job: &'a ClaimedJob) -> StoreFuture<'a, bool> {
        match self.fault(|f| &mut f.release) {
            Some(err) => failing(err),
            None => self.store.release(job),
        }
    }

    fn jobs(&self, state: Option<JobState>, page: Page) -> StoreFuture<'_, Vec<Job>> {
        JobQueue::jobs(&self.store, state, page)
    }

    fn job(&self, id: JobId) -> StoreFuture<'_, Option<Job>> {
        JobQueue::job(&self.store, id)
    }
}

fn busy(operation: &'static str) -> synod::store::Error {
    synod::store::Error::Busy {
        operation,
        timeout: None,
    }
}

fn broken() -> synod::store::Error {
    synod::store::Error::OutOfRange {
        what: "the test's fault",
        detail: "injected".into(),
    }
}

fn lost() -> synod::store::Error {
    synod::store::Error::LeaseLost {
        job: 1,
        worker: "w#1".into(),
        token: 1,
        reason: "taken over".into(),
    }
}

async fn run_flaky(
    faults: Faults,
    max_tries: u32,
) -> (
    AsyncStore,
    JobId,
    Result<[u64; 5], synod::orchestrator::Error>,
    Vec<JobOutcome>,
) {
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = JobQueue::submit(&store, NewJob::new("S-1", "ask").max_tries(max_tries))
        .await
        .unwrap();
    let seen = Seen::default();
    let worker = Worker::new(
        plan(MARKED),
        FlakyQueue::new(&store, faults),
        WorkerOptions::new("w")
            .once(true)
            .poll(Duration::from_millis(10)),
    )
    .agent_env("MARK", "yes")
    .on_job(listener(&seen));
    let report = worker
        .run(&CancellationToken::new())
        .await
        .map(|r| counts(&r));
    let outcomes = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, o)| o.clone())
        .collect();
    (store, id, report, outcomes)
}

#[tokio::test]
async fn a_busy_store_is_waited_out_and_a_broken_one_stops_the_worker() {
    let faults = Faults {
        claim: vec![busy("claim_job")],
        ..Faults::default()
    };
    let (store, id, report, _) = run_flaky(faults, 3).await;
    assert_eq!(report.unwrap(), [1, 0, 0, 0, 0]);
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!((job.state, job.tries), (JobState::Done, 1));

    let faults = Faults {
        claim: vec![broken()],
        ..Faults::default()
    };
    let (store, id, report, _) = run_flaky(faults, 3).await;
    let err = report.unwrap_err();
    assert!(
        matches!(
            &err,
            synod::orchestrator::Error::Store(synod::store::Error::OutOfRange { .. })
        ),
        "{err:?}"
    );
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.tries),
        (JobState::Queued, 0),
        "never claimed"
    );
}

#[tokio::test]
async fn a_record_the_store_refuses_fails_the_try_with_every_cause_on_one_line() {
    let faults = Faults {
        complete: vec![busy("complete_job")],
        ..Faults::default()
    };
    let (store, id, report, outcomes) = run_flaky(faults, 3).await;

    // The second try records the stage.
    assert_eq!(report.unwrap(), [1, 1, 0, 0, 0]);
    let why = format!("evidence store: {}", busy("complete_job"));
    assert_eq!(
        outcomes[0],
        JobOutcome::Failed {
            state: JobState::Queued,
            error: why
        }
    );
    assert!(
        matches!(outcomes[1], JobOutcome::Done { .. }),
        "{outcomes:?}"
    );
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!((job.state, job.tries), (JobState::Done, 2));
}

#[tokio::test]
async fn a_failed_try_the_store_cannot_record_is_left_to_its_lease() {
    let faults = Faults {
        complete: vec![busy("complete_job")],
        fail: vec![broken()],
        ..Faults::default()
    };
    let (store, id, report, outcomes) = run_flaky(faults, 3).await;

    assert_eq!(report.unwrap(), [0, 1, 0, 0, 0]);
    let JobOutcome::Failed { state, error } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(
        *state,
        JobState::Running,
        "still leased: another worker retries it"
    );
    assert_eq!(
        *error,
        format!(
            "evidence store: {} (and the failure could not be recorded: {})",
            busy("complete_job"),
            broken()
        )
    );
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!((job.state, job.tries), (JobState::Running, 1));
}

#[tokio::test]
async fn a_lease_lost_at_the_record_or_at_the_failure_records_nothing() {
    let faults = Faults {
        complete: vec![lost()],
        ..Faults::default()
    };
    let (store, _, report, outcomes) = run_flaky(faults, 3).await;
    assert_eq!(report.unwrap(), [0, 0, 0, 0, 1]);
    assert_eq!(outcomes, [JobOutcome::Lost]);
    assert_eq!(
        JobOutcome::Lost.to_string(),
        "lease lost to another worker; nothing recorded by this one"
    );
    assert!(
        store
            .history("S-1", Page::first(5))
            .await
            .unwrap()
            .is_empty()
    );

    let faults = Faults {
        complete: vec![busy("complete_job")],
        fail: vec![lost()],
        ..Faults::default()
    };
    let (store, _, report, outcomes) = run_flaky(faults, 3).await;
    assert_eq!(report.unwrap(), [0, 0, 0, 0, 1]);
    assert_eq!(outcomes, [JobOutcome::Lost]);
    assert!(
        store
            .history("S-1", Page::first(5))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_whose_hand_back_fails_at_the_record_hands_the_job_back_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hold"), "").unwrap();
    let store = AsyncStore::open_in_memory().await.unwrap();
    let id = JobQueue::submit(&store, NewJob::new("S-1", "slow"))
        .await
        .unwrap();
    let faults = Faults {
        release: vec![busy("release_job")],
        ..Faults::default()
    };
    let seen = Seen::default();
    let worker = Worker::new(
        Plan::new(config(dir.path()), ".").unwrap(),
        FlakyQueue::new(&store, faults),
        WorkerOptions::new("w").grace(Duration::from_millis(100)),
    )
    .on_job(listener(&seen));
    let report = stop_once_started(worker, dir.path(), || {}).await;

    // The stage's record could not hand the job back; the worker did so once the run ended.
    assert_eq!(counts(&report), [0, 0, 0, 1, 0], "{report:?}");
    assert_eq!(seen.lock().unwrap()[0].1, JobOutcome::Released);
    let job = JobQueue::job(&store, id).await.unwrap().unwrap();
    assert_eq!((job.state, job.tries), (JobState::Queued, 0));
}
