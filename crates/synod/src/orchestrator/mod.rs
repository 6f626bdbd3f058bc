//! The Orchestrator: run a stage of agents end to end.
//!
//! [`Orchestrator::run_stage`] takes a spec id and a stage name from the [`SynodConfig`] and:
//!
//! 1. renders the stage prompt and each agent's command line (`{prompt}`, `{spec_id}`,
//!    `{stage}`, `{previous_outputs}`, `{attempt}`), and gives every agent the environment
//!    variables `SYNOD_AGENT`, `SYNOD_SPEC_ID`, `SYNOD_STAGE` and `SYNOD_ATTEMPT`;
//! 2. runs the agents through synod-exec (own process group, timeout, kill grace) in
//!    parallel or in sequence, each behind its own circuit breaker, with its retry policy,
//!    all retries drawing on one shared retry budget (synod-resilience). A permanent failure
//!    ("401 invalid api key") is attempted once; a rate-limited one waits its retry-after;
//!    an agent whose breaker is open is skipped and reported;
//! 3. extracts each answer's JSON and synthesizes a verdict (synod-consensus);
//! 4. stores the run, every attempt's output, the verdict and the spec's new stage in one
//!    IMMEDIATE transaction (synod-store); each spawned process is also tracked as an
//!    execution, so a crash of the orchestrator itself leaves a visible trace;
//! 5. returns a [`StageReport`], having sent [`Event`]s to the channel given with
//!    [`Orchestrator::events`].
//!
//! Cancelling the token given to [`Orchestrator::run_stage_with`] stops every running agent
//! (SIGTERM to its process group, SIGKILL after its kill grace), skips the rest, and stores
//! the run with status `cancelled`.
//!
//! ```
//! use synod::orchestrator::{Orchestrator, SynodConfig, StageStatus};
//! use synod::store::Store;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: SynodConfig = toml::from_str(r#"
//!     [[agents]]
//!     name = "a"
//!     command = "sh"
//!     args = ["-c", "cat >/dev/null; echo '{\"answer\": 42}'"]
//!     [[agents]]
//!     name = "b"
//!     command = "sh"
//!     args = ["-c", "echo 'I think so too: {\"answer\": 42}'"]
//!     [[stages]]
//!     name = "ask"
//!     prompt = "What is the answer for {spec_id}?"
//!     consensus = { decision_fields = ["/answer"], quorum = "all" }
//! "#)?;
//! let orchestrator = Orchestrator::new(config, Store::open_in_memory()?)?;
//! let report = orchestrator.run_stage("S-1", "ask").await?;
//! assert_eq!(report.status, StageStatus::Ok);
//! assert_eq!(report.agents.len(), 2);
//! assert!(report.run_id.is_some());
//! # Ok(()) }
//! ```

