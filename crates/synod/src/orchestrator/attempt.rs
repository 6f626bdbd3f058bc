//! One attempt of one agent: its command line, the process, and what it amounted to.

use std::time::{Duration, Instant};

use synod_consensus::ExtractError;
use synod_core::{Classify, ErrorClass};
use synod_exec::AgentCommand;
use synod_store::{ExecutionId, NewOutput, now_millis};
use tokio_util::sync::CancellationToken;

use super::Orchestrator;
use super::config::AgentConfig;
use super::hooks::{AgentHooks, AttemptMeta, Parsed};
use super::plan::AgentPlan;
use super::report::{AttemptReport, AttemptStatus, AttemptUsage};
use super::schema::AnswerSchema;
use super::template::Vars;

/// One finished attempt: its stored output, its report and its execution row.
pub(crate) struct AttemptRecord {
    pub(crate) output: NewOutput,
    pub(crate) report: AttemptReport,
    pub(crate) execution: Option<ExecutionId>,
}

/// Why an attempt did not deliver (the retry loop's error).
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// The process failed (classified by the agent's hooks; `cause` is its redacted line).
    Exec {
        error: synod_exec::Error,
        class: ErrorClass,
        cause: String,
    },
    /// The process exited successfully but its output reported a failure.
    Reported {
        class: ErrorClass,
        message: String,
    },
    /// The breaker refused the attempt (its message).
    BreakerOpen(String),
    Cancelled,
}

impl AttemptError {
    pub(crate) fn one_line(&self) -> String {
        match self {
            AttemptError::Exec { cause, .. } => cause.clone(),
            AttemptError::Reported { message, .. } => one_line(message),
            AttemptError::BreakerOpen(why) => why.clone(),
            AttemptError::Cancelled => "cancelled".into(),
        }
    }
}

impl Classify for AttemptError {
    fn class(&self) -> ErrorClass {
        match self {
            AttemptError::Exec { class, .. } | AttemptError::Reported { class, .. } => *class,
            AttemptError::BreakerOpen(_) | AttemptError::Cancelled => ErrorClass::Permanent,
        }
    }
}

/// A failed attempt as its circuit breaker sees it.
pub(crate) struct Failed {
    pub(crate) record: AttemptRecord,
    pub(crate) error: AttemptError,
}

impl Classify for Failed {
    fn class(&self) -> ErrorClass {
        self.error.class()
    }
}

/// The fixed parts of one agent's attempts.
pub(crate) struct AttemptCtx<'a> {
    pub(crate) orchestrator: &'a Orchestrator,
    pub(crate) plan: &'a AgentPlan,
    pub(crate) agent: &'a AgentConfig,
    pub(crate) hooks: &'a dyn AgentHooks,
    /// The stage's answer schema: given to CLIs that take one, checked against every answer.
    pub(crate) schema: Option<&'a AnswerSchema>,
    pub(crate) cancel: &'a CancellationToken,
    /// Execution rows written before the stage's agents started (taken by a first attempt).
    pub(crate) started: &'a super::agent::StartedRows,
}

