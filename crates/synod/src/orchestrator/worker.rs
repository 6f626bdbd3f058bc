//! Workers: run the stage jobs of a [`JobQueue`] through the Orchestrator.
//!
//! A [`Worker`] runs `concurrency` slots. Each slot claims a job under a lease (see
//! `synod_store::jobs` and docs/adr/0019-job-queue.md), runs its stage with an
//! [`Orchestrator`] whose evidence store is the job itself (`JobEvidence`: the run's one
//! `record_stage` is the queue's fenced [`complete`](JobQueue::complete), so the stage and
//! the job's `done` are written in one transaction, or not at all when another worker took
//! the job over), and renews the lease every `heartbeat` while the agents work. A heartbeat
//! that finds the lease lost cancels the run: its late record is refused by the fence.
//!
//! A stage that cannot produce a recorded verdict (an unknown stage in this worker's config,
//! a store that refuses the write, ...) fails the try: the job is queued again, or `dead`
//! once its tries are used up. Agents that fail are not a failed try: their stage is
//! recorded with its verdict (`no_quorum`, ...), as `synod run` records it.
//!
//! Stopping (the token given to [`Worker::run`], e.g. on SIGTERM): no new claims; jobs in
//! flight get `grace` to finish; then their agents are stopped and the jobs handed back
//! ([`release`](JobQueue::release): queued again, the try not counted) for another worker.
//! With `once`, a slot stops when it finds the queue empty.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use synod::orchestrator::{JobOutcome, Plan, SynodConfig, Worker, WorkerOptions};
//! use synod::store::{AsyncStore, JobQueue, JobState, NewJob, Page};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: SynodConfig = toml::from_str(r#"
//!     [[agents]]
//!     name = "a"
//!     command = "sh"
//!     args = ["-c", "cat >/dev/null; echo '{\"answer\": 42}'"]
//!     [[stages]]
//!     name = "ask"
//!     prompt = "What is the answer for {spec_id}?"
//! "#)?;
//! let store = AsyncStore::open_in_memory().await?;
//! for spec in ["S-1", "S-2"] {
//!     store.submit(NewJob::new(spec, "ask")).await?;
//! }
//! let options = WorkerOptions::new("docs").concurrency(2).once(true);
//! let worker = Worker::new(Plan::new(config, ".")?, Arc::new(store.clone()), options);
//! let report = worker.run(&CancellationToken::new()).await?;
//! assert_eq!(report.completed, 2);
//! let done = store.jobs(Some(JobState::Done), Page::first(10)).await?;
//! assert!(done.iter().all(|job| job.run_id.is_some()));
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::{Either, select};
use synod_core::Classify;
use synod_store::{
    ClaimedJob, EvidenceStore, ExecutionId, JobQueue, JobState, RunId, SharedHolds, StageRecord,
    StoreFuture, UnixMillis,
};
use tokio_util::sync::CancellationToken;

use super::Orchestrator;
use super::error::{Error, Result};
use super::plan::Plan;
use super::report::StageStatus;

/// How a [`Worker`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// The worker's name; slot `n` claims as `NAME#n` (default: `host:pid` in the CLI).
    pub name: String,
    /// Jobs run at once (at least 1).
    pub concurrency: usize,
    /// How long a claim holds a job without a heartbeat (`[jobs] lease`).
    pub lease: Duration,
    /// How often a running job's lease is renewed (default: a third of the lease).
    pub heartbeat: Duration,
    /// How long an idle slot waits before looking at the queue again (`[jobs] poll`).
    pub poll: Duration,
    /// Stop a slot when it finds the queue empty, instead of waiting for jobs.
    pub once: bool,
    /// After a stop, how long jobs in flight may take to finish before they are handed
    /// back (`[jobs] grace`).
    pub grace: Duration,
}

impl WorkerOptions {
    /// One slot, a 30 s lease renewed every 10 s, a 1 s poll, a 30 s grace.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            concurrency: 1,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            once: false,
            grace: Duration::from_secs(30),
        }
    }

    /// Runs `concurrency` jobs at once.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Stops each slot when it finds the queue empty.
    #[must_use]
    pub fn once(mut self, once: bool) -> Self {
        self.once = once;
        self
    }

    /// Lets running jobs finish this long after a stop before handing them back.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Looks at the queue this often while idle.
    #[must_use]
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Sets the lease and the heartbeat to a third of it.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self.heartbeat = lease / 3;
        self
    }
}

