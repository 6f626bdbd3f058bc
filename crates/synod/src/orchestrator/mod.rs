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
//! 5. returns a [`StageReport`], having sent [`StageEvent`]s (each attempt's typed outcome among
//!    them) to every receiver from [`Orchestrator::subscribe`].
//!
//! The work is split by responsibility: [`Plan`] (the config checked and built once: retry
//! policies, breakers, prompts), `agent` (one agent's retries behind its breaker), `attempt`
//! (one process and what it amounted to, read through the agent's [`AgentHooks`]), `record`
//! (storing through any [`EvidenceStore`]) and [`report`
//! types](StageReport).
//!
//! Cancelling the token given to [`Orchestrator::run_stage_with`] stops every running agent
//! (SIGTERM to its process group, SIGKILL after its kill grace), skips the rest, and stores
//! the run with status `cancelled`.
//!
//! A [`Worker`] runs the stage jobs of a [`JobQueue`](synod_store::JobQueue) (`synod worker`):
//! each claimed job goes through an `Orchestrator` whose one record is the queue's fenced
//! completion, so a job is recorded exactly once (docs/adr/0019-job-queue.md).
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
//! let orchestrator = Orchestrator::new(config, Store::open_in_memory()?.into_async())?;
//! let report = orchestrator.run_stage("S-1", "ask").await?;
//! assert_eq!(report.status, StageStatus::Ok);
//! assert_eq!(report.agents.len(), 2);
//! assert!(report.run_id.is_some());
//! # Ok(()) }
//! ```

mod agent;
mod attempt;
mod config;
mod error;
mod event;
mod hooks;
mod load;
mod plan;
mod record;
mod redact;
mod report;
mod schema;
mod shared;
mod spec_id;
mod switch;
mod template;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use synod_consensus::AgentReport;
use synod_resilience::{BreakerState, RetryBudget};
use synod_store::{EvidenceStore, NewRun, SharedHolds, StageRecord, now_millis};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

pub use config::{
    AgentConfig, CONFIG_VERSION, JobsConfig, Mode, PromptVia, RedactSettings, SchemaSource,
    StageConfig, StoreConfig, SynodConfig,
};
pub use error::{Error, Result};
pub use event::StageEvent;
pub use hooks::{AgentHooks, AttemptMeta, Classified, GenericCli, Parsed, PresetHooks};
pub use load::LoadedConfig;
pub use plan::Plan;
pub use redact::{MIN_SECRET_VALUE_LEN, REDACTED, Redactor, RedactorBuilder, is_secret_env_name};
pub use report::{
    AgentOutcome, AgentRun, AttemptReport, AttemptStatus, AttemptUsage, StageReport, StageStatus,
};
pub use schema::AnswerSchema;
pub use spec_id::{MAX_SPEC_ID_LEN, check_prompt, check_spec_id};
pub use switch::Switch;
pub use synod_agents::Preset;
pub use synod_core::HumanDuration;
pub use template::Vars;
pub use worker::{JobListener, JobOutcome, Worker, WorkerOptions, WorkerReport};

use agent::{AgentResult, StageCtx, StartedRows};

/// Events a receiver may fall behind by before it loses the oldest
/// ([`broadcast::error::RecvError::Lagged`]).
pub const EVENT_CAPACITY: usize = 1024;

/// Runs stages of agents from a [`Plan`], storing the evidence in any
/// [`EvidenceStore`]. Cheap to share behind an `Arc`; breakers and the retry budget persist
/// across [`run_stage`](Self::run_stage) calls on the same orchestrator.
#[derive(Debug)]
pub struct Orchestrator {
    plan: Plan,
    store: Arc<dyn EvidenceStore>,
    shared_holds: Option<Arc<dyn SharedHolds>>,
    store_path: Option<PathBuf>,
    events: broadcast::Sender<StageEvent>,
    agent_env: Vec<(String, String)>,
    hooks: HashMap<String, Arc<dyn AgentHooks>>,
    default_hooks: Option<Arc<dyn AgentHooks>>,
    redactor: Redactor,
    track_executions: bool,
}

impl Orchestrator {
    /// An orchestrator for `config` (checked and built here, relative paths resolved from
    /// `.`) storing into `store`. Use [`with_plan`](Self::with_plan) with
    /// [`LoadedConfig::plan`] to resolve paths from the config file's directory.
    ///
    /// # Errors
    /// What [`Plan::new`] reports: an invalid config (naming the key) or an unreadable
    /// prompt file.
    pub fn new(config: SynodConfig, store: impl EvidenceStore + 'static) -> Result<Self> {
        Ok(Self::with_plan(Plan::new(config, ".")?, store))
    }

