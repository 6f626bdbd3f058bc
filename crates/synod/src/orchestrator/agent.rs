//! One agent's part in a stage: its attempts behind its circuit breaker, with its retry
//! policy and the shared budget, until it answers, gives up or is cancelled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use synod_consensus::AgentReport;
use synod_resilience::BreakerError;
use synod_store::{ExecutionId, NewOutput};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Orchestrator;
use super::attempt::{AttemptCtx, AttemptError, AttemptRecord, Delivered, Failed, millis};
use super::event::StageEvent;
use super::report::{AgentOutcome, AgentRun, AttemptStatus};
use super::schema::AnswerSchema;
use super::template::Vars;

/// What a stage gives each of its agents.
pub(crate) struct StageCtx<'a> {
    pub(crate) spec_id: &'a str,
    pub(crate) stage: &'a str,
    pub(crate) template: &'a str,
    /// The stage's answer schema (checked against every answer; `repair` asks once more).
    pub(crate) schema: Option<&'a AnswerSchema>,
    pub(crate) cancel: &'a CancellationToken,
    /// Execution rows written before the agents start (a parallel stage writes them all in
    /// one transaction).
    pub(crate) started: &'a StartedRows,
}

/// Execution rows written for a stage's agents before they start, by agent name: each
/// agent's first attempt takes its own (instead of writing one while its process starts);
/// the stage completes those nobody took (an agent cancelled or refused by its breaker
/// before it started).
#[derive(Debug, Default)]
pub(crate) struct StartedRows(Mutex<HashMap<String, ExecutionId>>);

impl StartedRows {
    pub(crate) fn new(rows: impl IntoIterator<Item = (String, ExecutionId)>) -> Self {
        Self(Mutex::new(rows.into_iter().collect()))
    }

    /// `agent`'s row, once.
    pub(crate) fn take(&self, agent: &str) -> Option<ExecutionId> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(agent)
    }

    /// The rows nobody took.
    pub(crate) fn into_rest(self) -> Vec<ExecutionId> {
        let mut rest: Vec<ExecutionId> = self
            .0
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_values()
            .collect();
        rest.sort_unstable_by_key(|id| id.0);
        rest
    }
}

/// One agent's result: its report, its consensus input and its evidence.
pub(crate) struct AgentResult {
    pub(crate) run: AgentRun,
    pub(crate) consensus: AgentReport,
    pub(crate) outputs: Vec<NewOutput>,
    pub(crate) executions: Vec<(ExecutionId, String)>,
}

