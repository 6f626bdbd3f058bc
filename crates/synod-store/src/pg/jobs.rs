//! [`JobQueue`] on PostgreSQL: the same `jobs` table and lease rules as SQLite's
//! (crate::jobs), shared by workers on every machine using the server.
//!
//! Every operation is ONE statement (one round trip, its own transaction):
//! - a claim buries the expired jobs with no try left, then takes the running job whose lease
//!   expired first, else the oldest queued one; each row is picked `FOR UPDATE SKIP LOCKED`,
//!   so concurrent claims never wait on each other and never take the same job;
//! - a completion locks the job row (`FOR UPDATE`), and writes the run, its outputs, the
//!   spec's stage, the executions and the job's `done` only if the row still carries the
//!   worker's fencing token. A claim that took the job first makes the completion write
//!   nothing ([`Error::LeaseLost`]).

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Row;

use crate::error::{Error, Result};
use crate::evidence::{StageRecord, StoreFuture};
use crate::jobs::{
    ClaimedJob, Job, JobId, JobQueue, JobState, LOST, NewJob, check_tries, finish_job, lease_lost,
    lease_millis,
};
use crate::model::{Page, RunId, UnixMillis, now_millis};

use super::{PgStore, stage_parts};

/// The time `$param` gives, else the server's clock (milliseconds since the Unix epoch, one
/// value for the whole statement). Leases are measured on the server's clock, so workers on
/// machines whose clocks disagree still agree on when a lease expires.
macro_rules! server_now {
    ($param:literal) => {
        concat!(
            "coalesce(",
            $param,
            "::int8, (extract(epoch FROM statement_timestamp()) * 1000)::int8)"
        )
    };
}

macro_rules! job_columns {
    () => {
        "id, spec_id, stage, prompt, state, tries, max_tries, lease_owner, lease_token, \
         lease_until, last_error, run_id, created_at, updated_at"
    };
}

/// `$1` worker, `$2` lease in milliseconds, `$3` now (NULL: the server's clock). The
/// expired note is crate::jobs's `expired_note`, in SQL.
const SQL_CLAIM: &str = concat!(
    "WITH clock AS (SELECT ",
    server_now!("$3"),
    " AS now
), buried AS (
    UPDATE jobs SET state = 'dead', lease_until = NULL, updated_at = clock.now,
        last_error = 'try ' || tries || ' of ' || max_tries || ': the lease of worker '
            || coalesce(lease_owner, '?')
            || ' expired (the worker died or stopped heartbeating)'
    FROM clock
    WHERE id IN (SELECT id FROM jobs, clock WHERE state = 'running' AND lease_until < clock.now
                 AND tries >= max_tries FOR UPDATE OF jobs SKIP LOCKED)
), expired AS (
    SELECT id, 'try ' || tries || ' of ' || max_tries || ': the lease of worker '
            || coalesce(lease_owner, '?')
            || ' expired (the worker died or stopped heartbeating)' AS note
    FROM jobs, clock WHERE state = 'running' AND lease_until < clock.now AND tries < max_tries
    ORDER BY lease_until LIMIT 1 FOR UPDATE OF jobs SKIP LOCKED
), queued AS (
    SELECT id, NULL::text AS note FROM jobs
    WHERE state = 'queued' AND NOT EXISTS (SELECT 1 FROM expired)
    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
), pick AS (
    SELECT id, note FROM expired UNION ALL SELECT id, note FROM queued
)
UPDATE jobs SET state = 'running', tries = jobs.tries + 1, lease_owner = $1,
    lease_token = jobs.lease_token + 1, lease_until = clock.now + $2::int8,
    updated_at = clock.now, last_error = coalesce(pick.note, jobs.last_error)
FROM pick, clock WHERE jobs.id = pick.id
RETURNING jobs.id, jobs.spec_id, jobs.stage, jobs.prompt, jobs.state, jobs.tries,
    jobs.max_tries, jobs.lease_owner, jobs.lease_token, jobs.lease_until, jobs.last_error,
    jobs.run_id, jobs.created_at, jobs.updated_at"
);

