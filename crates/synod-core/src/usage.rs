//! [`Usage`]: the tokens one agent run consumed, as its CLI reported them.
//!
//! Adapters (synod-agents) fill it from each CLI's JSON envelope, the Orchestrator carries it
//! into reports and the store keeps it per attempt; it lives here so those layers share one
//! type without depending on each other.
//!
//! ```
//! use synod_core::Usage;
//!
//! let mut total = Usage::new(1_200, 80, 1_000);
//! total.add(Usage::new(300, 20, 0));
//! assert_eq!(total, Usage::new(1_500, 100, 1_000));
//! assert_eq!(total.total_tokens(), 1_600);
//! assert_eq!(
//!     serde_json::to_string(&total)?,
//!     r#"{"input_tokens":1500,"output_tokens":100,"cached_tokens":1000}"#
//! );
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::{Deserialize, Serialize};

/// Token counts of one run, summed over the CLI's model calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Prompt tokens, including those served from a cache.
    #[serde(default)]
    pub input_tokens: u64,
    /// Generated tokens (including reasoning or thinking tokens where the CLI counts them).
    #[serde(default)]
    pub output_tokens: u64,
    /// The part of `input_tokens` read from a prompt cache.
    #[serde(default)]
    pub cached_tokens: u64,
}

impl Usage {
    /// A usage from its three counts.
    #[must_use]
    pub fn new(input_tokens: u64, output_tokens: u64, cached_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
            cached_tokens,
        }
    }

    /// Adds `other`'s counts to these, each saturating at `u64::MAX`.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
    }

    /// Input plus output tokens (cached tokens are part of the input), saturating.
    #[must_use]
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_saturates_instead_of_overflowing() {
        let mut usage = Usage::new(u64::MAX - 1, 5, 7);
        usage.add(Usage::new(10, 1, 1));
        assert_eq!(usage, Usage::new(u64::MAX, 6, 8));
        assert_eq!(usage.total_tokens(), u64::MAX);
    }

    #[test]
    fn missing_counts_deserialize_as_zero() {
        let usage: Usage = serde_json::from_str(r#"{"output_tokens":9}"#).unwrap();
        assert_eq!(usage, Usage::new(0, 9, 0));
    }
}
