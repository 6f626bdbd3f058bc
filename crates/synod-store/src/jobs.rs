//! The job queue: stage runs submitted by one process and run by workers in others.
//!
//! A job is one stage of one spec (`spec_id`, `stage`, an optional prompt). Workers
//! [`claim`](JobQueue::claim) jobs under a **lease** (an owner, a deadline and a **fencing
//! token** that grows by one at every claim), renew it with
//! [`heartbeat`](JobQueue::heartbeat) while the stage runs, and finish with
//! [`complete`](JobQueue::complete), which records the stage (run, outputs, verdict, spec
//! stage, executions) **and** marks the job done in one transaction, only if the worker's
//! token is still the job's token. A worker that dies stops heartbeating; once its lease
//! expires another worker claims the job (a new token), and the dead worker's late
//! completion, if it ever comes, writes nothing ([`Error::LeaseLost`]). So each job is
//! recorded exactly once. Every claim counts a try; a job whose tries are used up goes to
//! `dead` with its last error, [`fail`](JobQueue::fail) puts a job back (or to `dead`), and
//! [`release`](JobQueue::release) hands a job back without using a try (a worker asked to
//! stop). See docs/adr/0019-job-queue.md.
//!
//! On SQLite every operation is one `BEGIN IMMEDIATE` transaction, so claims of processes
//! sharing the file are serialised. On PostgreSQL (`PgStore`, feature `postgres`) every
//! operation is one statement and claims pick rows `FOR UPDATE SKIP LOCKED`, so workers on
//! many machines claim side by side; leases are measured on the server's clock there, so
//! workers whose clocks disagree still agree on when a lease expires.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use serde_json::json;
//! use synod_store::{AsyncStore, JobQueue, JobState, NewJob, NewRun, StageRecord};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_store::Error> {
//! let store = AsyncStore::open_in_memory().await?;
//! let id = store.submit(NewJob::new("S-1", "plan")).await?;
//! let job = store.claim("worker-1", Duration::from_secs(30)).await?.expect("one job queued");
//! assert_eq!((job.id(), job.job.tries), (id, 1));
//! assert!(store.heartbeat(&job, Duration::from_secs(30)).await?);
//! let run = NewRun {
//!     spec_id: "S-1".into(),
//!     stage: "plan".into(),
//!     started_at: 1_000,
//!     finished_at: 2_000,
//!     status: "ok".into(),
//! };
//! let record = Arc::new(StageRecord::new(run, vec![], json!({"status": "ok"})));
//! let run_id = store.complete(&job, record).await?;
//! let done = store.job(id).await?.expect("the job is kept");
//! assert_eq!((done.state, done.run_id), (JobState::Done, Some(run_id)));
//! assert!(store.claim("worker-1", Duration::from_secs(30)).await?.is_none());
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::AsyncStore;
use crate::error::{Error, Result};
use crate::evidence::{EvidenceStore, StageRecord, StoreFuture};
use crate::model::{Page, RunId, UnixMillis, now_millis};
use crate::store::{Store, encode_outputs, insert_stage, verdict_text};

/// The id of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for a worker (new, failed with tries left, or handed back).
    Queued,
    /// Held by a worker under a lease.
    Running,
    /// Its stage is recorded (the job's `run_id`).
    Done,
    /// Its tries are used up; `last_error` says why the last one failed.
    Dead,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    /// The stored name: `queued`, `running`, `done` or `dead`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        JobState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::OutOfRange {
                what: "job state",
                detail: format!("{text:?} is not a job state; use queued, running, done or dead"),
            })
    }
}

/// A job to submit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewJob {
    /// The spec the stage runs for.
    pub spec_id: String,
    /// The stage name (a `[[stages]]` name of the workers' config).
    pub stage: String,
    /// A prompt replacing the stage's configured one.
    pub prompt: Option<String>,
    /// How many claims the job gets before it is `dead` (at least 1; default 3).
    pub max_tries: u32,
}

impl NewJob {
    /// Tries a job gets unless told otherwise.
    pub const DEFAULT_MAX_TRIES: u32 = 3;

