//! One synod-resilience circuit breaker per agent name, built from `[breaker]`.

use synod_resilience::{BreakerConfig, BreakerState, CircuitBreaker, Registry};

use super::config::BreakerSettings;
use super::error::{Error, Result};

/// The agents' breakers (none when `[breaker] enabled = false`).
#[derive(Debug)]
pub(crate) struct Breakers {
    registry: Option<Registry<String>>,
}

impl Breakers {
    pub(crate) fn new(settings: &BreakerSettings) -> Result<Self> {
        if !settings.enabled {
            return Ok(Self { registry: None });
        }
        let config = BreakerConfig {
            window_size: settings.window_size,
            minimum_calls: settings.minimum_calls,
            failure_rate_threshold: settings.failure_rate_threshold,
            slow_call_duration: settings.slow_call_duration.map(|d| d.get()),
            slow_call_rate_threshold: settings.slow_call_rate_threshold,
            wait_in_open: settings.wait_in_open.get(),
            wait_multiplier: settings.wait_multiplier,
            max_wait_in_open: settings
                .max_wait_in_open
                .get()
                .max(settings.wait_in_open.get()),
            permitted_calls_in_half_open: settings.permitted_calls_in_half_open,
            count_permanent: false,
        };
        let registry = Registry::new(config).map_err(|e| Error::InvalidConfig {
            key: "breaker".into(),
            message: e.to_string(),
        })?;
        Ok(Self {
            registry: Some(registry),
        })
    }

    /// The breaker of `agent` (created on first use).
    pub(crate) fn get(&self, agent: &str) -> Option<CircuitBreaker> {
        self.registry.as_ref().map(|r| r.get(&agent.to_owned()))
    }

    /// The state of `agent`'s breaker.
    pub(crate) fn state(&self, agent: &str) -> Option<BreakerState> {
        self.get(agent).map(|b| b.state())
    }
}
