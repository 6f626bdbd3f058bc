//! Progress events a running stage sends to UIs (the CLI's progress bars, logs, tests).
//!
//! ```
//! use std::time::Duration;
//! use synod::orchestrator::StageEvent;
//!
//! let e = StageEvent::AgentRetrying { agent: "beta".into(), attempt: 2, delay: Duration::from_millis(200), error: "503".into() };
//! assert_eq!(e.agent(), Some("beta"));
//! assert!(e.to_string().contains("retry 2 in 200ms"));
//! ```

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use synod_core::ErrorClass;
use synod_store::RunId;

use super::report::{AgentOutcome, AttemptStatus, AttemptUsage, StageStatus};

/// One thing that happened while a stage ran, in the order it happened for each agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StageEvent {
    /// The stage began; `agents` will run, in this order.
    StageStarted {
        /// Spec being worked on.
        spec_id: String,
        /// Stage name.
        stage: String,
        /// Agent names, in stage order.
        agents: Vec<String>,
    },
    /// An attempt of an agent started.
    AgentStarted {
        /// Agent name.
        agent: String,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// An attempt ended: its typed outcome (the same as its [`AttemptReport`](super::AttemptReport)).
    AttemptFinished {
        /// Agent name.
        agent: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// How it ended.
        status: AttemptStatus,
        /// Exit code, when the process exited normally.
        exit_code: Option<i32>,
        /// The failure's class (None on success).
        #[serde(with = "super::report::class_name")]
        class: Option<ErrorClass>,
        /// How long it ran.
        #[serde(with = "millis")]
        elapsed: Duration,
        /// Tokens and cost the CLI reported for it, if any (as in its report).
        usage: Option<AttemptUsage>,
    },
    /// An attempt failed and another will start after `delay`.
    AgentRetrying {
        /// Agent name.
        agent: String,
        /// The attempt that will start next.
        attempt: u32,
        /// How long the orchestrator waits first.
        #[serde(with = "millis")]
        delay: Duration,
        /// The failure, one line.
        error: String,
    },
    /// An agent waits before its next attempt because another process (or another agent of
    /// its `rate_limit_group`) met a rate limit that is still in force.
    AgentWaiting {
        /// Agent name.
        agent: String,
        /// How long it waits.
        #[serde(with = "millis")]
        delay: Duration,
        /// The rate limit, one line.
        reason: String,
    },
    /// An agent is done (answered, failed, skipped or cancelled).
    AgentFinished {
        /// Agent name.
        agent: String,
        /// How it ended.
        outcome: AgentOutcome,
        /// Attempts made (0 when skipped).
        attempts: u32,
        /// Time from its first start to its end.
        #[serde(with = "millis")]
        elapsed: Duration,
    },
    /// The verdict is decided and stored.
    VerdictReady {
        /// The stage's status.
        status: StageStatus,
        /// The stored run's id.
        run_id: Option<RunId>,
    },
}

impl StageEvent {
    /// The agent this event is about, if any.
    #[must_use]
    pub fn agent(&self) -> Option<&str> {
        match self {
            StageEvent::AgentStarted { agent, .. }
            | StageEvent::AttemptFinished { agent, .. }
            | StageEvent::AgentRetrying { agent, .. }
            | StageEvent::AgentWaiting { agent, .. }
            | StageEvent::AgentFinished { agent, .. } => Some(agent),
            StageEvent::StageStarted { .. } | StageEvent::VerdictReady { .. } => None,
        }
    }
}