    /// A job for `stage` of `spec_id` with the stage's prompt and 3 tries.
    #[must_use]
    pub fn new(spec_id: impl Into<String>, stage: impl Into<String>) -> Self {
        Self {
            spec_id: spec_id.into(),
            stage: stage.into(),
            prompt: None,
            max_tries: Self::DEFAULT_MAX_TRIES,
        }
    }

    /// Runs the stage with `prompt` instead of its configured one.
    #[must_use]
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Gives the job `max_tries` claims (at least 1).
    #[must_use]
    pub fn max_tries(mut self, max_tries: u32) -> Self {
        self.max_tries = max_tries;
        self
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Job {
    /// The job's id (increases with submission order).
    pub id: JobId,
    /// The spec.
    pub spec_id: String,
    /// The stage.
    pub stage: String,
    /// The prompt replacing the stage's, if any.
    pub prompt: Option<String>,
    /// Where the job is.
    pub state: JobState,
    /// Claims so far (a hand-back does not count).
    pub tries: u32,
    /// Claims allowed.
    pub max_tries: u32,
    /// The worker holding (or that last held) the lease.
    pub lease_owner: Option<String>,
    /// The fencing token: one more at every claim.
    pub lease_token: i64,
    /// When the current lease expires (running jobs).
    pub lease_until: Option<UnixMillis>,
    /// Why the last try failed (an error, or a lease that expired).
    pub last_error: Option<String>,
    /// The recorded run (done jobs; `None` again if the run was pruned).
    pub run_id: Option<RunId>,
    /// When the job was submitted.
    pub created_at: UnixMillis,
    /// When the job last changed.
    pub updated_at: UnixMillis,
}

/// A job a worker holds: the job as claimed, the worker, and the fencing token every later
/// call is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClaimedJob {
    /// The job as it was when claimed (`state` running, `tries` counting this claim).
    pub job: Job,
    /// The worker that claimed it.
    pub worker: String,
    /// The fencing token of this claim.
    pub token: i64,
}

impl ClaimedJob {
    /// The job's id.
    #[must_use]
    pub fn id(&self) -> JobId {
        self.job.id
    }
}

/// A queue of stage runs that workers claim under leases. Implemented by [`AsyncStore`]
/// (SQLite: processes on one machine), by `PgStore` (feature `postgres`: many machines,
/// claims `FOR UPDATE SKIP LOCKED`) and by [`AnyStore`](crate::AnyStore). It extends
/// [`EvidenceStore`] because completing a job records its stage.
pub trait JobQueue: EvidenceStore {
    /// Queues a job. Fails with [`Error::OutOfRange`] when `max_tries` is 0.
    fn submit(&self, job: NewJob) -> StoreFuture<'_, JobId>;

    /// Claims the oldest claimable job for `worker` for `lease`: a running job whose lease
    /// expired (its worker died), else the oldest queued one. The claim counts a try and
    /// gets a new fencing token. A job whose lease expired with no try left goes to `dead`
    /// instead. `None` when nothing is claimable.
    fn claim<'a>(&'a self, worker: &'a str, lease: Duration)
    -> StoreFuture<'a, Option<ClaimedJob>>;

    /// Extends the lease to `lease` from now. `false` when the lease was lost (another
    /// worker claimed the job after it expired, or it was handed back).
    fn heartbeat<'a>(&'a self, job: &'a ClaimedJob, lease: Duration) -> StoreFuture<'a, bool>;

    /// Records the stage and marks the job done, in one transaction, if `job`'s token is
    /// still the job's; otherwise writes nothing and fails with [`Error::LeaseLost`].
    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        record: Arc<StageRecord>,
    ) -> StoreFuture<'a, RunId>;