mod breakers;
mod config;
mod error;
mod event;
mod load;
mod redact;
mod report;
mod template;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use synod_consensus::{AgentReport, ExtractOptions};
use synod_exec::AgentCommand;
use synod_resilience::{
    BreakerError, BreakerState, BudgetConfig, Classify, ErrorClass, RetryBudget, RetryPolicy,
};
use synod_store::{AsyncStore, ExecutionId, NewOutput, NewRun, Store, now_millis};
use tokio::sync::{Semaphore, mpsc::UnboundedSender, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

pub use config::{
    AgentConfig, BreakerSettings, BudgetSettings, CONFIG_VERSION, Jitter, Mode, PromptVia,
    RedactSettings, RetrySettings, StageConfig, StoreConfig, SynodConfig,
};
pub use error::{Error, Result};
pub use event::Event;
pub use load::LoadedConfig;
pub use redact::{MIN_SECRET_VALUE_LEN, REDACTED, Redactor, RedactorBuilder, is_secret_env_name};
pub use report::{AgentOutcome, AgentRun, AttemptReport, StageReport, StageStatus};
pub use synod_core::HumanDuration;
pub use template::Vars;

use breakers::Breakers;

/// Runs stages of agents described by a [`SynodConfig`], storing the evidence. Cheap to
/// share behind an `Arc`; breakers and the retry budget persist across
/// [`run_stage`](Self::run_stage) calls on the same orchestrator.
#[derive(Debug)]
pub struct Orchestrator {
    config: Arc<SynodConfig>,
    store: AsyncStore,
    store_path: PathBuf,
    base_dir: PathBuf,
    events: Option<UnboundedSender<Event>>,
    agent_env: Vec<(String, String)>,
    budget: Option<RetryBudget>,
    breakers: Breakers,
    extract: ExtractOptions,
    redactor: Redactor,
    track_executions: bool,
}

impl Orchestrator {
    /// An orchestrator for `config` (validated here) storing into `store`. Relative agent
    /// working directories and prompt files resolve from `.` until [`base_dir`](Self::base_dir)
    /// says otherwise.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the config is inconsistent.
    pub fn new(config: SynodConfig, store: Store) -> Result<Self> {
        config.validate()?;
        let budget = if config.budget.enabled {
            let costs = BudgetConfig {
                capacity: config.budget.capacity,
                retry_cost: config.budget.retry_cost,
                timeout_retry_cost: config.budget.timeout_retry_cost,
                success_reward: config.budget.success_reward,
            };
            Some(RetryBudget::new(costs).map_err(|e| Error::InvalidConfig {
                key: "budget".into(),
                message: e.to_string(),
            })?)
        } else {
            None
        };
        let breakers = Breakers::new(&config.breaker)?;
        let redactor = Redactor::for_config(&config)?;
        Ok(Self {
            store_path: store.path().to_path_buf(),
            store: store.into_async(),
            config: Arc::new(config),
            base_dir: PathBuf::from("."),
            events: None,
            agent_env: Vec::new(),
            budget,
            breakers,
            extract: ExtractOptions::cli_defaults(),
            redactor,
            track_executions: true,
        })
    }

    /// Resolves relative agent working directories and prompt files from `dir` (the config
    /// file's directory, usually; see [`LoadedConfig::base_dir`]).
    #[must_use]
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = dir.into();
        self
    }

    /// The store path shown in reports (default: the path the store was opened with).
    #[must_use]
    pub fn store_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.store_path = path.into();
        self
    }

    /// Sends progress [`Event`]s to `tx` (a closed receiver is ignored).
    #[must_use]
    pub fn events(mut self, tx: UnboundedSender<Event>) -> Self {
        self.events = Some(tx);
        self
    }

    /// Adds an environment variable to every agent this orchestrator starts.
    #[must_use]
    pub fn agent_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.agent_env.push((key.into(), value.into()));
        self
    }

    /// Whether each spawned process is also recorded as an execution in the store (default
    /// true: a crash of the orchestrator then leaves executions without a completion).
    #[must_use]
    pub fn track_executions(mut self, on: bool) -> Self {
        self.track_executions = on;
        self
    }

    /// Replaces the redactor built from the config's `[redact]` section (and the secret
    /// environment) with `redactor`; [`Redactor::disabled`] stores output verbatim.
    #[must_use]
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SynodConfig {
        &self.config
    }

    /// The store the evidence goes to.
    #[must_use]
    pub fn store(&self) -> &AsyncStore {
        &self.store
    }

    /// The state of `agent`'s circuit breaker (None when breakers are disabled). An open
    /// breaker reports `Open` until the first call after its wait lets a probe through.
    #[must_use]
    pub fn breaker_state(&self, agent: &str) -> Option<BreakerState> {
        self.breakers.state(agent)
    }

    /// Tokens left in the shared retry budget (None when the budget is disabled).
    #[must_use]
    pub fn budget_available(&self) -> Option<u32> {
        self.budget.as_ref().map(RetryBudget::available)
    }

    /// Runs `stage` for `spec_id` with the stage's configured prompt. See the
    /// [module docs](self).
    ///
    /// # Errors
    /// An unknown stage, a stage without agents, an unreadable prompt file, or a store
    /// failure. Agent failures are not errors: they are in the report.
    pub async fn run_stage(&self, spec_id: &str, stage: &str) -> Result<StageReport> {
        self.run_stage_with(spec_id, stage, None, &CancellationToken::new())
            .await
    }

    /// Like [`run_stage`](Self::run_stage), with an optional prompt replacing the stage's, and
    /// a token that cancels the run.
    ///
    /// # Errors
    /// As [`run_stage`](Self::run_stage).
    pub async fn run_stage_with(
        &self,
        spec_id: &str,
        stage_name: &str,
        prompt: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<StageReport> {
        let span = tracing::info_span!("orchestrator.run_stage", spec_id, stage = stage_name);
        self.run_stage_inner(spec_id, stage_name, prompt, cancel)
            .instrument(span)
            .await
    }

    async fn run_stage_inner(
        &self,
        spec_id: &str,
        stage_name: &str,
        prompt: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<StageReport> {
        let clock = Instant::now();
        let started_at = now_millis();
        let stage = self.config.require_stage(stage_name)?;
        let agents = self.config.stage_agents(stage)?;
        if agents.is_empty() {
            return Err(Error::NoAgents {
                stage: stage_name.to_owned(),
            });
        }
        let template = match prompt {
            Some(text) => text.to_owned(),
            None => self.stage_prompt(stage)?,
        };
        let names: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();
        self.emit(Event::StageStarted {
            spec_id: spec_id.to_owned(),
            stage: stage_name.to_owned(),
            agents: names.clone(),
        });

        let ctx = StageCtx {
            spec_id,
            stage: stage_name,
            template: &template,
            cancel,
        };
        let results: Vec<AgentResult> = match stage.mode {
            Mode::Parallel => {
                let limit = Arc::new(Semaphore::new(
                    stage.max_concurrency.unwrap_or(agents.len()).max(1),
                ));
                let runs = agents.iter().map(|agent| {
                    let limit = Arc::clone(&limit);
                    let ctx = &ctx;
                    async move {
                        let _slot = limit.acquire_owned().await.ok();
                        self.run_agent(agent, ctx, "[]").await
                    }
                });
                futures::future::join_all(runs).await
            }
            Mode::Sequential => {
                let mut results = Vec::with_capacity(agents.len());
                let mut previous: Vec<Value> = Vec::new();
                for agent in &agents {
                    let previous_json = Value::Array(previous.clone()).to_string();
                    let result = self.run_agent(agent, &ctx, &previous_json).await;
                    if let Some(value) = &result.run.extracted {
                        previous.push(json!({ "agent": agent.name, "output": value }));
                    }
                    results.push(result);
                }
                results
            }
        };

        let reports: Vec<AgentReport> = results.iter().map(|r| r.consensus.clone()).collect();
        let verdict =
            synod_consensus::synthesize(&stage.consensus, &names, &reports).map_err(|e| {
                Error::InvalidConfig {
                    key: format!("stages.{stage_name}.consensus"),
                    message: e.to_string(),
                }
            })?;
        let status = if cancel.is_cancelled() {
            StageStatus::Cancelled
        } else {
            StageStatus::from(verdict.status)
        };

        let finished_at = now_millis();
        let mut outputs = Vec::new();
        let mut executions = Vec::new();
        let mut agent_runs = Vec::with_capacity(results.len());
        for result in results {
            outputs.extend(result.outputs);
            executions.extend(result.executions);
            agent_runs.push(result.run);
        }
        let verdict_json = serde_json::to_value(&verdict)
            .map_err(|e| Error::Internal(format!("cannot serialize the verdict: {e}")))?;
        let run_id = self
            .record(
                spec_id,
                stage_name,
                started_at,
                finished_at,
                status,
                outputs,
                verdict_json,
                executions,
            )
            .await?;
        self.emit(Event::VerdictReady {
            status,
            run_id: Some(run_id.0),
        });
        tracing::info!(%status, run_id = run_id.0, "stage finished");
        Ok(StageReport {
            run_id: Some(run_id.0),
            spec_id: spec_id.to_owned(),
            stage: stage_name.to_owned(),
            mode: stage.mode,
            status,
            verdict,
            agents: agent_runs,
            duration_ms: millis(clock.elapsed()),
            store_path: self.store_path.clone(),
        })
    }

    /// Stores the stage in one transaction, then completes its executions, all in one
    /// blocking task (one thread hop).
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        spec_id: &str,
        stage: &str,
        started_at: i64,
        finished_at: i64,
        status: StageStatus,
        outputs: Vec<NewOutput>,
        verdict: Value,
        executions: Vec<(ExecutionId, &'static str)>,
    ) -> Result<synod_store::RunId> {
        let store = self.store.blocking().clone();
        let unsaved_dir = unsaved_dir(&self.store_path);
        let mut run = NewRun {
            spec_id: spec_id.to_owned(),
            stage: stage.to_owned(),
            started_at,
            finished_at: finished_at.max(started_at),
            status: status.as_str().to_owned(),
        };
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            // (spec, stage, started_at) is unique; two runs started in the same millisecond
            // get distinct start stamps.
            let mut tries = 0;
            let run_id = loop {
                match store.record_stage(&run, &outputs, &verdict) {
                    Ok(id) => break id,
                    Err(synod_store::Error::Constraint { .. }) if tries < 5 => {
                        tries += 1;
                        run.started_at += 1;
                        run.finished_at = run.finished_at.max(run.started_at);
                    }
                    Err(err) => {
                        // The agents' work must not be lost with the write: keep it beside
                        // the store for `synod` (or a person) to look at or import later.
                        return Err(match keep_unsaved(&unsaved_dir, &run, &outputs, &verdict) {
                            Ok(path) => Error::NotRecorded {
                                path,
                                source: Box::new(err),
                            },
                            Err(keep) => {
                                tracing::warn!(error = %keep, "cannot keep the unsaved stage either");
                                Error::from(err)
                            }
                        });
                    }
                }
            };
            for (id, outcome) in executions {
                if let Err(err) =
                    store.execution_finished(id, run.finished_at, outcome, Some(run_id))
                {
                    tracing::warn!(error = %err, "cannot mark execution finished");
                }
            }
            Ok(run_id)
        })
        .await
        .map_err(|e| Error::Internal(format!("the store task failed: {e}")))?
    }

    fn stage_prompt(&self, stage: &StageConfig) -> Result<String> {
        if let Some(text) = &stage.prompt {
            return Ok(text.clone());
        }
        if let Some(file) = &stage.prompt_file {
            let path = self.resolve(file);
            return std::fs::read_to_string(&path)
                .map_err(|source| Error::PromptFile { path, source });
        }
        Ok(String::new())
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// The first line of an error, redacted.
    fn one_line(&self, text: &str) -> String {
        // Redact the whole text first: cutting the line could leave a partial credential
        // too short for its pattern.
        one_line(&self.redactor.redact(text))
    }

    fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    fn retry_policy(&self, agent: &AgentConfig) -> Result<RetryPolicy> {
        let r = &agent.retry;
        let policy = RetryPolicy::builder()
            .max_attempts(r.max_attempts)
            .initial_delay(r.initial_delay.get())
            .max_delay(r.max_delay.get())
            .multiplier(r.multiplier)
            .jitter(match r.jitter {
                Jitter::None => synod_resilience::Jitter::None,
                Jitter::Full => synod_resilience::Jitter::Full,
                Jitter::Equal => synod_resilience::Jitter::Equal,
                Jitter::Decorrelated => synod_resilience::Jitter::Decorrelated,
            })
            .max_elapsed(r.max_elapsed.map(HumanDuration::get))
            .build()
            .map_err(|e| Error::InvalidConfig {
                key: format!("agents.{}.retry", agent.name),
                message: e.to_string(),
            })?;
        Ok(match &self.budget {
            Some(budget) => policy.with_budget(budget),
            None => policy,
        })
    }

    fn command(
        &self,
        agent: &AgentConfig,
        vars: &Vars<'_>,
        cancel: &CancellationToken,
    ) -> AgentCommand {
        let mut args: Vec<String> = agent.args.iter().map(|a| vars.render(a)).collect();
        let mut cmd = AgentCommand::new(&agent.command);
        if agent.prompt_via == PromptVia::Arg
            && !agent.args.iter().any(|a| Vars::mentions_prompt(a))
        {
            args.push(vars.prompt.to_owned());
        }
        cmd = cmd.args(args);
        if agent.prompt_via == PromptVia::Stdin {
            cmd = cmd.stdin(vars.prompt.as_bytes().to_vec());
        }
        let cwd = agent
            .cwd
            .as_deref()
            .map_or_else(|| self.base_dir.clone(), |c| self.resolve(c));
        cmd = cmd
            .cwd(cwd)
            .env("SYNOD_AGENT", &agent.name)
            .env("SYNOD_SPEC_ID", vars.spec_id)
            .env("SYNOD_STAGE", vars.stage)
            .env("SYNOD_ATTEMPT", vars.attempt.to_string());
        for (key, value) in &agent.env {
            cmd = cmd.env(key, vars.render(value));
        }
        for (key, value) in &self.agent_env {
            cmd = cmd.env(key, value);
        }
        cmd.timeout(agent.timeout.get())
            .kill_grace(agent.kill_grace.get())
            .cancel_token(cancel.child_token())
    }

    /// Runs one agent with its breaker, retry policy and the shared budget.
    async fn run_agent(
        &self,
        agent: &AgentConfig,
        ctx: &StageCtx<'_>,
        previous: &str,
    ) -> AgentResult {
        let clock = Instant::now();
        let name = agent.name.as_str();
        let finish = |run: AgentRun, consensus: AgentReport, outputs, executions| {
            self.emit(Event::AgentFinished {
                agent: name.to_owned(),
                outcome: run.outcome,
                attempts: u32::try_from(run.attempts.len()).unwrap_or(u32::MAX),
                elapsed: clock.elapsed(),
            });
            AgentResult {
                run,
                consensus,
                outputs,
                executions,
            }
        };
        let skipped = |outcome: AgentOutcome, why: String| AgentRun {
            name: name.to_owned(),
            outcome,
            attempts: Vec::new(),
            extracted: None,
            error: Some(why),
            duration_ms: millis(clock.elapsed()),
        };

        if ctx.cancel.is_cancelled() {
            let why = "not started: the run was cancelled".to_owned();
            return finish(
                skipped(AgentOutcome::Cancelled, why.clone()),
                AgentReport::failed(name, why),
                vec![],
                vec![],
            );
        }
        let policy = match self.retry_policy(agent) {
            Ok(p) => p,
            Err(e) => {
                let why = e.to_string();
                return finish(
                    skipped(AgentOutcome::Failed, why.clone()),
                    AgentReport::failed(name, why),
                    vec![],
                    vec![],
                );
            }
        };

        let prompt_vars = Vars {
            spec_id: ctx.spec_id,
            stage: ctx.stage,
            prompt: "",
            previous_outputs: previous,
            attempt: 1,
        };
        let prompt = prompt_vars.render(ctx.template);
        let log: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let mut next_attempt = 0u32;
        // Whether an attempt's process is running (as opposed to a retry delay).
        let (in_flight, in_flight_rx) = watch::channel(false);
        let in_flight = &in_flight;

        let op = || {
            next_attempt += 1;
            let attempt = next_attempt;
            let vars = Vars {
                prompt: &prompt,
                attempt,
                ..prompt_vars
            };
            let cmd = self.command(agent, &vars, ctx.cancel);
            let log = Arc::clone(&log);
            let breaker = self.breakers.get(name);
            async move {
                if ctx.cancel.is_cancelled() {
                    return Err(AttemptError::Cancelled);
                }
                let _running = InFlight::enter(in_flight);
                let run = async {
                    self.emit(Event::AgentStarted {
                        agent: name.to_owned(),
                        attempt,
                    });
                    // The execution row is written while the process starts (off the
                    // critical path); an agent runs far longer than that write takes.
                    let track = async {
                        if self.track_executions {
                            self.store.execution_started(name, now_millis()).await.ok()
                        } else {
                            None
                        }
                    };
                    let t0 = Instant::now();
                    let (execution, result) = tokio::join!(track, synod_exec::run(&cmd));
                    let ran = Ran {
                        elapsed: t0.elapsed(),
                        execution,
                    };
                    match result {
                        Ok(output) => Ok((output, ran)),
                        Err(error) => Err(RunFailed { error, ran }),
                    }
                };
                let result = match &breaker {
                    None => run.await,
                    Some(breaker) => match breaker.call(run).await {
                        Ok(done) => Ok(done),
                        Err(BreakerError::Inner(failed)) => Err(failed),
                        Err(BreakerError::Rejected(rejected)) => {
                            return Err(AttemptError::BreakerOpen(rejected.to_string()));
                        }
                        Err(_) => {
                            return Err(AttemptError::BreakerOpen(format!(
                                "circuit breaker of {name} refused the call"
                            )));
                        }
                    },
                };
                let (record, ret) = self.settle(name, attempt, result);
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(record);
                ret
            }
        };
        let notify = |attempt: u32, err: &AttemptError, delay: Duration| {
            self.emit(Event::AgentRetrying {
                agent: name.to_owned(),
                attempt: attempt + 1,
                delay,
                error: self.redactor.redact(&err.one_line()).into_owned(),
            });
        };

        let retried = policy.retry_notify(op, notify);
        tokio::pin!(retried);
        let result = tokio::select! {
            r = &mut retried => Some(r),
            () = ctx.cancel.cancelled() => {
                if *in_flight_rx.borrow() {
                    // synod-exec sees the same token and stops the running attempt; give it
                    // its kill grace to reap. Once the attempt is over, stop waiting: the
                    // retry loop may be sitting out a delay before an attempt that will
                    // never run.
                    let grace = agent.kill_grace.get() + Duration::from_secs(1);
                    let mut rx = in_flight_rx.clone();
                    let attempt_over = async move {
                        let _ = rx.wait_for(|running| !running).await;
                    };
                    tokio::time::timeout(grace, async {
                        tokio::select! {
                            biased;
                            r = &mut retried => Some(r),
                            () = attempt_over => None,
                        }
                    })
                    .await
                    .ok()
                    .flatten()
                } else {
                    // Between attempts nothing runs: do not sit out the retry delay.
                    None
                }
            }
        };

        let attempts = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
        let mut outputs = Vec::with_capacity(attempts.len());
        let mut executions = Vec::new();
        let mut reports = Vec::with_capacity(attempts.len());
        for a in attempts {
            if let Some(id) = a.execution {
                executions.push((id, a.status));
            }
            reports.push(AttemptReport {
                attempt: a.output.attempt,
                exit_code: a.output.exit_code,
                duration_ms: a.output.duration_ms,
                error: a.output.error.clone(),
                class: a.class.map(class_name),
                stdout_bytes: a.stdout_bytes,
            });
            outputs.push(a.output);
        }

        let (outcome, extracted, error, consensus) = match result {
            Some(Ok(Answer { value: Ok(value) })) => (
                AgentOutcome::Answered,
                Some(value.clone()),
                None,
                AgentReport::ok(name, value),
            ),
            Some(Ok(Answer { value: Err(err) })) => (
                AgentOutcome::Invalid,
                None,
                Some(err.to_string()),
                AgentReport::rejected(name, err),
            ),
            Some(Err(retry_err)) => {
                let why = match retry_err.last_error() {
                    AttemptError::Cancelled => "cancelled".to_owned(),
                    AttemptError::BreakerOpen(why) => format!("skipped: {why}"),
                    AttemptError::Exec(e) => {
                        format!("{} ({})", self.one_line(&e.to_string()), retry_err.reason())
                    }
                };
                let outcome = match retry_err.last_error() {
                    _ if ctx.cancel.is_cancelled() => AgentOutcome::Cancelled,
                    AttemptError::Cancelled => AgentOutcome::Cancelled,
                    AttemptError::BreakerOpen(_) => AgentOutcome::Skipped,
                    AttemptError::Exec(synod_exec::Error::Timeout { .. }) => AgentOutcome::TimedOut,
                    AttemptError::Exec(_) => AgentOutcome::Failed,
                };
                if outcome == AgentOutcome::Skipped && outputs.is_empty() {
                    // Not attempted at all: keep the skip in the evidence (attempt 0).
                    tracing::warn!(agent = name, "circuit breaker open, agent skipped");
                    outputs.push(NewOutput {
                        agent: name.to_owned(),
                        attempt: 0,
                        exit_code: None,
                        duration_ms: 0,
                        status: "skipped".into(),
                        raw_output: String::new(),
                        parsed_json: None,
                        error: Some(why.clone()),
                    });
                }
                (
                    outcome,
                    None,
                    Some(why.clone()),
                    AgentReport::failed(name, why),
                )
            }
            None => {
                let why = "cancelled".to_owned();
                (
                    AgentOutcome::Cancelled,
                    None,
                    Some(why.clone()),
                    AgentReport::failed(name, why),
                )
            }
        };
        let run = AgentRun {
            name: name.to_owned(),
            outcome,
            attempts: reports,
            extracted,
            error,
            duration_ms: millis(clock.elapsed()),
        };
        finish(run, consensus, outputs, executions)
    }

    /// Turns one finished attempt into its stored record and the retry loop's result.
    fn settle(
        &self,
        agent: &str,
        attempt: u32,
        result: std::result::Result<(synod_exec::Output, Ran), RunFailed>,
    ) -> (Attempt, Result<Answer, AttemptError>) {
        match result {
            Ok((out, ran)) => {
                let mut raw = out.stdout_lossy().into_owned();
                self.redactor.redact_in_place(&mut raw);
                let value = synod_consensus::extract_json_with(&raw, &self.extract);
                let (status, error, parsed) = match &value {
                    Ok(v) => ("ok", None, Some(v.clone())),
                    Err(e) => ("invalid_json", Some(e.to_string()), None),
                };
                let record = Attempt {
                    stdout_bytes: out.stdout.len(),
                    output: NewOutput {
                        agent: agent.to_owned(),
                        attempt,
                        exit_code: out.code(),
                        duration_ms: millis(ran.elapsed),
                        status: status.into(),
                        raw_output: raw,
                        parsed_json: parsed,
                        error,
                    },
                    class: None,
                    status,
                    execution: ran.execution,
                };
                (record, Ok(Answer { value }))
            }
            Err(RunFailed { error: err, ran }) => {
                let status = match &err {
                    synod_exec::Error::Timeout { .. } => "timeout",
                    synod_exec::Error::Cancelled => "cancelled",
                    synod_exec::Error::NotFound { .. }
                    | synod_exec::Error::PermissionDenied { .. } => "not_started",
                    _ => "failed",
                };
                let (mut raw, stdout_bytes) = match err.output() {
                    Some(out) => (combined_output(out), out.stdout.len()),
                    None => (String::new(), 0),
                };
                self.redactor.redact_in_place(&mut raw);
                let record = Attempt {
                    stdout_bytes,
                    output: NewOutput {
                        agent: agent.to_owned(),
                        attempt,
                        exit_code: err.output().and_then(synod_exec::Output::code),
                        duration_ms: millis(ran.elapsed),
                        status: status.into(),
                        raw_output: raw,
                        parsed_json: None,
                        error: Some(self.one_line(&err.to_string())),
                    },
                    class: Some(err.class()),
                    status,
                    execution: ran.execution,
                };
                (record, Err(AttemptError::Exec(err)))
            }
        }
    }
}