/// What became of one claimed job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// The stage was recorded as `run` with its verdict's status, and the job is done.
    Done {
        /// The recorded run.
        run: RunId,
        /// The verdict's status.
        status: StageStatus,
    },
    /// The try failed; the job is queued again or `dead`.
    Failed {
        /// The job's new state.
        state: JobState,
        /// Why.
        error: String,
    },
    /// The worker was stopping: the job was handed back, nothing recorded.
    Released,
    /// The lease was lost (another worker holds the job): nothing recorded.
    Lost,
}

impl fmt::Display for JobOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobOutcome::Done { run, status } => write!(f, "done: run {run}, verdict {status}"),
            JobOutcome::Failed { state, error } => write!(f, "failed ({state}): {error}"),
            JobOutcome::Released => f.write_str("handed back (worker stopping)"),
            JobOutcome::Lost => {
                f.write_str("lease lost to another worker; nothing recorded by this one")
            }
        }
    }
}

/// What a [`Worker::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Jobs whose stage this worker recorded.
    pub completed: u64,
    /// Tries that failed and were queued again.
    pub failed: u64,
    /// Tries that failed with no try left (the job is `dead`).
    pub dead: u64,
    /// Jobs handed back on stop.
    pub released: u64,
    /// Jobs whose lease was lost.
    pub lost: u64,
}

impl WorkerReport {
    fn add(&mut self, outcome: &JobOutcome) {
        match outcome {
            JobOutcome::Done { .. } => self.completed += 1,
            JobOutcome::Failed {
                state: JobState::Dead,
                ..
            } => self.dead += 1,
            JobOutcome::Failed { .. } => self.failed += 1,
            JobOutcome::Released => self.released += 1,
            JobOutcome::Lost => self.lost += 1,
        }
    }
}

/// Called after each job with the job and what became of it.
pub type JobListener = Arc<dyn Fn(&ClaimedJob, &JobOutcome) + Send + Sync>;

/// Claims jobs from a [`JobQueue`] and runs them, each under a lease renewed by heartbeats
/// and completed by one fenced transaction (docs/adr/0019-job-queue.md).
pub struct Worker {
    plan: Plan,
    queue: Arc<dyn JobQueue>,
    options: WorkerOptions,
    agent_env: Vec<(String, String)>,
    listener: Option<JobListener>,
    shared_holds: Option<Arc<dyn SharedHolds>>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("options", &self.options)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker running `plan`'s stages for the jobs of `queue`.
    #[must_use]
    pub fn new(plan: Plan, queue: Arc<dyn JobQueue>, options: WorkerOptions) -> Self {
        Self {
            plan,
            queue,
            options,
            agent_env: Vec::new(),
            listener: None,
            shared_holds: None,
        }
    }