    /// An orchestrator running `plan`, storing into `store`.
    #[must_use]
    pub fn with_plan(plan: Plan, store: impl EvidenceStore + 'static) -> Self {
        Self::with_shared_store(plan, Arc::new(store))
    }

    /// An orchestrator running `plan`, storing into a store shared with other code.
    #[must_use]
    pub fn with_shared_store(plan: Plan, store: Arc<dyn EvidenceStore>) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            redactor: plan.redactor().clone(),
            store_path: store.location().map(PathBuf::from),
            plan,
            store,
            shared_holds: None,
            events,
            agent_env: Vec::new(),
            hooks: HashMap::new(),
            default_hooks: None,
            track_executions: true,
        }
    }

    /// Shares rate limits and open breakers with every other process using `holds` (usually
    /// the same store as the evidence: `synod worker`s on one file or one PostgreSQL
    /// database). Before each attempt an agent waits until no rate limit of its
    /// `rate_limit_group` is in force and is refused while another process's breaker of it
    /// is open; a rate-limited attempt with a retry time, and a failure that opens the
    /// agent's breaker, are told to the others.
    #[must_use]
    pub fn shared_holds(mut self, holds: Arc<dyn SharedHolds>) -> Self {
        self.shared_holds = Some(holds);
        self
    }

    /// The store path shown in reports (default: the store's own file, if it has one).
    #[must_use]
    pub fn store_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.store_path = Some(path.into());
        self
    }

    /// A receiver of every [`StageEvent`] of every later run, in order. A run's last event is
    /// [`StageEvent::VerdictReady`] (none when the run fails with an error); the receiver reports
    /// `Closed` once the orchestrator is dropped, and `Lagged(n)` when it fell more than
    /// [`EVENT_CAPACITY`] events behind and lost the oldest `n`.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<StageEvent> {
        self.events.subscribe()
    }

    /// Reads `agent`'s output and classifies its failures with `hooks` instead of its
    /// preset's [`PresetHooks`].
    #[must_use]
    pub fn hooks(mut self, agent: impl Into<String>, hooks: Arc<dyn AgentHooks>) -> Self {
        self.hooks.insert(agent.into(), hooks);
        self
    }

    /// The hooks of every agent without its own [`hooks`](Self::hooks), in place of the
    /// presets' (e.g. [`GenericCli`] for every agent).
    #[must_use]
    pub fn default_hooks(mut self, hooks: Arc<dyn AgentHooks>) -> Self {
        self.default_hooks = Some(hooks);
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

    /// The plan this orchestrator runs.
    #[must_use]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SynodConfig {
        self.plan.config()
    }

    /// The store the evidence goes to.
    #[must_use]
    pub fn store(&self) -> &dyn EvidenceStore {
        &*self.store
    }

    /// The state of `agent`'s circuit breaker (None when breakers are disabled). An open
    /// breaker reports `Open` until the first call after its wait lets a probe through.
    #[must_use]
    pub fn breaker_state(&self, agent: &str) -> Option<BreakerState> {
        self.plan.breaker(agent).map(|b| b.state())
    }

    /// Tokens left in the shared retry budget (None when the budget is disabled).
    #[must_use]
    pub fn budget_available(&self) -> Option<u32> {
        self.plan.budget().map(RetryBudget::available)
    }

    /// Runs `stage` for `spec_id` with the stage's configured prompt. See the
    /// [module docs](self).
    ///
    /// # Errors
    /// An unknown stage or a store failure ([`Error::NotRecorded`] when the stage ran and
    /// was kept beside the store). Agent failures are not errors: they are in the report.
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
        check_spec_id(spec_id)?;
        let stage = self.plan.require_stage(stage_name)?;
        check_prompt(stage_name, prompt)?;
        let template = prompt.unwrap_or(&stage.prompt);
        let mode = self.plan.mode(stage);
        let names: Vec<String> = stage
            .agents
            .iter()
            .map(|&i| self.plan.agent_config(i).name.clone())
            .collect();
        self.emit(StageEvent::StageStarted {
            spec_id: spec_id.to_owned(),
            stage: stage_name.to_owned(),
            agents: names.clone(),
        });

        let started = self.start_executions(mode, stage, &names, cancel).await;
        let ctx = StageCtx {
            spec_id,
            stage: stage_name,
            template,
            schema: stage.schema.as_ref(),
            cancel,
            started: &started,
        };
        let results: Vec<AgentResult> = match mode {
            Mode::Parallel => {
                let limit = Arc::new(Semaphore::new(stage.max_concurrency));
                let runs = stage.agents.iter().map(|&index| {
                    let limit = Arc::clone(&limit);
                    let ctx = &ctx;
                    async move {
                        let _slot = limit.acquire_owned().await.ok();
                        self.run_agent(index, ctx, "[]").await
                    }
                });
                futures::future::join_all(runs).await
            }
            Mode::Sequential => {
                let mut results = Vec::with_capacity(stage.agents.len());
                let mut previous: Vec<Value> = Vec::new();
                for &index in &stage.agents {
                    let previous_json = Value::Array(previous.clone()).to_string();
                    let result = self.run_agent(index, &ctx, &previous_json).await;
                    if let Some(value) = &result.run.extracted {
                        previous.push(json!({ "agent": result.run.name, "output": value }));
                    }
                    results.push(result);
                }
                results
            }
        };

        let reports: Vec<AgentReport> = results.iter().map(|r| r.consensus.clone()).collect();
        let spec = &self.plan.stage_config(stage).consensus;
        // The plan checked the spec against these agents, so this cannot fail on config.
        let verdict = synod_consensus::synthesize(spec, &names, &reports)
            .map_err(|e| Error::Internal(format!("consensus of a checked stage failed: {e}")))?;
        let status = if cancel.is_cancelled() {
            StageStatus::Cancelled
        } else {
            StageStatus::from(verdict.status)
        };

        let finished_at = now_millis().max(started_at);
        let mut outputs = Vec::new();
        let mut executions = Vec::new();
        let mut agent_runs = Vec::with_capacity(results.len());
        for result in results {
            outputs.extend(result.outputs);
            executions.extend(result.executions);
            agent_runs.push(result.run);
        }
        executions.extend(
            started
                .into_rest()
                .into_iter()
                .map(|id| (id, "not_started".to_owned())),
        );
        let verdict_json = serde_json::to_value(&verdict)
            .map_err(|e| Error::Internal(format!("cannot serialize the verdict: {e}")))?;
        let run = NewRun {
            spec_id: spec_id.to_owned(),
            stage: stage_name.to_owned(),
            started_at,
            finished_at,
            status: status.as_str().to_owned(),
        };
        let mut record = StageRecord::new(run, outputs, verdict_json);
        record.executions = executions;
        let run_id = record::record_stage(&*self.store, record).await?;
        self.emit(StageEvent::VerdictReady {
            status,
            run_id: Some(run_id),
        });
        tracing::info!(%status, run_id = run_id.0, "stage finished");
        Ok(StageReport {
            run_id: Some(run_id),
            spec_id: spec_id.to_owned(),
            stage: stage_name.to_owned(),
            mode,
            status,
            verdict,
            agents: agent_runs,
            duration_ms: attempt::millis(clock.elapsed()),
            store_path: self.store_path.clone(),
        })
    }

    /// The execution rows of a parallel stage's agents, written in one transaction before
    /// they all start (instead of one transaction per agent while it starts). Nothing for a
    /// sequential stage, one whose agents do not all start at once, or with tracking off;
    /// should the write fail, each attempt writes its own row as usual.
    async fn start_executions(
        &self,
        mode: Mode,
        stage: &plan::StagePlan,
        names: &[String],
        cancel: &CancellationToken,
    ) -> StartedRows {
        if !self.track_executions
            || !matches!(mode, Mode::Parallel)
            || stage.max_concurrency < names.len()
            || cancel.is_cancelled()
        {
            return StartedRows::default();
        }
        let agents: Vec<&str> = names.iter().map(String::as_str).collect();
        match self.store.executions_started(&agents, now_millis()).await {
            Ok(ids) => StartedRows::new(names.iter().cloned().zip(ids)),
            Err(err) => {
                tracing::debug!(error = %err, "cannot record the stage's executions at once");
                StartedRows::default()
            }
        }
    }

    /// The hooks of the plan's agent `index`: its own, else the default ones, else its
    /// preset's.
    fn hooks_for(&self, index: usize) -> &dyn AgentHooks {
        let (plan, agent) = self.plan.agent_at(index);
        self.hooks
            .get(&agent.name)
            .or(self.default_hooks.as_ref())
            .unwrap_or(&plan.hooks)
            .as_ref()
    }

    fn emit(&self, event: StageEvent) {
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
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