/// Where a stage that could not be stored is kept: `unsaved/` beside the store file.
fn unsaved_dir(store_path: &Path) -> Option<PathBuf> {
    let dir = store_path.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    dir.is_dir().then(|| dir.join("unsaved"))
}

/// Writes a stage the store refused to `DIR/SPEC-STAGE-STARTED.json` (directory 0700, file
/// 0600: the outputs are agent evidence), returning its path.
fn keep_unsaved(
    dir: &Option<PathBuf>,
    run: &NewRun,
    outputs: &[NewOutput],
    verdict: &Value,
) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    let dir = dir
        .as_ref()
        .ok_or_else(|| std::io::Error::other("the store has no directory (in memory)"))?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let path = dir.join(format!(
        "{}-{}-{}.json",
        safe(&run.spec_id),
        safe(&run.stage),
        run.started_at
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    let document = json!({ "run": run, "outputs": outputs, "verdict": verdict });
    let written = serde_json::to_writer(&mut file, &document)
        .map_err(std::io::Error::other)
        .and_then(|()| file.flush())
        .and_then(|()| file.sync_all());
    if let Err(err) = written {
        let _ = std::fs::remove_file(&path);
        return Err(err);
    }
    Ok(path)
}

/// Stdout, then stderr under a marker when there is any (what a failed attempt said).
fn combined_output(out: &synod_exec::Output) -> String {
    let mut raw = out.stdout_lossy().into_owned();
    let stderr = out.stderr_lossy();
    if !stderr.trim().is_empty() {
        if !raw.is_empty() && !raw.ends_with('\n') {
            raw.push('\n');
        }
        raw.push_str("--- stderr ---\n");
        raw.push_str(&stderr);
    }
    raw
}

/// Marks an attempt's process as running for as long as it lives.
struct InFlight<'a>(&'a watch::Sender<bool>);