impl fmt::Display for StageEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageEvent::StageStarted {
                spec_id,
                stage,
                agents,
            } => {
                write!(f, "{spec_id}/{stage}: running {}", agents.join(", "))
            }
            StageEvent::AgentStarted { agent, attempt } => {
                write!(f, "{agent}: attempt {attempt} started")
            }
            StageEvent::AttemptFinished {
                agent,
                attempt,
                status,
                exit_code,
                elapsed,
                ..
            } => {
                write!(f, "{agent}: attempt {attempt} {}", status.phrase())?;
                if let Some(code) = exit_code {
                    write!(f, " (exit {code})")?;
                }
                write!(
                    f,
                    ", {}",
                    synod_core::duration::format_duration_rounded(*elapsed)
                )
            }
            StageEvent::AgentRetrying {
                agent,
                attempt,
                delay,
                error,
            } => {
                write!(
                    f,
                    "{agent}: failed ({error}); retry {attempt} in {}",
                    synod_core::duration::format_duration_rounded(*delay)
                )
            }
            StageEvent::AgentWaiting {
                agent,
                delay,
                reason,
            } => write!(
                f,
                "{agent}: waits {} for a shared rate limit ({reason})",
                synod_core::duration::format_duration_rounded(*delay)
            ),
            StageEvent::AgentFinished {
                agent,
                outcome,
                attempts,
                elapsed,
            } => write!(
                f,
                "{agent}: {outcome} after {attempts} attempt(s), {}",
                synod_core::duration::format_duration_rounded(*elapsed)
            ),
            StageEvent::VerdictReady { status, run_id } => match run_id {
                Some(id) => write!(f, "verdict: {status} (run {id})"),
                None => write!(f, "verdict: {status}"),
            },
        }
    }
}

pub(crate) mod millis {
    use std::time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_round_jittered_delays_as_a_person_reads_them() {
        let retrying = StageEvent::AgentRetrying {
            agent: "claude".to_owned(),
            attempt: 2,
            delay: Duration::from_nanos(4_823_458_123),
            error: "agent: overloaded".to_owned(),
        };
        assert_eq!(
            retrying.to_string(),
            "claude: failed (agent: overloaded); retry 2 in 4.8s"
        );
        let waiting = StageEvent::AgentWaiting {
            agent: "gemini".to_owned(),
            delay: Duration::from_millis(83_456),
            reason: "429 from the API".to_owned(),
        };
        assert_eq!(
            waiting.to_string(),
            "gemini: waits 1m23s for a shared rate limit (429 from the API)"
        );
    }

    #[test]
    fn an_attempts_line_says_how_it_ended_in_words() {
        let line = |status, exit_code| {
            StageEvent::AttemptFinished {
                agent: "a".to_owned(),
                attempt: 2,
                status,
                exit_code,
                elapsed: Duration::from_millis(3),
                class: None,
                usage: None,
            }
            .to_string()
        };
        let cases = [
            (
                AttemptStatus::Ok,
                Some(0),
                "a: attempt 2 answered (exit 0), 3ms",
            ),
            (
                AttemptStatus::InvalidJson,
                Some(0),
                "a: attempt 2 gave no usable answer (exit 0), 3ms",
            ),
            (
                AttemptStatus::Failed,
                Some(1),
                "a: attempt 2 failed (exit 1), 3ms",
            ),
            (AttemptStatus::Timeout, None, "a: attempt 2 timed out, 3ms"),
            (
                AttemptStatus::Cancelled,
                None,
                "a: attempt 2 was cancelled, 3ms",
            ),
            (
                AttemptStatus::NotStarted,
                None,
                "a: attempt 2 could not start, 3ms",
            ),
            (
                AttemptStatus::Skipped,
                None,
                "a: attempt 2 was skipped (circuit breaker open), 3ms",
            ),
            (
                AttemptStatus::Invalid,
                Some(0),
                "a: attempt 2 answered outside the stage's schema (exit 0), 3ms",
            ),
            (
                AttemptStatus::Repaired,
                Some(0),
                "a: attempt 2 was repaired to fit the stage's schema (exit 0), 3ms",
            ),
        ];
        for (status, exit_code, expected) in cases {
            assert_eq!(line(status, exit_code), expected);
        }
    }

    #[test]
    fn progress_lines_show_short_attempts_in_milliseconds_and_long_ones_in_minutes() {
        let attempt = StageEvent::AttemptFinished {
            agent: "codex".to_owned(),
            attempt: 1,
            status: AttemptStatus::Ok,
            exit_code: Some(0),
            elapsed: Duration::from_micros(22_418),
            class: None,
            usage: None,
        };
        assert_eq!(
            attempt.to_string(),
            "codex: attempt 1 answered (exit 0), 22ms"
        );
        let finished = StageEvent::AgentFinished {
            agent: "claude".to_owned(),
            outcome: AgentOutcome::Answered,
            attempts: 2,
            elapsed: Duration::from_millis(312_400),
        };
        assert_eq!(
            finished.to_string(),
            "claude: answered after 2 attempt(s), 5m12s"
        );
    }
}
