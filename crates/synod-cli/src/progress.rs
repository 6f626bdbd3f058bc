//! Live progress on stderr: one indicatif spinner per agent on a terminal, plain lines
//! otherwise (pipes, CI logs, tests).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use synod::orchestrator::{AgentOutcome, StageEvent};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio::task::JoinHandle;

use crate::common::errln;

/// Consumes `events` until the channel closes, drawing them on stderr.
pub(crate) fn spawn(events: Receiver<StageEvent>, quiet: bool) -> JoinHandle<()> {
    let live = !quiet && std::io::stderr().is_terminal();
    tokio::spawn(async move {
        if live {
            bars(events).await;
        } else {
            lines(events, quiet).await;
        }
    })
}

/// The next event; None once the orchestrator is gone. Events lost to a slow terminal are
/// skipped (the report at the end has everything).
async fn next(events: &mut Receiver<StageEvent>) -> Option<StageEvent> {
    loop {
        match events.recv().await {
            Ok(event) => return Some(event),
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return None,
        }
    }
}

async fn lines(mut events: Receiver<StageEvent>, quiet: bool) {
    while let Some(event) = next(&mut events).await {
        if !quiet {
            errln!("[synod] {event}");
        }
    }
}

async fn bars(mut events: Receiver<StageEvent>) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{spinner:.cyan} {prefix:<12.bold} {elapsed:>4} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    while let Some(event) = next(&mut events).await {
        match &event {
            StageEvent::StageStarted { agents, .. } => {
                let _ = multi.println(event.to_string());
                for agent in agents {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(agent.clone());
                    bar.set_message("waiting");
                    bar.enable_steady_tick(Duration::from_millis(100));
                    bars.insert(agent.clone(), bar);
                }
            }
            StageEvent::AgentStarted { agent, attempt } => {
                if let Some(bar) = bars.get(agent) {
                    bar.set_message(format!("running (attempt {attempt})"));
                }
            }
            StageEvent::AgentRetrying {
                agent,
                attempt,
                delay,
                error,
            } => {
                if let Some(bar) = bars.get(agent) {
                    bar.set_message(format!(
                        "retry {attempt} in {}: {error}",
                        synod::core::duration::format_duration_rounded(*delay)
                    ));
                }
            }
            StageEvent::AgentWaiting {
                agent,
                delay,
                reason,
            } => {
                if let Some(bar) = bars.get(agent) {
                    bar.set_message(format!(
                        "waits {} for a shared rate limit: {reason}",
                        synod::core::duration::format_duration_rounded(*delay)
                    ));
                }
            }
            StageEvent::AgentFinished {
                agent,
                outcome,
                attempts,
                ..
            } => {
                if let Some(bar) = bars.get(agent) {
                    let mark = match outcome {
                        AgentOutcome::Answered => "✔",
                        AgentOutcome::Invalid | AgentOutcome::Skipped => "⚠",
                        _ => "✘",
                    };
                    bar.finish_with_message(format!("{mark} {outcome} ({attempts} attempt(s))"));
                }
            }
            // The agent's bar shows its attempts; the report has each one.
            StageEvent::AttemptFinished { .. } => {}
            _ => {
                let _ = multi.println(event.to_string());
            }
        }
    }
    for bar in bars.values() {
        if !bar.is_finished() {
            bar.abandon();
        }
    }
}