/// The stage record's 22 parameters, then `$23` job, `$24` token, `$25` now.
const SQL_COMPLETE: &str = concat!(
    "WITH job AS (
    SELECT id FROM jobs WHERE id = $23 AND state = 'running' AND lease_token = $24 FOR UPDATE
), run AS (
    INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json)
    SELECT $1::text, $2::text, $3::int8, $4::int8, $5::text, $6::jsonb FROM job RETURNING id
), ",
    stage_parts!(),
    ", done AS (
    UPDATE jobs SET state = 'done', run_id = run.id, lease_until = NULL, updated_at = $25
    FROM run WHERE jobs.id = $23
)
SELECT id FROM run"
);

const SQL_SUBMIT: &str = "INSERT INTO jobs (spec_id, stage, prompt, state, max_tries, created_at, updated_at) \
     VALUES ($1, $2, $3, 'queued', $4, $5, $5) RETURNING id";
/// `$1` job, `$2` token, `$3` lease in milliseconds, `$4` now (NULL: the server's clock).
const SQL_HEARTBEAT: &str = concat!(
    "WITH clock AS (SELECT ",
    server_now!("$4"),
    " AS now)
UPDATE jobs SET lease_until = clock.now + $3::int8, updated_at = clock.now FROM clock
WHERE id = $1 AND state = 'running' AND lease_token = $2 RETURNING id"
);
const SQL_FAIL: &str = "UPDATE jobs SET state = CASE WHEN tries >= max_tries THEN 'dead' ELSE 'queued' END, \
     lease_until = NULL, last_error = $3, updated_at = $4 \
     WHERE id = $1 AND state = 'running' AND lease_token = $2 RETURNING state";
const SQL_RELEASE: &str = "UPDATE jobs SET state = 'queued', tries = GREATEST(tries - 1, 0), \
     lease_until = NULL, updated_at = $3 WHERE id = $1 AND state = 'running' AND lease_token = $2 \
     RETURNING id";
const SQL_JOBS_BY_STATE: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE state = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
);
const SQL_JOBS_ALL: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs ORDER BY id DESC LIMIT $1 OFFSET $2"
);
const SQL_JOB: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");

/// The job queue's read paths, for the query-plan test.
#[doc(hidden)]
pub const PG_JOB_QUERIES: &[(&str, &str)] = &[
    ("claim", SQL_CLAIM),
    ("jobs(state)", SQL_JOBS_BY_STATE),
    ("job(id)", SQL_JOB),
];

fn read_job(row: &Row) -> Result<Job> {
    let count = |i: usize| u32::try_from(row.get::<_, i64>(i)).unwrap_or(u32::MAX);
    let job = Job {
        id: JobId(row.get(0)),
        spec_id: row.get(1),
        stage: row.get(2),
        prompt: row.get(3),
        state: JobState::Queued,
        tries: count(5),
        max_tries: count(6),
        lease_owner: row.get(7),
        lease_token: row.get(8),
        lease_until: row.get(9),
        last_error: row.get(10),
        run_id: row.get::<_, Option<i64>>(11).map(RunId),
        created_at: row.get(12),
        updated_at: row.get(13),
    };
    finish_job((job, row.get(4)))
}