impl Orchestrator {
    /// Runs the plan's agent `index` with its breaker, retry policy and the shared budget.
    pub(crate) async fn run_agent(
        &self,
        index: usize,
        stage: &StageCtx<'_>,
        previous: &str,
    ) -> AgentResult {
        let clock = Instant::now();
        let (plan, agent) = self.plan.agent_at(index);
        let name = agent.name.as_str();
        if stage.cancel.is_cancelled() {
            let why = "not started: the run was cancelled".to_owned();
            return self.finish(
                clock,
                AgentRun {
                    name: name.to_owned(),
                    outcome: AgentOutcome::Cancelled,
                    attempts: Vec::new(),
                    extracted: None,
                    error: Some(why.clone()),
                    duration_ms: millis(clock.elapsed()),
                },
                AgentReport::failed(name, why),
                Vec::new(),
                Vec::new(),
            );
        }
        let ctx = AttemptCtx {
            orchestrator: self,
            plan,
            agent,
            hooks: self.hooks_for(index),
            schema: stage.schema,
            cancel: stage.cancel,
            started: stage.started,
        };
        let prompt_vars = Vars {
            spec_id: stage.spec_id,
            stage: stage.stage,
            prompt: "",
            previous_outputs: previous,
            attempt: 1,
        };
        let prompt = prompt_vars.render(stage.template);
        let log: Arc<Mutex<Vec<AttemptRecord>>> = Arc::default();
        let mut next_attempt = 0u32;
        // Whether an attempt's process is running (as opposed to a retry delay).
        let (in_flight, in_flight_rx) = watch::channel(false);
        let in_flight = &in_flight;
        let ctx = &ctx;

        let op = || {
            next_attempt += 1;
            let attempt = next_attempt;
            let cmd = ctx.command(&Vars {
                prompt: &prompt,
                attempt,
                ..prompt_vars
            });
            let log = Arc::clone(&log);
            async move {
                if stage.cancel.is_cancelled() {
                    return Err(AttemptError::Cancelled);
                }
                self.respect_holds(agent).await?;
                let _running = InFlight::enter(in_flight);
                self.emit(StageEvent::AgentStarted {
                    agent: name.to_owned(),
                    attempt,
                });
                let run = ctx.run(attempt, cmd);
                let result: Result<Delivered, Failed> = match &plan.breaker {
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
                let (record, answer) = match result {
                    Ok((record, answer)) => (record, Ok(answer)),
                    Err(Failed { record, error }) => {
                        self.share_failure(agent, plan.breaker.as_ref(), &error)
                            .await;
                        (record, Err(error))
                    }
                };
                self.log_attempt(name, attempt, record, &log);
                answer
            }
        };
        let notify = |attempt: u32, err: &AttemptError, delay: Duration| {
            self.emit(StageEvent::AgentRetrying {
                agent: name.to_owned(),
                attempt: attempt + 1,
                delay,
                error: self.redacted_line(err),
            });
        };

        let retried = plan.retry.retry_notify(op, notify);
        tokio::pin!(retried);
        let result = tokio::select! {
            r = &mut retried => Some(r),
            () = stage.cancel.cancelled() => {
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

        let result = match result {
            Some(Ok(Err(unusable))) => Some(Ok(self
                .repaired(ctx, stage, prompt_vars, &prompt, &log, unusable)
                .await)),
            other => other,
        };

        let attempts = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
        let mut outputs = Vec::with_capacity(attempts.len());
        let mut executions = Vec::new();
        let mut reports = Vec::with_capacity(attempts.len());
        for a in attempts {
            if let Some(id) = a.execution {
                executions.push((id, a.report.status.as_str().to_owned()));
            }
            reports.push(a.report);
            outputs.push(a.output);
        }

        let (outcome, extracted, error, consensus) = match result {
            Some(Ok(Ok(value))) => (
                AgentOutcome::Answered,
                Some(value.clone()),
                None,
                AgentReport::ok(name, value),
            ),
            Some(Ok(Err(unusable))) => (
                AgentOutcome::Invalid,
                None,
                Some(unusable.to_string()),
                AgentReport::rejected(name, unusable),
            ),
            Some(Err(retry_err)) => {
                let last = retry_err.last_error();
                let why = match last {
                    AttemptError::Cancelled => "cancelled".to_owned(),
                    AttemptError::BreakerOpen(why) => format!("skipped: {why}"),
                    AttemptError::Exec { .. } | AttemptError::Reported { .. } => {
                        format!("{} ({})", self.redacted_line(last), retry_err.reason())
                    }
                };
                let outcome = match last {
                    _ if stage.cancel.is_cancelled() => AgentOutcome::Cancelled,
                    AttemptError::Cancelled => AgentOutcome::Cancelled,
                    AttemptError::BreakerOpen(_) => AgentOutcome::Skipped,
                    AttemptError::Exec {
                        error: synod_exec::Error::Timeout { .. },
                        ..
                    } => AgentOutcome::TimedOut,
                    AttemptError::Exec { .. } | AttemptError::Reported { .. } => {
                        AgentOutcome::Failed
                    }
                };
                if outcome == AgentOutcome::Skipped && outputs.is_empty() {
                    // Not attempted at all: keep the skip in the evidence (attempt 0).
                    tracing::warn!(agent = name, "circuit breaker open, agent skipped");
                    outputs.push(NewOutput {
                        agent: name.to_owned(),
                        status: AttemptStatus::Skipped.as_str().to_owned(),
                        error: Some(why.clone()),
                        ..NewOutput::default()
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
        self.finish(clock, run, consensus, outputs, executions)
    }

    /// `repair = true`: when the last attempt's answer did not match the stage's schema, asks
    /// the agent once more with the original prompt and the validation errors (its own
    /// attempt, logged like any other: `repaired` when its answer matches, else `invalid`).
    /// The repair's answer, or why there is none (`unusable` when no repair applies or the
    /// repair could not run). Not a retry: it draws nothing from the retry budget.
    async fn repaired(
        &self,
        ctx: &AttemptCtx<'_>,
        stage: &StageCtx<'_>,
        vars: Vars<'_>,
        prompt: &str,
        log: &Mutex<Vec<AttemptRecord>>,
        unusable: synod_consensus::ExtractError,
    ) -> Result<serde_json::Value, synod_consensus::ExtractError> {
        let Some(schema) = stage.schema.filter(|s| s.repair()) else {
            return Err(unusable);
        };
        let last = {
            let log = log.lock().unwrap_or_else(PoisonError::into_inner);
            log.last()
                .filter(|last| last.report.status == AttemptStatus::Invalid)
                .and_then(|last| {
                    let errors = schema.check(last.output.parsed_json.as_ref()?).err()?;
                    Some((last.report.attempt + 1, errors))
                })
        };
        let Some((attempt, errors)) = last.filter(|_| !stage.cancel.is_cancelled()) else {
            return Err(unusable);
        };
        let name = ctx.agent.name.as_str();
        let repair_prompt = schema.repair_prompt(prompt, &errors);
        let cmd = ctx.command(&Vars {
            prompt: &repair_prompt,
            attempt,
            ..vars
        });
        self.emit(StageEvent::AgentStarted {
            agent: name.to_owned(),
            attempt,
        });
        let run = ctx.run(attempt, cmd);
        let result = match &ctx.plan.breaker {
            None => run.await,
            Some(breaker) => match breaker.call(run).await {
                Ok(done) => Ok(done),
                Err(BreakerError::Inner(failed)) => Err(failed),
                Err(_) => return Err(unusable),
            },
        };
        let (mut record, answer) = match result {
            Ok((record, answer)) => (record, answer),
            Err(Failed { record, error }) => {
                let why = synod_consensus::ExtractError::Unusable {
                    message: format!(
                        "{unusable}; the repair attempt failed: {}",
                        self.redacted_line(&error)
                    ),
                };
                (record, Err(why))
            }
        };
        if answer.is_ok() {
            record.report.status = AttemptStatus::Repaired;
            AttemptStatus::Repaired
                .as_str()
                .clone_into(&mut record.output.status);
        }
        self.log_attempt(name, attempt, record, log);
        answer
    }

    /// Announces a finished attempt and keeps its record for the stage's evidence.
    fn log_attempt(
        &self,
        name: &str,
        attempt: u32,
        record: AttemptRecord,
        log: &Mutex<Vec<AttemptRecord>>,
    ) {
        let report = &record.report;
        self.emit(StageEvent::AttemptFinished {
            agent: name.to_owned(),
            attempt,
            status: report.status,
            exit_code: report.exit_code,
            class: report.class,
            elapsed: Duration::from_millis(report.duration_ms),
            usage: report.usage,
        });
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }

    /// The first line of an attempt's error, redacted (the whole text first: cutting the line
    /// could leave a partial credential too short for its pattern).
    pub(crate) fn redacted_line(&self, error: &AttemptError) -> String {
        match error {
            AttemptError::Exec { cause, .. } => cause.clone(),
            other => self.redactor.redact(&other.one_line()).into_owned(),
        }
    }

    fn finish(
        &self,
        clock: Instant,
        run: AgentRun,
        consensus: AgentReport,
        outputs: Vec<NewOutput>,
        executions: Vec<(ExecutionId, String)>,
    ) -> AgentResult {
        self.emit(StageEvent::AgentFinished {
            agent: run.name.clone(),
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
    }
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
