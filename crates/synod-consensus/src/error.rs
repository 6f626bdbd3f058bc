//! Errors: why an agent's output was rejected ([`ExtractError`]), why a stage spec is unusable
//! ([`SpecError`]), and the crate-wide [`Error`] that wraps both.
//!
//! Nothing here does I/O, so none of these errors is transient: a rejected output stays
//! rejected until the agent is asked again, and a bad spec stays bad until it is edited.
//!
//! ```
//! use synod_consensus::{extract_json, Error, ExtractError};
//!
//! let err = extract_json("   ").unwrap_err();
//! assert_eq!(err, ExtractError::Empty);
//! let err: Error = err.into();
//! assert!(err.to_string().contains("empty"));
//! ```

/// The crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error this crate returns, for callers that want a single type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An agent's raw output held no usable JSON.
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// A [`StageSpec`](crate::StageSpec) does not fit the expected agents.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// Why [`extract_json`](crate::extract_json) rejected an agent's output. Each variant is a
/// distinct reason, so a caller can tell "the agent said nothing" from "the agent echoed the
/// prompt's template".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The output was empty or whitespace (after stripping configured banner/footer lines).
    #[error(
        "agent output is empty (after stripping banner/footer lines); check that the agent CLI ran and printed its answer to stdout"
    )]
    Empty,
    /// The output held no JSON object or array.
    #[error(
        "agent output contains no JSON object or array; ask the agent to answer in a ```json fenced block"
    )]
    NoJson,
    /// The chosen JSON block does not parse. `line` and `column` are 1-based and relative to
    /// the start of the block (the first line inside a ```json fence, or the opening brace of
    /// an unfenced object).
    #[error(
        "invalid JSON at line {line}, column {column} of the JSON block: {message}; the output may be truncated (raise the output cap or timeout) or malformed"
    )]
    InvalidJson {
        /// 1-based line inside the JSON block.
        line: usize,
        /// 1-based column inside the JSON block.
        column: usize,
        /// serde_json's description of the problem.
        message: String,
    },
    /// The output (after stripping) is shorter than the configured minimum.
    #[error(
        "agent output is {len} bytes, shorter than the minimum of {min} bytes; the agent probably stopped early"
    )]
    TooShort {
        /// Length of the stripped, trimmed output in bytes.
        len: usize,
        /// The configured minimum ([`ExtractOptions::min_len`](crate::ExtractOptions::min_len)).
        min: usize,
    },
    /// The JSON looks like the prompt's schema template echoed back: most leaves are
    /// placeholders such as `"string"`, `"<describe the risk>"`, `"..."` or `"pass|fail"`.
    #[error(
        "agent output looks like an echoed schema template ({placeholders} of {leaves} leaf values are placeholders such as \"string\" or \"<...>\"); the agent did not fill it in"
    )]
    SchemaTemplate {
        /// How many leaf values look like placeholders.
        placeholders: usize,
        /// How many leaf values (non-empty strings, numbers, booleans) the JSON has; empty
        /// strings and nulls count as neither.
        leaves: usize,
    },
    /// An agent adapter found the output unusable for a reason of its own (an envelope that
    /// says the answer was cut off, say); the message says which.
    #[error("{message}")]
    Unusable {
        /// The adapter's reason, one line.
        message: String,
    },
}

/// Why a [`StageSpec`](crate::StageSpec) cannot be used with a set of expected agents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A field of the spec holds a string that is not an RFC 6901 JSON pointer.
    #[error(
        "{field} = {pointer:?} is not a JSON pointer: {reason} (write e.g. \"/risks\" or \"/plan/steps\"; \"\" means the whole document)"
    )]
    InvalidPointer {
        /// Which spec field holds it, e.g. `required_fields[1]` or `list_fields[0].key`.
        field: String,
        /// The offending string.
        pointer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The quorum asks for more agents than are expected.
    #[error(
        "quorum needs {quorum} agents but only {agents} are expected; lower the quorum or add agents"
    )]
    QuorumTooLarge {
        /// Agents the quorum needs.
        quorum: usize,
        /// Agents expected.
        agents: usize,
    },
    /// `at_least = 0` would let a stage pass with no valid agent at all.
    #[error("quorum at_least = 0 is not allowed; use at least 1")]
    ZeroQuorum,
    /// The aggregator is not one of the expected agents.
    #[error(
        "aggregator {aggregator:?} is not among the expected agents {expected:?}; add it to the agents or fix the name"
    )]
    AggregatorNotExpected {
        /// The configured aggregator.
        aggregator: String,
        /// The expected agents, sorted.
        expected: Vec<String>,
    },
    /// No agents are expected, so there is nothing to synthesize.
    #[error("no expected agents; configure at least one agent for the stage")]
    NoAgents,
    /// An agent name appears twice among the expected agents.
    #[error(
        "agent {agent:?} is listed twice among the expected agents; agent names must be unique"
    )]
    DuplicateAgent {
        /// The repeated name.
        agent: String,
    },
}
