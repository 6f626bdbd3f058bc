//! `synod submit`, `synod worker` and `synod jobs`: the job queue (docs/adr/0019-job-queue.md),
//! in the configured store: a SQLite file (workers on one machine) or a PostgreSQL server
//! (workers on many).
//!
//! `submit` queues a stage run and prints its job id (`--wait`: waits for the verdict and
//! exits like `synod run`); `worker` claims and runs jobs (`--concurrency N`, `--once`);
//! SIGTERM (or Ctrl-C) stops claiming, lets running jobs finish for `[jobs] grace`, then
//! stops their agents and hands them back; `jobs` lists the queue.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use synod::orchestrator::{HumanDuration, JobOutcome, StageStatus, Worker, WorkerOptions};
use synod::store::{AnyStore, ClaimedJob, Job, JobId, JobQueue, JobState, NewJob, Page};
use tokio_util::sync::CancellationToken;

use crate::common::{
    ConfigArgs, Failure, PromptArgs, errln, finish, one_reader_of_stdin, open_any, outln,
    print_json, shell_word, verdict_text,
};
use crate::signals::StopSignals;
use crate::watchdog;

/// Arguments of `synod submit`.
#[derive(Debug, clap::Args)]
pub(crate) struct SubmitArgs {
    /// Spec the agents work on (e.g. DEMO-1).
    #[arg(long, value_name = "ID")]
    spec: String,
    /// Stage to run (a `[[stages]]` name from the config).
    #[arg(long, value_name = "NAME")]
    stage: String,
    #[command(flatten)]
    prompt: PromptArgs,
    /// Claims the job gets before it is dead (overrides `jobs.max_tries`, default 3; at
    /// least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_tries: Option<u32>,
    /// Wait for a worker to run the job, print the verdict and exit like `synod run`
    /// (0 ok/degraded, 1 conflict/no quorum, 2 dead job or error).
    #[arg(long)]
    wait: bool,
    /// With --wait: print the recorded run as JSON.
    #[arg(long, requires = "wait")]
    json: bool,
    /// With --wait: stop waiting after this long, e.g. `10m` (exit 2; the job stays queued
    /// or running). Default: wait until the job is done or dead.
    #[arg(long, value_name = "DURATION", requires = "wait")]
    timeout: Option<HumanDuration>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `synod worker`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// Jobs run at once (at least 1).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    concurrency: usize,
    /// Run what is queued, then exit when the queue is empty.
    #[arg(long)]
    once: bool,
    /// The worker's name in the queue (default: HOST:PID).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `synod jobs`.
#[derive(Debug, clap::Args)]
pub(crate) struct JobsArgs {
    /// Only jobs in this state.
    #[arg(long, value_name = "STATE", value_parser = ["queued", "running", "done", "dead"])]
    state: Option<String>,
    /// Most jobs to list, newest first (at least 1).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Print the jobs as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

pub(crate) async fn submit(args: SubmitArgs, verbose: bool) -> ExitCode {
    finish(submit_inner(args).await, verbose)
}

pub(crate) async fn worker(args: WorkerArgs, verbose: bool) -> ExitCode {
    finish(worker_inner(args).await, verbose)
}

pub(crate) async fn jobs(args: JobsArgs, verbose: bool) -> ExitCode {
    finish(jobs_inner(&args).await, verbose)
}

async fn submit_inner(args: SubmitArgs) -> Result<ExitCode, Failure> {
    one_reader_of_stdin(&args.config, &args.prompt)?;
    let loaded = args.config.load()?;
    synod::orchestrator::check_spec_id(&args.spec)
        .map_err(|e| Failure::new("cannot submit".to_owned(), e))?;
    loaded
        .config
        .require_stage(&args.stage)
        .map_err(|e| Failure::new(format!("cannot submit {}", args.spec), e))?;
    // A worker would only find out when it claims the job.
    let prompt = args.prompt.read()?;
    synod::orchestrator::check_prompt(&args.stage, prompt.as_deref())
        .map_err(|e| Failure::new(format!("cannot submit {}", args.spec), e))?;
    let store = open_any(&loaded).await?;
    let mut job = NewJob::new(&args.spec, &args.stage)
        .max_tries(args.max_tries.unwrap_or(loaded.config.jobs.max_tries));
    if let Some(prompt) = &prompt {
        job = job.prompt(prompt);
    }
    let id = store.submit(job).await.map_err(|e| {
        Failure::new(
            format!("cannot submit stage {:?} of {}", args.stage, args.spec),
            e,
        )
    })?;
    outln!("{id}");
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    let job = match args.timeout {
        None => wait_for(&store, id).await?,
        Some(limit) => tokio::time::timeout(limit.get(), wait_for(&store, id))
            .await
            .map_err(|_| {
                Failure::msg(format!(
                    "job {id} was not finished after {limit}; it stays in the queue \
                     (`synod jobs` shows it)"
                ))
            })??,
    };
    let run_id = match (job.state, job.run_id) {
        (JobState::Done, Some(run_id)) => run_id,
        (JobState::Done, None) => {
            return Err(Failure::msg(format!(
                "job {id} is done but its run was pruned from the store"
            )));
        }
        (_, _) => {
            return Err(Failure::msg(format!(
                "job {id} ({} / {}) is dead after {} tries: {}",
                job.spec_id,
                job.stage,
                job.tries,
                job.last_error.as_deref().unwrap_or("no error recorded")
            )));
        }
    };
    let run = store
        .run(run_id)
        .await
        .map_err(|e| Failure::new(format!("cannot read run {run_id}"), e))?
        .ok_or_else(|| Failure::msg(format!("run {run_id} of job {id} is not in the store")))?;
    if args.json {
        print_json(&run)?;
    } else {
        match serde_json::from_value::<synod::consensus::Verdict>(run.verdict.clone()) {
            Ok(verdict) => outln!("{}", verdict_text(&verdict.to_markdown(), &run.status)),
            Err(_) => outln!(
                "{}",
                serde_json::to_string_pretty(&run.verdict).unwrap_or_default()
            ),
        }
        let options = args.config.follow_up();
        outln!(
            "Verdict: {}. Evidence: run {run_id} (see `synod show {run_id}{options}`, `synod history {}{options}`).",
            run.status,
            shell_word(&run.spec_id)
        );
    }
    Ok(ExitCode::from(status_exit_code(&run.status)))
}

/// The exit code `synod run` gives a stored status (1 for a status this synod does not know).
fn status_exit_code(status: &str) -> u8 {
    serde_json::from_value::<StageStatus>(serde_json::Value::from(status))
        .map_or(1, StageStatus::exit_code)
}

/// Polls the job until it is done or dead.
/// Polls job `id` until it is done or dead, saying on stderr what it waits for each time
/// the job's state or try changes (queued: for a worker; running: for which worker).
async fn wait_for(store: &AnyStore, id: JobId) -> Result<Job, Failure> {
    let mut delay = Duration::from_millis(20);
    let mut seen: Option<(JobState, u32)> = None;
    loop {
        let job = store
            .job(id)
            .await
            .map_err(|e| Failure::new(format!("cannot read job {id}"), e))?
            .ok_or_else(|| Failure::msg(format!("job {id} disappeared from the store")))?;
        if matches!(job.state, JobState::Done | JobState::Dead) {
            return Ok(job);
        }
        if seen != Some((job.state, job.tries)) {
            seen = Some((job.state, job.tries));
            match job.state {
                JobState::Running => errln!(
                    "[synod] job {id}: running on {} (try {} of {})",
                    job.lease_owner.as_deref().unwrap_or("a worker"),
                    job.tries,
                    job.max_tries
                ),
                _ => errln!(
                    "[synod] job {id}: queued, waiting for a worker (`synod worker` runs it)"
                ),
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

async fn worker_inner(args: WorkerArgs) -> Result<ExitCode, Failure> {
    let loaded = args.config.load()?;
    let plan = loaded
        .plan()
        .map_err(|e| Failure::new("invalid config", e))?;
    let store = open_any(&loaded).await?;
    let jobs = &loaded.config.jobs;
    let name = args.name.unwrap_or_else(default_name);
    let mut options = WorkerOptions::new(&name).lease(jobs.lease.get());
    options.concurrency = args.concurrency;
    options.once = args.once;
    options.grace = jobs.grace.get();
    options.poll = jobs.poll.get();

    if let Err(err) = synod::exec::become_subreaper() {
        tracing::warn!(error = %err, "orphaned agent descendants may outlive their agent");
    }
    // Should the worker be SIGKILLed, its agents die with it and its jobs wait for their
    // leases to expire.
    let guard = watchdog::Guard::start();
    // Every worker on this store sees the rate limits and open breakers the others met.
    let mut worker = Worker::new(plan, Arc::new(store.clone()), options)
        .shared_holds(Arc::new(store))
        .on_job(Arc::new(print_outcome));
    if let Some(guard) = &guard {
        worker = worker.agent_env(watchdog::MARKER_VAR, guard.marker());
    }
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let signals = StopSignals::register();
    let grace = jobs.grace;
    let waiter = tokio::spawn(async move {
        signals.recv().await;
        errln!("synod worker: stopping; running jobs get {grace} to finish, then are handed back");
        on_signal.cancel();
    });
    errln!(
        "synod worker {name}: {} slot(s), lease {}{}",
        args.concurrency,
        jobs.lease,
        if args.once {
            ", until the queue is empty"
        } else {
            ""
        }
    );
    let report = worker.run(&stop).await;
    waiter.abort();
    if let Some(guard) = guard {
        guard.stop().await;
    }
    let report = report.map_err(|e| Failure::new(format!("worker {name} stopped"), e))?;
    errln!(
        "synod worker {name}: {} done, {} failed, {} dead, {} handed back, {} lost",
        report.completed,
        report.failed,
        report.dead,
        report.released,
        report.lost
    );
    Ok(ExitCode::SUCCESS)
}

fn print_outcome(job: &ClaimedJob, outcome: &JobOutcome) {
    outln!(
        "job {} {}/{} (try {} of {}, {}): {outcome}",
        job.id(),
        job.job.spec_id,
        job.job.stage,
        job.job.tries,
        job.job.max_tries,
        job.worker
    );
}

/// `HOST:PID`.
fn default_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}:{}", std::process::id())
}

async fn jobs_inner(args: &JobsArgs) -> Result<ExitCode, Failure> {
    let (_, store) = args.config.open_any_read_only().await?;
    let state = args
        .state
        .as_deref()
        .map(str::parse::<JobState>)
        .transpose()
        .map_err(|e| Failure::new("--state", e))?;
    let jobs = store
        .jobs(state, Page::first(args.limit))
        .await
        .map_err(|e| Failure::new("cannot list the jobs", e))?;
    if args.json {
        print_json(&jobs)?;
        return Ok(ExitCode::SUCCESS);
    }
    if jobs.is_empty() {
        let which = state.map_or_else(String::new, |s| format!("{s} "));
        outln!("no {which}jobs");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>6}  {:<8} {:>5}  {:<16} {:<12} {:>6}  {:<20} last error",
        "job",
        "state",
        "tries",
        "spec",
        "stage",
        "run",
        "worker"
    );
    for job in &jobs {
        outln!(
            "{:>6}  {:<8} {:>5}  {:<16} {:<12} {:>6}  {:<20} {}",
            job.id,
            job.state,
            format!("{}/{}", job.tries, job.max_tries),
            job.spec_id,
            job.stage,
            job.run_id.map_or_else(|| "-".to_owned(), |r| r.to_string()),
            job.lease_owner.as_deref().unwrap_or("-"),
            job.last_error.as_deref().unwrap_or("")
        );
    }
    let now = synod::store::now_millis();
    for job in &jobs {
        if let Some(note) = expired_lease_note(job, now) {
            outln!("{note}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// For a job still `running` whose lease ran out: its worker stopped renewing it (it died,
/// hung or lost the store), and the next worker to poll takes the job over.
fn expired_lease_note(job: &Job, now: synod::store::UnixMillis) -> Option<String> {
    let until = job.lease_until.filter(|_| job.state == JobState::Running)?;
    let overdue = u64::try_from(now.checked_sub(until)?)
        .ok()
        .filter(|&ms| ms > 0)?;
    let ago = synod::core::duration::format_duration_rounded(Duration::from_millis(overdue));
    let owner = job.lease_owner.as_deref().unwrap_or("its worker");
    let next = if job.tries < job.max_tries {
        format!(
            "the next `synod worker` takes it over (try {} of {})",
            job.tries + 1,
            job.max_tries
        )
    } else {
        "its tries are used up, so the next `synod worker` marks it dead".to_owned()
    };
    Some(format!(
        "note: job {}'s lease ran out {ago} ago: {owner} stopped renewing it; {next}",
        job.id
    ))
}

#[cfg(test)]
mod tests {
    use super::{expired_lease_note, status_exit_code};
    use synod::store::Job;

    #[test]
    fn a_waited_jobs_stored_status_exits_as_synod_run_would() {
        for (status, code) in [
            ("ok", 0),
            ("degraded", 0),
            ("conflict", 1),
            ("no_quorum", 1),
            ("cancelled", 130),
            ("a status of a newer synod", 1),
        ] {
            assert_eq!(status_exit_code(status), code, "{status}");
        }
    }

    fn job(state: &str, tries: u32, lease_until: Option<i64>) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": 7, "spec_id": "S", "stage": "plan", "prompt": null, "state": state,
            "tries": tries, "max_tries": 3, "lease_owner": "host:1#1", "lease_token": 1,
            "lease_until": lease_until, "last_error": null, "run_id": null,
            "created_at": 0, "updated_at": 0
        }))
        .unwrap()
    }

    #[test]
    fn only_a_running_job_past_its_lease_gets_a_note() {
        let now = 100_000;
        assert_eq!(
            expired_lease_note(&job("running", 1, Some(now - 12_300)), now).as_deref(),
            Some(
                "note: job 7's lease ran out 12s ago: host:1#1 stopped renewing it; the next `synod worker` takes it over (try 2 of 3)"
            )
        );
        assert_eq!(
            expired_lease_note(&job("running", 3, Some(now - 1)), now).as_deref(),
            Some(
                "note: job 7's lease ran out 1ms ago: host:1#1 stopped renewing it; its tries are used up, so the next `synod worker` marks it dead"
            )
        );
        // A lease that ends now or later, and jobs that hold no lease, get none.
        for quiet in [
            job("running", 1, Some(now)),
            job("running", 1, Some(now + 5_000)),
            job("queued", 1, None),
            job("done", 1, Some(now - 5_000)),
        ] {
            assert_eq!(expired_lease_note(&quiet, now), None, "{quiet:?}");
        }
    }
}
