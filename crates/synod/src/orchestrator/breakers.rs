//! One circuit breaker per agent name.
//! A sliding-window breaker; moves onto synod-resilience's CircuitBreaker when it lands.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::config::BreakerSettings;
use super::error::Result;

#[derive(Debug)]
pub(crate) struct Breakers {
    settings: BreakerSettings,
    states: Mutex<HashMap<String, Arc<Mutex<State>>>>,
}

#[derive(Debug, Default)]
struct State {
    window: Vec<bool>,
    open_until: Option<Instant>,
}

pub(crate) struct Permit {
    agent: String,
    state: Option<Arc<Mutex<State>>>,
    settings: BreakerSettings,
}

impl Breakers {
    pub(crate) fn new(settings: &BreakerSettings) -> Result<Self> {
        Ok(Self {
            settings: settings.clone(),
            states: Mutex::default(),
        })
    }

    fn state(&self, agent: &str) -> Arc<Mutex<State>> {
        let mut map = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(agent.to_owned()).or_default())
    }

    pub(crate) fn allows(&self, agent: &str) -> bool {
        if !self.settings.enabled {
            return true;
        }
        let state = self.state(agent);
        let s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.open_until.is_none_or(|t| Instant::now() >= t)
    }

    pub(crate) fn permit(&self, agent: &str) -> Option<Permit> {
        if !self.allows(agent) {
            return None;
        }
        Some(Permit {
            agent: agent.to_owned(),
            state: self.settings.enabled.then(|| self.state(agent)),
            settings: self.settings.clone(),
        })
    }
}

impl Permit {
    pub(crate) fn agent(&self) -> &str {
        &self.agent
    }
    pub(crate) fn success(self, _elapsed: Duration) {
        self.record(true);
    }
    pub(crate) fn failure(self, _elapsed: Duration) {
        self.record(false);
    }
    pub(crate) fn ignore(self) {}
    fn record(&self, ok: bool) {
        let Some(state) = &self.state else { return };
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.window.push(ok);
        let w = self.settings.window as usize;
        if s.window.len() > w {
            let extra = s.window.len() - w;
            s.window.drain(..extra);
        }
        let fails = s.window.iter().filter(|ok| !**ok).count();
        if s.window.len() >= self.settings.minimum_calls as usize
            && fails as f64 / s.window.len() as f64 >= self.settings.failure_rate
        {
            s.open_until = Some(Instant::now() + self.settings.wait_in_open.get());
            s.window.clear();
        }
    }
}
