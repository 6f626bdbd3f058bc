//! Resilience state shared with every process using the same store: before each attempt an
//! agent waits out its group's rate limit and respects a breaker opened elsewhere; after a
//! failed attempt it tells the others what it learned.
//!
//! The holds are advisory: when the store cannot be read or written, the attempt goes ahead
//! with this process's own breaker and retry policy (a warning is logged), because a store
//! hiccup must not stop agents that are healthy.

use std::time::Duration;

use synod_core::{Classify, ErrorClass};
use synod_resilience::{BreakerState, CircuitBreaker};
use synod_store::{Hold, HoldKind, SharedHolds, UnixMillis, now_millis};

use super::Orchestrator;
use super::attempt::AttemptError;
use super::config::AgentConfig;
use super::event::StageEvent;

/// The key of `agent`'s rate limit: its group, or its own name.
pub(crate) fn rate_limit_key(agent: &AgentConfig) -> &str {
    agent.rate_limit_group.as_deref().unwrap_or(&agent.name)
}

fn after(now: UnixMillis, wait: Duration) -> UnixMillis {
    now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
}

impl Orchestrator {
    /// Waits until no other process's rate limit holds `agent`'s group, then refuses the
    /// attempt when another process's breaker of `agent` is open.
    pub(crate) async fn respect_holds(&self, agent: &AgentConfig) -> Result<(), AttemptError> {
        let Some(holds) = &self.shared_holds else {
            return Ok(());
        };
        let name = agent.name.as_str();
        let key = rate_limit_key(agent);
        loop {
            let now = now_millis();
            match holds.active_hold(HoldKind::RateLimited, key, now).await {
                Ok(Some(hold)) => {
                    let delay = Duration::from_millis(u64::try_from(hold.until - now).unwrap_or(0));
                    self.emit(StageEvent::AgentWaiting {
                        agent: name.to_owned(),
                        delay,
                        reason: hold.reason,
                    });
                    tokio::time::sleep(delay).await;
                    // Another process may have extended the hold meanwhile: look again.
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(agent = name, error = %e, "could not read the shared rate limits; going ahead");
                    break;
                }
            }
        }
        match holds
            .active_hold(HoldKind::BreakerOpen, name, now_millis())
            .await
        {
            Ok(Some(hold)) => Err(AttemptError::BreakerOpen(format!(
                "circuit breaker of {name} is open in another process until {} (Unix ms): {}",
                hold.until, hold.reason
            ))),
            Ok(None) => Ok(()),
            Err(e) => {
                tracing::warn!(agent = name, error = %e, "could not read the shared breakers; going ahead");
                Ok(())
            }
        }
    }

    /// Shares what a failed attempt of `agent` learned: its group's rate limit, and its
    /// breaker when the failure opened it.
    pub(crate) async fn share_failure(
        &self,
        agent: &AgentConfig,
        breaker: Option<&CircuitBreaker>,
        error: &AttemptError,
    ) {
        let Some(holds) = &self.shared_holds else {
            return;
        };
        let now = now_millis();
        let why = self.redacted_line(error);
        if let ErrorClass::RateLimited {
            retry_after: Some(wait),
        } = error.class()
            && !wait.is_zero()
        {
            let hold = Hold::new(
                HoldKind::RateLimited,
                rate_limit_key(agent),
                after(now, wait),
                format!("{}: {why}", agent.name),
            );
            self.set_hold(holds.as_ref(), hold).await;
        }
        let opened = !matches!(error, AttemptError::BreakerOpen(_))
            && breaker.is_some_and(|b| b.state() == BreakerState::Open);
        if let Some(breaker) = breaker.filter(|_| opened) {
            let hold = Hold::new(
                HoldKind::BreakerOpen,
                agent.name.as_str(),
                after(now, breaker.config().wait_in_open),
                format!("opened after: {why}"),
            );
            self.set_hold(holds.as_ref(), hold).await;
        }
    }

    async fn set_hold(&self, holds: &dyn SharedHolds, hold: Hold) {
        let (kind, key) = (hold.kind, hold.key.clone());
        if let Err(e) = holds.hold(hold).await {
            tracing::warn!(%kind, key, error = %e, "could not share a hold with other processes");
        }
    }
}