    /// Adds an environment variable to every agent the worker starts.
    #[must_use]
    pub fn agent_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.agent_env.push((key.into(), value.into()));
        self
    }

    /// Shares rate limits and open breakers with every other worker through `holds`
    /// (usually the queue's own store): see [`Orchestrator::shared_holds`].
    #[must_use]
    pub fn shared_holds(mut self, holds: Arc<dyn SharedHolds>) -> Self {
        self.shared_holds = Some(holds);
        self
    }

    /// Calls `listener` after each job.
    #[must_use]
    pub fn on_job(mut self, listener: JobListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Runs the slots until `stop` is cancelled (or, with `once`, until the queue is empty),
    /// then returns what they did.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a zero concurrency, lease, heartbeat or poll; a store
    /// failure that is not transient (a busy store is waited out). Job failures are not
    /// errors: they are recorded in the queue and counted in the report.
    pub async fn run(&self, stop: &CancellationToken) -> Result<WorkerReport> {
        self.check()?;
        let total = Mutex::new(WorkerReport::default());
        let slots = (1..=self.options.concurrency).map(|slot| self.slot(slot, stop, &total));
        let results = futures::future::join_all(slots).await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(*total.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn check(&self) -> Result<()> {
        let o = &self.options;
        let invalid = |key: &str, message: &str| {
            Err(Error::InvalidConfig {
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        if o.concurrency == 0 {
            return invalid("jobs.concurrency", "a worker needs at least 1 slot");
        }
        if o.lease.is_zero() || o.heartbeat.is_zero() {
            return invalid("jobs.lease", "must be longer than 0s, e.g. 30s");
        }
        if o.heartbeat >= o.lease {
            return invalid(
                "jobs.lease",
                "the heartbeat must be shorter than the lease (it renews it)",
            );
        }
        if o.poll.is_zero() {
            return invalid("jobs.poll", "must be longer than 0s, e.g. 1s");
        }
        Ok(())
    }

    async fn slot(
        &self,
        slot: usize,
        stop: &CancellationToken,
        total: &Mutex<WorkerReport>,
    ) -> Result<()> {
        let name = format!("{}#{slot}", self.options.name);
        while !stop.is_cancelled() {
            let claimed = match self.queue.claim(&name, self.options.lease).await {
                Ok(claimed) => claimed,
                Err(err) if err.class().is_retryable() => {
                    tracing::warn!(worker = %name, error = %err, "cannot claim a job yet; retrying");
                    self.idle(stop).await;
                    continue;
                }
                Err(err) => return Err(Error::Store(err)),
            };
            let Some(job) = claimed else {
                if self.options.once {
                    break;
                }
                self.idle(stop).await;
                continue;
            };
            tracing::info!(worker = %name, job = job.id().0, spec_id = %job.job.spec_id,
                stage = %job.job.stage, try_ = job.job.tries, "claimed a job");
            let outcome = self.run_job(&job, stop).await;
            tracing::info!(worker = %name, job = job.id().0, %outcome, "job finished");
            total
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(&outcome);
            if let Some(listener) = &self.listener {
                listener(&job, &outcome);
            }
        }
        Ok(())
    }

    async fn idle(&self, stop: &CancellationToken) {
        tokio::select! {
            () = tokio::time::sleep(self.options.poll) => {}
            () = stop.cancelled() => {}
        }
    }

    /// Runs one claimed job to its outcome (never an error: failures go to the queue).
    async fn run_job(&self, job: &ClaimedJob, stop: &CancellationToken) -> JobOutcome {
        let handback = CancellationToken::new();
        let cancel_run = CancellationToken::new();
        let evidence = Arc::new(JobEvidence {
            queue: Arc::clone(&self.queue),
            job: job.clone(),
            handback: handback.clone(),
            recorded: Mutex::new(None),
        });
        let mut orchestrator = Orchestrator::with_shared_store(
            self.plan.clone(),
            Arc::clone(&evidence) as Arc<dyn EvidenceStore>,
        );
        for (key, value) in &self.agent_env {
            orchestrator = orchestrator.agent_env(key.clone(), value.clone());
        }
        if let Some(holds) = &self.shared_holds {
            orchestrator = orchestrator.shared_holds(Arc::clone(holds));
        }
        let run = orchestrator.run_stage_with(
            &job.job.spec_id,
            &job.job.stage,
            job.job.prompt.as_deref(),
            &cancel_run,
        );
        let heartbeats = async {
            loop {
                tokio::time::sleep(self.options.heartbeat).await;
                match self.queue.heartbeat(job, self.options.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = job.id().0, worker = %job.worker,
                            "lease lost; stopping the job's agents");
                        cancel_run.cancel();
                        return;
                    }
                    // The lease still fences: nobody can take the job before it expires,
                    // and our completion still counts if nobody did.
                    Err(err) => tracing::warn!(job = job.id().0, error = %err, "heartbeat failed"),
                }
            }
        };
        let stopping = async {
            stop.cancelled().await;
            tokio::time::sleep(self.options.grace).await;
            tracing::info!(
                job = job.id().0,
                "stop grace over; stopping the agents and handing the job back"
            );
            handback.cancel();
            cancel_run.cancel();
        };
        let side = async {
            tokio::select! {
                () = heartbeats => {}
                () = stopping => {}
            }
        };
        let result = match select(pin!(run), pin!(side)).await {
            Either::Left((result, _)) => result,
            // The run was told to stop; let it wind down (its record is released or fenced).
            Either::Right(((), run)) => run.await,
        };
        let recorded = evidence
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match (result, recorded) {
            (Ok(report), Some(Recorded::Done(run))) => JobOutcome::Done {
                run,
                status: report.status,
            },
            (_, Some(Recorded::Released)) => JobOutcome::Released,
            (_, Some(Recorded::Lost)) => JobOutcome::Lost,
            (result, _) if handback.is_cancelled() => {
                // Stopped before the stage reached its record: hand it back here.
                if let Err(err) = result {
                    tracing::debug!(job = job.id().0, error = %err, "stage ended while stopping");
                }
                match self.queue.release(job).await {
                    Ok(true) => JobOutcome::Released,
                    Ok(false) => JobOutcome::Lost,
                    Err(err) => self.fail(job, &err.to_string()).await,
                }
            }
            (Ok(report), _) => {
                self.fail(
                    job,
                    &format!(
                        "the stage finished ({}) but its record did not reach the queue",
                        report.status
                    ),
                )
                .await
            }
            (Err(err), _) => self.fail(job, &one_line(&err)).await,
        }
    }

    async fn fail(&self, job: &ClaimedJob, error: &str) -> JobOutcome {
        match self.queue.fail(job, error).await {
            Ok(state) => JobOutcome::Failed {
                state,
                error: error.to_owned(),
            },
            Err(synod_store::Error::LeaseLost { .. }) => JobOutcome::Lost,
            Err(err) => {
                // The lease runs out and another worker retries the job.
                tracing::error!(job = job.id().0, error = %err, "cannot record the failed try");
                JobOutcome::Failed {
                    state: JobState::Running,
                    error: format!("{error} (and the failure could not be recorded: {err})"),
                }
            }
        }
    }
}

/// An error and its causes on one line.
fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}

/// What the job-scoped store did with the run's record.
#[derive(Debug, Clone, Copy)]
enum Recorded {
    Done(RunId),
    Released,
    Lost,
}

/// The evidence store of one job's run: executions go to the queue's store; the run's
/// record completes the job (fenced), or hands it back when the worker is stopping.
#[derive(Debug)]
struct JobEvidence {
    queue: Arc<dyn JobQueue>,
    job: ClaimedJob,
    handback: CancellationToken,
    recorded: Mutex<Option<Recorded>>,
}

impl JobEvidence {
    fn set(&self, recorded: Recorded) {
        *self.recorded.lock().unwrap_or_else(PoisonError::into_inner) = Some(recorded);
    }
}

impl EvidenceStore for JobEvidence {
    fn execution_started<'a>(
        &'a self,
        agent: &'a str,
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, ExecutionId> {
        self.queue.execution_started(agent, spawned_at)
    }

    fn executions_started<'a>(
        &'a self,
        agents: &'a [&'a str],
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, Vec<ExecutionId>> {
        self.queue.executions_started(agents, spawned_at)
    }

    fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId> {
        Box::pin(async move {
            if self.handback.is_cancelled() {
                let released = self.queue.release(&self.job).await?;
                self.set(if released {
                    Recorded::Released
                } else {
                    Recorded::Lost
                });
                return Err(synod_store::Error::LeaseLost {
                    job: self.job.id().0,
                    worker: self.job.worker.clone(),
                    token: self.job.token,
                    reason: "the worker is stopping and handed the job back".into(),
                });
            }
            match self.queue.complete(&self.job, record).await {
                Ok(run) => {
                    self.set(Recorded::Done(run));
                    Ok(run)
                }
                Err(err @ synod_store::Error::LeaseLost { .. }) => {
                    self.set(Recorded::Lost);
                    Err(err)
                }
                Err(err) => Err(err),
            }
        })
    }

    /// None: a stage the queue refuses is not kept beside the store; the job is tried again
    /// (or already belongs to another worker).
    fn location(&self) -> Option<&Path> {
        None
    }
}
