//! Retry budgets: a token bucket shared by every caller so a failing dependency cannot
//! multiply the load sent to it.
//!
//! The defaults are AWS SDK "standard mode": a bucket of 500 tokens; a retry costs 5 (10 after
//! a timeout); a call that succeeds on its first try puts 1 token back; a retry that succeeds
//! returns what it cost. With the bucket empty no caller retries, and the
//! [`RetryError`](crate::RetryError) says the budget is exhausted.
//!
//! ```
//! use synod_resilience::RetryBudget;
//!
//! let budget = RetryBudget::default();
//! assert_eq!(budget.available(), 500);
//! assert!(budget.try_withdraw(5));
//! assert_eq!(budget.available(), 495);
//! budget.deposit(5);
//! assert_eq!(budget.available(), 500);
//!
//! let shared = budget.clone(); // clones share one bucket
//! assert!(shared.try_withdraw(500));
//! assert!(!budget.try_withdraw(5));
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Token costs and capacity of a [`RetryBudget`] (serde form: all fields optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Tokens in a full bucket (default 500).
    pub capacity: u32,
    /// Tokens a retry costs (default 5).
    pub retry_cost: u32,
    /// Tokens a retry after a timeout costs (default 10).
    pub timeout_retry_cost: u32,
    /// Tokens a call that succeeds on its first try puts back (default 1).
    pub success_reward: u32,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            capacity: 500,
            retry_cost: 5,
            timeout_retry_cost: 10,
            success_reward: 1,
        }
    }
}

impl BudgetConfig {
    /// Checks the values: capacity must be at least 1.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `capacity`.
    pub fn validate(&self) -> Result<()> {
        if self.capacity == 0 {
            return Err(Error::param(
                "capacity",
                self.capacity,
                "the bucket needs at least 1 token",
            ));
        }
        Ok(())
    }
}

struct Inner {
    config: BudgetConfig,
    tokens: AtomicU32,
}

/// A token bucket shared by all callers; cloning shares the bucket.
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("available", &self.available())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Two handles are equal when they share one bucket (clones of each other).
impl PartialEq for RetryBudget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::from_valid(BudgetConfig::default())
    }
}

impl RetryBudget {
    /// A full bucket with the given costs.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the config is invalid (see [`BudgetConfig::validate`]).
    pub fn new(config: BudgetConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::from_valid(config))
    }

    fn from_valid(config: BudgetConfig) -> Self {
        RetryBudget {
            inner: Arc::new(Inner {
                tokens: AtomicU32::new(config.capacity),
                config,
            }),
        }
    }

    /// The costs and capacity.
    #[must_use]
    pub fn config(&self) -> &BudgetConfig {
        &self.inner.config
    }

    /// Tokens left now.
    #[must_use]
    pub fn available(&self) -> u32 {
        self.inner.tokens.load(Ordering::Relaxed)
    }

    /// Takes `cost` tokens if that many are left; `false` (and nothing taken) otherwise.
    #[must_use = "a retry may only proceed when the withdrawal succeeded"]
    pub fn try_withdraw(&self, cost: u32) -> bool {
        self.inner
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// Puts `tokens` back, never beyond capacity.
    pub fn deposit(&self, tokens: u32) {
        let cap = self.inner.config.capacity;
        let cell = &self.inner.tokens;
        // Cheap exit for the common case: the bucket is already full.
        if tokens == 0 || cell.load(Ordering::Relaxed) >= cap {
            return;
        }
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
            (t < cap).then(|| t.saturating_add(tokens).min(cap))
        });
    }

    /// What a retry after `error` costs: `timeout_retry_cost` when it was a timeout, else
    /// `retry_cost`.
    #[must_use]
    pub fn cost_for(&self, is_timeout: bool) -> u32 {
        if is_timeout {
            self.inner.config.timeout_retry_cost
        } else {
            self.inner.config.retry_cost
        }
    }

    /// Records a call that succeeded on its first try (adds `success_reward`).
    pub fn on_first_try_success(&self) {
        self.deposit(self.inner.config.success_reward);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdraw_and_deposit_stay_within_bounds() {
        let b = RetryBudget::new(BudgetConfig {
            capacity: 12,
            ..BudgetConfig::default()
        })
        .unwrap();
        assert!(b.try_withdraw(b.cost_for(true)));
        assert_eq!(b.available(), 2);
        assert!(!b.try_withdraw(b.cost_for(false)), "5 > 2 left");
        assert_eq!(b.available(), 2, "a failed withdrawal takes nothing");
        b.on_first_try_success();
        assert_eq!(b.available(), 3);
        b.deposit(100);
        assert_eq!(b.available(), 12, "never beyond capacity");
    }

    #[test]
    fn zero_capacity_is_rejected_by_name() {
        let err = RetryBudget::new(BudgetConfig {
            capacity: 0,
            ..BudgetConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("capacity"), "{err}");
    }

    #[test]
    fn config_from_json_with_defaults() {
        let c: BudgetConfig = serde_json::from_str(r#"{"capacity": 50}"#).unwrap();
        assert_eq!(c.capacity, 50);
        assert_eq!(c.retry_cost, 5);
        assert!(serde_json::from_str::<BudgetConfig>(r#"{"capcity": 50}"#).is_err());
    }
}