    /// The try failed with `error`: the job is queued again, or `dead` when its tries are
    /// used up. Returns the new state; [`Error::LeaseLost`] (nothing written) when the lease
    /// was lost.
    fn fail<'a>(&'a self, job: &'a ClaimedJob, error: &'a str) -> StoreFuture<'a, JobState>;

    /// Hands the job back (queued, this try not counted) for another worker. `false` when
    /// the lease was already lost.
    fn release<'a>(&'a self, job: &'a ClaimedJob) -> StoreFuture<'a, bool>;

    /// Jobs, newest first, of one state or of all.
    fn jobs(&self, state: Option<JobState>, page: Page) -> StoreFuture<'_, Vec<Job>>;

    /// One job by id.
    fn job(&self, id: JobId) -> StoreFuture<'_, Option<Job>>;
}

// ------------------------------------------------------------------------------ SQL

/// The oldest queued job (index `jobs_by_state`).
pub(crate) const SQL_NEXT_QUEUED: &str =
    "SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1";
/// The running job whose lease expired first (index `jobs_leases`).
pub(crate) const SQL_NEXT_EXPIRED: &str = "SELECT id, tries, max_tries, lease_owner FROM jobs INDEXED BY jobs_leases \
     WHERE state = 'running' AND lease_until < ?1 ORDER BY lease_until LIMIT 1";
const SQL_TAKE: &str = "UPDATE jobs SET state = 'running', tries = tries + 1, lease_owner = ?2, \
     lease_token = lease_token + 1, lease_until = ?3, updated_at = ?4, \
     last_error = coalesce(?5, last_error) WHERE id = ?1 \
     RETURNING id, spec_id, stage, prompt, state, tries, max_tries, lease_owner, \
     lease_token, lease_until, last_error, run_id, created_at, updated_at";
const SQL_BURY: &str = "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?2, \
     updated_at = ?3 WHERE id = ?1";
const SQL_HOLDER: &str = "SELECT state, lease_token FROM jobs WHERE id = ?1";
const SQL_HEARTBEAT: &str = "UPDATE jobs SET lease_until = ?3, updated_at = ?4 \
     WHERE id = ?1 AND state = 'running' AND lease_token = ?2";
const SQL_DONE: &str = "UPDATE jobs SET state = 'done', run_id = ?2, lease_until = NULL, \
     updated_at = ?3 WHERE id = ?1";
const SQL_FAIL: &str = "UPDATE jobs SET state = CASE WHEN tries >= max_tries THEN 'dead' ELSE 'queued' END, \
     lease_until = NULL, last_error = ?3, updated_at = ?4 \
     WHERE id = ?1 AND state = 'running' AND lease_token = ?2 RETURNING state";
const SQL_RELEASE: &str = "UPDATE jobs SET state = 'queued', tries = max(tries - 1, 0), \
     lease_until = NULL, updated_at = ?3 WHERE id = ?1 AND state = 'running' AND lease_token = ?2";
const SQL_INSERT_JOB: &str = "INSERT INTO jobs (spec_id, stage, prompt, state, max_tries, created_at, updated_at) \
     VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?5)";

/// The job listings, for the query-plan checks.
pub(crate) const SQL_JOBS_BY_STATE: &str = "SELECT id, spec_id, stage, prompt, state, tries, max_tries, lease_owner, \
     lease_token, lease_until, last_error, run_id, created_at, updated_at \
     FROM jobs WHERE state = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3";
pub(crate) const SQL_JOBS_ALL: &str = "SELECT id, spec_id, stage, prompt, state, tries, max_tries, lease_owner, \
     lease_token, lease_until, last_error, run_id, created_at, updated_at \
     FROM jobs ORDER BY id DESC LIMIT ?1 OFFSET ?2";
const SQL_JOB: &str = "SELECT id, spec_id, stage, prompt, state, tries, max_tries, lease_owner, \
     lease_token, lease_until, last_error, run_id, created_at, updated_at FROM jobs WHERE id = ?1";

/// The job queue's read paths and the index each must use (checked by the tests).
pub const JOB_QUERIES: &[(&str, &str, &str)] = &[
    ("claim: next queued", SQL_NEXT_QUEUED, "jobs_by_state"),
    ("claim: next expired lease", SQL_NEXT_EXPIRED, "jobs_leases"),
    ("jobs(state)", SQL_JOBS_BY_STATE, "jobs_by_state"),
    ("job(id)", SQL_JOB, "INTEGER PRIMARY KEY"),
];