impl<'a> InFlight<'a> {
    fn enter(flag: &'a watch::Sender<bool>) -> Self {
        flag.send_replace(true);
        Self(flag)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

struct StageCtx<'a> {
    spec_id: &'a str,
    stage: &'a str,
    template: &'a str,
    cancel: &'a CancellationToken,
}

struct AgentResult {
    run: AgentRun,
    consensus: AgentReport,
    outputs: Vec<NewOutput>,
    executions: Vec<(ExecutionId, &'static str)>,
}

struct Attempt {
    output: NewOutput,
    class: Option<ErrorClass>,
    status: &'static str,
    stdout_bytes: usize,
    execution: Option<ExecutionId>,
}

/// A successful exit, with its JSON or why there is none.
struct Answer {
    value: std::result::Result<Value, synod_consensus::ExtractError>,
}

/// How long an attempt's process ran, and its execution row.
struct Ran {
    elapsed: Duration,
    execution: Option<ExecutionId>,
}

/// A failed attempt, as its circuit breaker sees it (classified like the exec error).
struct RunFailed {
    error: synod_exec::Error,
    ran: Ran,
}

impl Classify for RunFailed {
    fn class(&self) -> ErrorClass {
        self.error.class()
    }
}

/// Why an attempt did not deliver.
#[derive(Debug)]
enum AttemptError {
    Exec(synod_exec::Error),
    /// The breaker refused the attempt (its message).
    BreakerOpen(String),
    Cancelled,
}

impl AttemptError {
    fn one_line(&self) -> String {
        match self {
            AttemptError::Exec(e) => one_line(&e.to_string()),
            AttemptError::BreakerOpen(why) => why.clone(),
            AttemptError::Cancelled => "cancelled".into(),
        }
    }
}

impl Classify for AttemptError {
    fn class(&self) -> ErrorClass {
        match self {
            AttemptError::Exec(e) => e.class(),
            AttemptError::BreakerOpen(_) | AttemptError::Cancelled => ErrorClass::Permanent,
        }
    }
}

impl From<synod_consensus::Status> for StageStatus {
    fn from(status: synod_consensus::Status) -> Self {
        match status {
            synod_consensus::Status::Ok => StageStatus::Ok,
            synod_consensus::Status::Degraded => StageStatus::Degraded,
            synod_consensus::Status::Conflict => StageStatus::Conflict,
            _ => StageStatus::NoQuorum,
        }
    }
}

fn class_name(class: ErrorClass) -> String {
    match class {
        ErrorClass::Transient => "transient".into(),
        ErrorClass::RateLimited { .. } => "rate_limited".into(),
        _ => "permanent".into(),
    }
}

/// The first line of `text`, at most 300 characters.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        out.push('…');
    }
    out
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