impl PgStore {
    /// [`JobQueue::claim`] at the time `now` (leases expiring before `now` are expired).
    /// [`JobQueue::claim`] itself measures time on the server's clock.
    pub async fn claim_job_at(
        &self,
        worker: &str,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Option<ClaimedJob>> {
        self.claim_job(worker, lease, Some(now)).await
    }

    async fn claim_job(
        &self,
        worker: &str,
        lease: Duration,
        now: Option<UnixMillis>,
    ) -> Result<Option<ClaimedJob>> {
        let lease = lease_millis(lease)?;
        let rows = self
            .query_all("claim_job", SQL_CLAIM, &[&worker, &lease, &now])
            .await?;
        rows.first()
            .map(|row| {
                let job = read_job(row)?;
                Ok(ClaimedJob {
                    token: job.lease_token,
                    worker: worker.to_owned(),
                    job,
                })
            })
            .transpose()
    }

    /// [`JobQueue::heartbeat`] at the time `now` ([`JobQueue::heartbeat`] itself measures
    /// time on the server's clock).
    pub async fn heartbeat_job_at(
        &self,
        job: &ClaimedJob,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<bool> {
        self.heartbeat_job(job, lease, Some(now)).await
    }

    async fn heartbeat_job(
        &self,
        job: &ClaimedJob,
        lease: Duration,
        now: Option<UnixMillis>,
    ) -> Result<bool> {
        let lease = lease_millis(lease)?;
        let rows = self
            .query_all(
                "heartbeat_job",
                SQL_HEARTBEAT,
                &[&job.job.id.0, &job.token, &lease, &now],
            )
            .await?;
        Ok(rows.len() == 1)
    }

    async fn complete_job(&self, job: &ClaimedJob, record: &StageRecord) -> Result<RunId> {
        let now = now_millis();
        self.record_with(
            "complete_job",
            SQL_COMPLETE,
            record,
            &[&job.job.id.0, &job.token, &now],
        )
        .await?
        .ok_or_else(|| lease_lost(job, LOST))
    }

    async fn fail_job(&self, job: &ClaimedJob, error: &str) -> Result<JobState> {
        let error = format!("try {} of {}: {error}", job.job.tries, job.job.max_tries);
        let rows = self
            .query_all(
                "fail_job",
                SQL_FAIL,
                &[&job.job.id.0, &job.token, &error, &now_millis()],
            )
            .await?;
        match rows.first() {
            Some(row) => row.get::<_, String>(0).parse(),
            None => Err(lease_lost(job, LOST)),
        }
    }

    async fn release_job(&self, job: &ClaimedJob) -> Result<bool> {
        let rows = self
            .query_all(
                "release_job",
                SQL_RELEASE,
                &[&job.job.id.0, &job.token, &now_millis()],
            )
            .await?;
        Ok(rows.len() == 1)
    }

    async fn list_jobs(&self, state: Option<JobState>, page: Page) -> Result<Vec<Job>> {
        let (limit, offset) = (i64::from(page.limit), i64::from(page.offset));
        let rows = match state {
            Some(state) => {
                let state = state.as_str();
                self.query_all("jobs", SQL_JOBS_BY_STATE, &[&state, &limit, &offset])
                    .await?
            }
            None => {
                self.query_all("jobs", SQL_JOBS_ALL, &[&limit, &offset])
                    .await?
            }
        };
        rows.iter().map(read_job).collect()
    }

    async fn one_job(&self, id: JobId) -> Result<Option<Job>> {
        let rows = self.query_all("job", SQL_JOB, &[&id.0]).await?;
        rows.first().map(read_job).transpose()
    }
}

impl JobQueue for PgStore {
    fn submit(&self, job: NewJob) -> StoreFuture<'_, JobId> {
        Box::pin(async move {
            check_tries(&job)?;
            let rows = self
                .query_all(
                    "submit_job",
                    SQL_SUBMIT,
                    &[
                        &job.spec_id,
                        &job.stage,
                        &job.prompt,
                        &i64::from(job.max_tries),
                        &now_millis(),
                    ],
                )
                .await?;
            rows.first()
                .map(|row| JobId(row.get(0)))
                .ok_or_else(|| Error::Postgres {
                    url: self.url().to_owned(),
                    operation: "submit_job",
                    detail: "the insert returned no job id".to_owned(),
                    sqlstate: None,
                })
        })
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimedJob>> {
        Box::pin(self.claim_job(worker, lease, None))
    }

    fn heartbeat<'a>(&'a self, job: &'a ClaimedJob, lease: Duration) -> StoreFuture<'a, bool> {
        Box::pin(self.heartbeat_job(job, lease, None))
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        record: Arc<StageRecord>,
    ) -> StoreFuture<'a, RunId> {
        Box::pin(async move { self.complete_job(job, &record).await })
    }

    fn fail<'a>(&'a self, job: &'a ClaimedJob, error: &'a str) -> StoreFuture<'a, JobState> {
        Box::pin(self.fail_job(job, error))
    }

    fn release<'a>(&'a self, job: &'a ClaimedJob) -> StoreFuture<'a, bool> {
        Box::pin(self.release_job(job))
    }

    fn jobs(&self, state: Option<JobState>, page: Page) -> StoreFuture<'_, Vec<Job>> {
        Box::pin(self.list_jobs(state, page))
    }

    fn job(&self, id: JobId) -> StoreFuture<'_, Option<Job>> {
        Box::pin(self.one_job(id))
    }
}