fn read_job(row: &Row<'_>) -> rusqlite::Result<(Job, String)> {
    let count = |i: usize| -> rusqlite::Result<u32> {
        let n: i64 = row.get(i)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    };
    Ok((
        Job {
            id: JobId(row.get(0)?),
            spec_id: row.get(1)?,
            stage: row.get(2)?,
            prompt: row.get(3)?,
            state: JobState::Queued,
            tries: count(5)?,
            max_tries: count(6)?,
            lease_owner: row.get(7)?,
            lease_token: row.get(8)?,
            lease_until: row.get(9)?,
            last_error: row.get(10)?,
            run_id: row.get::<_, Option<i64>>(11)?.map(RunId),
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
        },
        row.get(4)?,
    ))
}

pub(crate) fn finish_job((mut job, state): (Job, String)) -> Result<Job> {
    job.state = state.parse().map_err(|_| Error::OutOfRange {
        what: "job state",
        detail: format!(
            "job {} has state {state:?} in the store, which this synod does not know; upgrade synod",
            job.id
        ),
    })?;
    Ok(job)
}

pub(crate) fn lease_millis(lease: Duration) -> Result<i64> {
    if lease.is_zero() {
        return Err(Error::OutOfRange {
            what: "lease",
            detail: "a job lease must be longer than 0 s; use e.g. 30s ([jobs] lease)".into(),
        });
    }
    Ok(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

/// Refuses a job with no try.
pub(crate) fn check_tries(job: &NewJob) -> Result<()> {
    if job.max_tries == 0 {
        return Err(Error::OutOfRange {
            what: "max_tries",
            detail: format!(
                "job {} / {} has max_tries = 0; a job needs at least 1 try ([jobs] max_tries)",
                job.spec_id, job.stage
            ),
        });
    }
    Ok(())
}

/// What the claim of a job whose lease expired writes as its last error.
pub(crate) fn expired_note(tries: i64, max_tries: i64, owner: Option<&str>) -> String {
    format!(
        "try {tries} of {max_tries}: the lease of worker {} expired (the worker died or stopped heartbeating)",
        owner.unwrap_or("?")
    )
}

/// Whether `job`'s claim still holds the job (running, same token), inside `tx`.
fn holds(tx: &Transaction<'_>, job: &ClaimedJob) -> rusqlite::Result<bool> {
    let row: Option<(String, i64)> = tx
        .prepare_cached(SQL_HOLDER)?
        .query_row([job.job.id.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(matches!(row, Some((state, token)) if state == "running" && token == job.token))
}

pub(crate) fn lease_lost(job: &ClaimedJob, reason: &str) -> Error {
    Error::LeaseLost {
        job: job.job.id.0,
        worker: job.worker.clone(),
        token: job.token,
        reason: reason.to_owned(),
    }
}

pub(crate) const LOST: &str =
    "its lease expired and another worker claimed it, or it was handed back";

// ------------------------------------------------------------------------------ blocking

impl Store {
    /// [`JobQueue::submit`] (blocking).
    pub fn submit_job(&self, job: &NewJob) -> Result<JobId> {
        check_tries(job)?;
        let now = now_millis();
        self.write("submit_job", |tx| {
            tx.prepare_cached(SQL_INSERT_JOB)?
                .insert(params![
                    job.spec_id,
                    job.stage,
                    job.prompt,
                    i64::from(job.max_tries),
                    now
                ])
                .map(JobId)
        })
    }

    /// [`JobQueue::claim`] (blocking), with the lease measured from now.
    pub fn claim_job(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>> {
        self.claim_job_at(worker, lease, now_millis())
    }

    /// [`JobQueue::claim`] at the time `now` (leases expiring before `now` are expired).
    pub fn claim_job_at(
        &self,
        worker: &str,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Option<ClaimedJob>> {
        let lease = lease_millis(lease)?;
        let until = now.saturating_add(lease);
        let claimed = self.write("claim_job", |tx| {
            loop {
                let expired: Option<(i64, i64, i64, Option<String>)> = tx
                    .prepare_cached(SQL_NEXT_EXPIRED)?
                    .query_row([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()?;
                let (id, note) = match expired {
                    Some((id, tries, max_tries, owner)) => {
                        let note = expired_note(tries, max_tries, owner.as_deref());
                        if tries >= max_tries {
                            tx.prepare_cached(SQL_BURY)?
                                .execute(params![id, note, now])?;
                            continue;
                        }
                        (id, Some(note))
                    }
                    None => {
                        let queued: Option<i64> = tx
                            .prepare_cached(SQL_NEXT_QUEUED)?
                            .query_row([], |r| r.get(0))
                            .optional()?;
                        match queued {
                            Some(id) => (id, None),
                            None => return Ok(None),
                        }
                    }
                };
                let row = tx
                    .prepare_cached(SQL_TAKE)?
                    .query_row(params![id, worker, until, now, note], read_job)?;
                return Ok(Some(row));
            }
        })?;
        claimed
            .map(|row| {
                let job = finish_job(row)?;
                Ok(ClaimedJob {
                    token: job.lease_token,
                    worker: worker.to_owned(),
                    job,
                })
            })
            .transpose()
    }

    /// [`JobQueue::heartbeat`] (blocking).
    pub fn heartbeat_job(&self, job: &ClaimedJob, lease: Duration) -> Result<bool> {
        self.heartbeat_job_at(job, lease, now_millis())
    }

    /// [`JobQueue::heartbeat`] at the time `now`.
    pub fn heartbeat_job_at(
        &self,
        job: &ClaimedJob,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<bool> {
        let until = now.saturating_add(lease_millis(lease)?);
        self.write("heartbeat_job", |tx| {
            tx.prepare_cached(SQL_HEARTBEAT)?
                .execute(params![job.job.id.0, job.token, until, now])
                .map(|n| n == 1)
        })
    }

    /// [`JobQueue::complete`] (blocking): the stage's run, outputs, verdict, spec stage and
    /// executions, and the job marked done, in ONE IMMEDIATE transaction fenced by the
    /// job's token.
    pub fn complete_job(&self, job: &ClaimedJob, record: &StageRecord) -> Result<RunId> {
        let StageRecord {
            run,
            outputs,
            verdict,
            executions,
            ..
        } = record;
        let _span =
            tracing::debug_span!("store.complete_job", job = job.job.id.0, token = job.token)
                .entered();
        let verdict_json = verdict_text(run, verdict)?;
        let encoded = encode_outputs(outputs)?;
        let now = now_millis();
        let done = self.write("complete_job", |tx| {
            if !holds(tx, job)? {
                return Ok(None);
            }
            let run_id = insert_stage(tx, run, &verdict_json, &encoded, executions)?;
            tx.prepare_cached(SQL_DONE)?
                .execute(params![job.job.id.0, run_id, now])?;
            Ok(Some(RunId(run_id)))
        })?;
        done.ok_or_else(|| lease_lost(job, LOST))
    }

    /// [`JobQueue::fail`] (blocking).
    pub fn fail_job(&self, job: &ClaimedJob, error: &str) -> Result<JobState> {
        let now = now_millis();
        let error = format!("try {} of {}: {error}", job.job.tries, job.job.max_tries);
        let state: Option<String> = self.write("fail_job", |tx| {
            tx.prepare_cached(SQL_FAIL)?
                .query_row(params![job.job.id.0, job.token, error, now], |r| r.get(0))
                .optional()
        })?;
        match state {
            Some(state) => state.parse(),
            None => Err(lease_lost(job, LOST)),
        }
    }

    /// [`JobQueue::release`] (blocking).
    pub fn release_job(&self, job: &ClaimedJob) -> Result<bool> {
        let now = now_millis();
        self.write("release_job", |tx| {
            tx.prepare_cached(SQL_RELEASE)?
                .execute(params![job.job.id.0, job.token, now])
                .map(|n| n == 1)
        })
    }

    /// [`JobQueue::jobs`] (blocking).
    pub fn jobs(&self, state: Option<JobState>, page: Page) -> Result<Vec<Job>> {
        let (limit, offset) = (i64::from(page.limit), i64::from(page.offset));
        let rows = self.read(|c| {
            let rows: rusqlite::Result<Vec<_>> = match state {
                Some(state) => c.prepare_cached(SQL_JOBS_BY_STATE).and_then(|mut s| {
                    s.query_map(params![state.as_str(), limit, offset], read_job)?
                        .collect()
                }),
                None => c
                    .prepare_cached(SQL_JOBS_ALL)
                    .and_then(|mut s| s.query_map(params![limit, offset], read_job)?.collect()),
            };
            rows.map_err(self.map("jobs"))
        })?;
        rows.into_iter().map(finish_job).collect()
    }

    /// [`JobQueue::job`] (blocking).
    pub fn job(&self, id: JobId) -> Result<Option<Job>> {
        let row = self.read(|c| {
            c.prepare_cached(SQL_JOB)
                .and_then(|mut s| s.query_row([id.0], read_job).optional())
                .map_err(self.map("job"))
        })?;
        row.map(finish_job).transpose()
    }
}

// ------------------------------------------------------------------------------ async

impl JobQueue for AsyncStore {
    fn submit(&self, job: NewJob) -> StoreFuture<'_, JobId> {
        Box::pin(self.call("submit_job", move |s| s.submit_job(&job)))
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimedJob>> {
        let worker = worker.to_owned();
        Box::pin(self.call("claim_job", move |s| s.claim_job(&worker, lease)))
    }

    fn heartbeat<'a>(&'a self, job: &'a ClaimedJob, lease: Duration) -> StoreFuture<'a, bool> {
        let job = job.clone();
        Box::pin(self.call("heartbeat_job", move |s| s.heartbeat_job(&job, lease)))
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        record: Arc<StageRecord>,
    ) -> StoreFuture<'a, RunId> {
        let job = job.clone();
        Box::pin(self.call("complete_job", move |s| s.complete_job(&job, &record)))
    }

    fn fail<'a>(&'a self, job: &'a ClaimedJob, error: &'a str) -> StoreFuture<'a, JobState> {
        let (job, error) = (job.clone(), error.to_owned());
        Box::pin(self.call("fail_job", move |s| s.fail_job(&job, &error)))
    }

    fn release<'a>(&'a self, job: &'a ClaimedJob) -> StoreFuture<'a, bool> {
        let job = job.clone();
        Box::pin(self.call("release_job", move |s| s.release_job(&job)))
    }

    fn jobs(&self, state: Option<JobState>, page: Page) -> StoreFuture<'_, Vec<Job>> {
        Box::pin(self.call("jobs", move |s| s.jobs(state, page)))
    }

    fn job(&self, id: JobId) -> StoreFuture<'_, Option<Job>> {
        Box::pin(self.call("job", move |s| s.job(id)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{NewOutput, NewRun, Options};

    const LEASE: Duration = Duration::from_secs(10);

    fn record(spec: &str) -> StageRecord {
        let run = NewRun {
            spec_id: spec.into(),
            stage: "plan".into(),
            started_at: 1,
            finished_at: 2,
            status: "ok".into(),
        };
        let output = NewOutput {
            agent: "a".into(),
            attempt: 1,
            exit_code: Some(0),
            status: "ok".into(),
            raw_output: "{}".into(),
            ..NewOutput::default()
        };
        StageRecord::new(run, vec![output], json!({"status": "ok"}))
    }

    fn runs(store: &Store) -> i64 {
        store
            .read(|c| {
                c.query_row("SELECT count(*) FROM consensus_runs", [], |r| r.get(0))
                    .map_err(store.map("count"))
            })
            .unwrap()
    }

    #[test]
    fn claims_go_oldest_first_and_count_tries() {
        let store = Store::open_in_memory().unwrap();
        let a = store.submit_job(&NewJob::new("S", "plan")).unwrap();
        let b = store
            .submit_job(&NewJob::new("T", "plan").prompt("p").max_tries(1))
            .unwrap();
        let first = store.claim_job("w1", LEASE).unwrap().unwrap();
        let second = store.claim_job("w2", LEASE).unwrap().unwrap();
        assert_eq!((first.id(), second.id()), (a, b));
        assert_eq!(second.job.prompt.as_deref(), Some("p"));
        assert_eq!((first.job.tries, first.job.state), (1, JobState::Running));
        assert_eq!(first.job.lease_owner.as_deref(), Some("w1"));
        assert!(store.claim_job("w3", LEASE).unwrap().is_none());
        let listed = store
            .jobs(Some(JobState::Running), Page::first(10))
            .unwrap();
        assert_eq!(
            listed.iter().map(|j| j.id).collect::<Vec<_>>(),
            [b, a],
            "newest first"
        );
    }

    #[test]
    fn an_expired_lease_is_claimed_again_and_fences_the_first_worker() {
        let store = Store::open_in_memory().unwrap();
        let id = store.submit_job(&NewJob::new("S", "plan")).unwrap();
        let now = now_millis();
        let first = store.claim_job_at("w1", LEASE, now).unwrap().unwrap();
        // Not expired yet: nothing to claim.
        assert!(
            store
                .claim_job_at("w2", LEASE, now + 9_999)
                .unwrap()
                .is_none()
        );
        let later = now + 10_001;
        let second = store.claim_job_at("w2", LEASE, later).unwrap().unwrap();
        assert_eq!(second.id(), id);
        assert_eq!(second.job.tries, 2);
        assert!(second.token > first.token);
        assert!(
            second
                .job
                .last_error
                .as_deref()
                .unwrap()
                .contains("lease of worker w1 expired"),
            "{:?}",
            second.job.last_error
        );
        // The first worker's heartbeat and completion are fenced off.
        assert!(!store.heartbeat_job_at(&first, LEASE, later).unwrap());
        let err = store.complete_job(&first, &record("S")).unwrap_err();
        assert!(
            matches!(err, Error::LeaseLost { job, .. } if job == id.0),
            "{err}"
        );
        assert!(err.to_string().contains("w1"), "{err}");
        assert_eq!(runs(&store), 0, "a fenced completion writes nothing");
        assert!(matches!(
            store.fail_job(&first, "late").unwrap_err(),
            Error::LeaseLost { .. }
        ));
        assert!(!store.release_job(&first).unwrap());
        // The second worker completes once.
        let run_id = store.complete_job(&second, &record("S")).unwrap();
        let done = store.job(id).unwrap().unwrap();
        assert_eq!((done.state, done.run_id), (JobState::Done, Some(run_id)));
        assert!(store.complete_job(&second, &record("S")).is_err());
        assert_eq!(runs(&store), 1);
    }

    #[test]
    fn failures_requeue_until_the_tries_are_used_up() {
        let store = Store::open_in_memory().unwrap();
        let id = store
            .submit_job(&NewJob::new("S", "plan").max_tries(2))
            .unwrap();
        let one = store.claim_job("w", LEASE).unwrap().unwrap();
        assert_eq!(store.fail_job(&one, "boom 1").unwrap(), JobState::Queued);
        let two = store.claim_job("w", LEASE).unwrap().unwrap();
        assert_eq!(two.job.tries, 2);
        assert_eq!(store.fail_job(&two, "boom 2").unwrap(), JobState::Dead);
        let dead = store.job(id).unwrap().unwrap();
        assert_eq!(dead.state, JobState::Dead);
        assert_eq!(dead.last_error.as_deref(), Some("try 2 of 2: boom 2"));
        assert!(store.claim_job("w", LEASE).unwrap().is_none());
        assert_eq!(
            store.jobs(Some(JobState::Dead), Page::first(5)).unwrap()[0].id,
            id
        );
    }

    #[test]
    fn an_expired_lease_with_no_try_left_is_dead() {
        let store = Store::open_in_memory().unwrap();
        let dead = store
            .submit_job(&NewJob::new("S", "plan").max_tries(1))
            .unwrap();
        let next = store.submit_job(&NewJob::new("T", "plan")).unwrap();
        let now = now_millis();
        store.claim_job_at("w1", LEASE, now).unwrap().unwrap();
        let claimed = store
            .claim_job_at("w2", LEASE, now + 60_000)
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id(), next, "the dead job is skipped");
        let job = store.job(dead).unwrap().unwrap();
        assert_eq!(job.state, JobState::Dead);
        assert!(job.last_error.unwrap().contains("try 1 of 1"));
    }

    #[test]
    fn release_hands_back_without_using_a_try() {
        let store = Store::open_in_memory().unwrap();
        let id = store.submit_job(&NewJob::new("S", "plan")).unwrap();
        let claimed = store.claim_job("w1", LEASE).unwrap().unwrap();
        assert!(store.release_job(&claimed).unwrap());
        let job = store.job(id).unwrap().unwrap();
        assert_eq!((job.state, job.tries), (JobState::Queued, 0));
        assert!(!store.heartbeat_job(&claimed, LEASE).unwrap());
        let again = store.claim_job("w2", LEASE).unwrap().unwrap();
        assert_eq!((again.job.tries, again.worker.as_str()), (1, "w2"));
    }

    #[test]
    fn bad_input_is_refused_with_a_clear_error() {
        let store = Store::open_in_memory().unwrap();
        let err = store
            .submit_job(&NewJob::new("S", "plan").max_tries(0))
            .unwrap_err();
        assert!(err.to_string().contains("max_tries"), "{err}");
        let err = store.claim_job("w", Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("lease"), "{err}");
        let err = "paused".parse::<JobState>().unwrap_err();
        assert!(err.to_string().contains("\"paused\""), "{err}");
        assert_eq!(store.job(JobId(42)).unwrap(), None);
    }

    #[test]
    fn completion_finishes_the_executions_in_the_same_transaction() {
        let store = Store::open_in_memory().unwrap();
        store.submit_job(&NewJob::new("S", "plan")).unwrap();
        let job = store.claim_job("w", LEASE).unwrap().unwrap();
        let execution = store.execution_started("a", 1).unwrap();
        let rec = record("S").execution(execution, "ok");
        let run_id = store.complete_job(&job, &rec).unwrap();
        let executions = store.executions_for_run(run_id).unwrap();
        assert_eq!(executions.len(), 1);
        assert_eq!(executions[0].outcome.as_deref(), Some("ok"));
        assert_eq!(store.spec("S").unwrap().unwrap().stage, "plan");
        assert_eq!(store.outputs_for_run(run_id).unwrap().len(), 1);
    }

    #[test]
    fn pruning_a_jobs_run_keeps_the_job() {
        let store = Store::open_in_memory().unwrap();
        let id = store.submit_job(&NewJob::new("S", "plan")).unwrap();
        let job = store.claim_job("w", LEASE).unwrap().unwrap();
        store.complete_job(&job, &record("S")).unwrap();
        let report = store.prune_before(i64::MAX).unwrap();
        assert_eq!(report.runs, 1);
        let job = store.job(id).unwrap().unwrap();
        assert_eq!((job.state, job.run_id), (JobState::Done, None));
    }

    #[test]
    fn every_job_query_uses_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("q.db"), Options::default()).unwrap();
        for (name, sql, index) in JOB_QUERIES {
            let plan: Vec<String> = store
                .read(|c| {
                    let mut stmt = c
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .map_err(store.map("plan"))?;
                    let n = stmt.parameter_count();
                    let args: Vec<i64> = vec![1; n];
                    stmt.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                        .and_then(|rows| rows.collect())
                        .map_err(store.map("plan"))
                })
                .unwrap();
            let text = plan.join(" | ");
            assert!(text.contains(index), "{name}: {text}");
            assert!(!text.contains("TEMP B-TREE"), "{name} sorts: {text}");
        }
    }
}