impl AttemptCtx<'_> {
    /// The command line of an attempt.
    pub(crate) fn command(&self, vars: &Vars<'_>) -> AgentCommand {
        let agent = self.agent;
        let mut cmd = self.plan.command_line(agent, vars, self.schema);
        for (key, value) in &self.orchestrator.agent_env {
            cmd = cmd.env(key, value);
        }
        cmd.timeout(agent.timeout.get())
            .kill_grace(agent.kill_grace.get())
            .cancel_token(self.cancel.child_token())
    }

    /// Runs one attempt's process (tracking its execution row) and reads its output: the
    /// record and the answer (or why the output is unusable), or the failure.
    pub(crate) async fn run(&self, attempt: u32, cmd: AgentCommand) -> Result<Delivered, Failed> {
        let name = self.agent.name.as_str();
        // The execution row is written while the process starts (off the critical path); an
        // agent runs far longer than that write takes.
        let track = async {
            if let Some(id) = self.started.take(name) {
                Some(id)
            } else if self.orchestrator.track_executions {
                self.orchestrator
                    .store
                    .execution_started(name, now_millis())
                    .await
                    .ok()
            } else {
                None
            }
        };
        let started = Instant::now();
        let (execution, result) = tokio::join!(track, synod_exec::run(&cmd));
        let elapsed = started.elapsed();
        let redactor = &self.orchestrator.redactor;
        let mut seen = Observed {
            attempt,
            elapsed,
            execution,
            status: AttemptStatus::Ok,
            exit_code: None,
            raw_output: String::new(),
            stdout_bytes: 0,
            parsed_json: None,
            error: None,
            class: None,
            meta: AttemptMeta::default(),
        };
        match result {
            Ok(out) => {
                seen.raw_output = out.stdout_lossy().into_owned();
                redactor.redact_in_place(&mut seen.raw_output);
                seen.exit_code = out.code();
                seen.stdout_bytes = out.stdout.len();
                let mut stderr = out.stderr_lossy().into_owned();
                redactor.redact_in_place(&mut stderr);
                let (parsed, meta) = self.hooks.parse_with_meta(&seen.raw_output, &stderr);
                seen.meta = meta;
                match parsed {
                    Parsed::Answer(value) => {
                        seen.parsed_json = Some(value.clone());
                        if let Some(errors) = self.schema.and_then(|s| s.check(&value).err()) {
                            let why = redactor
                                .redact(&AnswerSchema::describe(&errors))
                                .into_owned();
                            seen.status = AttemptStatus::Invalid;
                            seen.error = Some(why.clone());
                            let why = ExtractError::Unusable { message: why };
                            return Ok((self.record(seen), Err(why)));
                        }
                        Ok((self.record(seen), Ok(value)))
                    }
                    Parsed::Invalid(why) => {
                        seen.status = AttemptStatus::InvalidJson;
                        seen.error = Some(one_line(&redactor.redact(&why.to_string())));
                        Ok((self.record(seen), Err(why)))
                    }
                    Parsed::Failed { class, message } => {
                        let class = self.floored(class);
                        let message = one_line(&redactor.redact(&message));
                        seen.status = AttemptStatus::Failed;
                        seen.error = Some(message.clone());
                        seen.class = Some(class);
                        Err(Failed {
                            record: self.record(seen),
                            error: AttemptError::Reported { class, message },
                        })
                    }
                }
            }
            Err(error) => {
                seen.status = match &error {
                    synod_exec::Error::Timeout { .. } => AttemptStatus::Timeout,
                    synod_exec::Error::Cancelled => AttemptStatus::Cancelled,
                    synod_exec::Error::NotFound { .. }
                    | synod_exec::Error::PermissionDenied { .. }
                    | synod_exec::Error::CommandLineTooLong { .. } => AttemptStatus::NotStarted,
                    _ => AttemptStatus::Failed,
                };
                if let Some(out) = error.output() {
                    seen.raw_output = combined_output(out);
                    seen.stdout_bytes = out.stdout.len();
                    seen.exit_code = out.code();
                }
                redactor.redact_in_place(&mut seen.raw_output);
                seen.meta = self.hooks.failure_meta(&error);
                let judged = self.hooks.classify(&error);
                let class = self.floored(judged.class);
                let cause = judged.cause.unwrap_or_else(|| error.to_string());
                let cause = one_line(&redactor.redact(&cause));
                seen.error = Some(cause.clone());
                seen.class = Some(class);
                Err(Failed {
                    record: self.record(seen),
                    error: AttemptError::Exec {
                        error,
                        class,
                        cause,
                    },
                })
            }
        }
    }

    /// A rate limit without a stated wait waits the agent's floor, not the transient backoff.
    fn floored(&self, class: ErrorClass) -> ErrorClass {
        match class {
            ErrorClass::RateLimited { retry_after: None } => ErrorClass::RateLimited {
                retry_after: Some(self.agent.rate_limit_floor.get()),
            },
            other => other,
        }
    }

    fn record(&self, seen: Observed) -> AttemptRecord {
        let duration_ms = millis(seen.elapsed);
        // Session ids and model names are the CLI's own words: redacted like its output.
        let redact =
            |s: Option<String>| s.map(|s| self.orchestrator.redactor.redact(&s).into_owned());
        let meta = seen.meta;
        let (session_id, model) = (redact(meta.session_id), redact(meta.model));
        AttemptRecord {
            report: AttemptReport {
                attempt: seen.attempt,
                status: seen.status,
                exit_code: seen.exit_code,
                duration_ms,
                error: seen.error.clone(),
                class: seen.class,
                stdout_bytes: seen.stdout_bytes,
                session_id: session_id.clone(),
                model: model.clone(),
                usage: AttemptUsage::new(meta.usage, meta.cost_usd),
            },
            output: NewOutput {
                agent: self.agent.name.clone(),
                attempt: seen.attempt,
                exit_code: seen.exit_code,
                duration_ms,
                status: seen.status.as_str().to_owned(),
                raw_output: seen.raw_output,
                parsed_json: seen.parsed_json,
                error: seen.error,
                session_id,
                model,
                usage: meta.usage,
                cost_usd: meta.cost_usd,
            },
            execution: seen.execution,
        }
    }
}

/// A process that exited successfully: its record, and its answer or why it has none.
pub(crate) type Delivered = (AttemptRecord, Result<serde_json::Value, ExtractError>);

/// What one attempt showed, before it becomes a stored output and a report.
struct Observed {
    attempt: u32,
    elapsed: Duration,
    execution: Option<ExecutionId>,
    status: AttemptStatus,
    exit_code: Option<i32>,
    raw_output: String,
    stdout_bytes: usize,
    parsed_json: Option<serde_json::Value>,
    error: Option<String>,
    class: Option<ErrorClass>,
    /// What the CLI reported about the attempt (session, model, usage, cost).
    meta: AttemptMeta,
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

/// The first line of `text`, at most 300 characters.
pub(crate) fn one_line(text: &str) -> String {
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

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_its_first_line_cut_after_300_characters() {
        assert_eq!(one_line("\n  \n  first  \nsecond"), "first");
        assert_eq!(one_line(""), "");
        let exactly = "é".repeat(300);
        assert_eq!(one_line(&exactly), exactly, "300 characters are kept whole");
        let longer = "é".repeat(301);
        assert_eq!(one_line(&longer), format!("{exactly}…"));
    }

    #[test]
    fn durations_count_whole_milliseconds_and_saturate() {
        assert_eq!(millis(Duration::from_micros(2_999)), 2);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
