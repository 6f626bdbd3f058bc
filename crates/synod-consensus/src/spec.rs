//! What a stage's agents must agree on: [`StageSpec`], [`ListField`] and [`Quorum`].
//!
//! A spec lives in configuration. Its serde form (TOML shown; JSON works the same way):
//!
//! ```toml
//! required_fields = ["/work_breakdown", "/risks"]    # JSON pointers (RFC 6901)
//! decision_fields = ["/audit_verdict"]               # compared after normalization
//! quorum = "majority"                                # "all" | "majority" | { at_least = 2 }
//! aggregator = "claude"                              # optional, must be an expected agent
//!
//! [[list_fields]]
//! pointer = "/risks"       # the array
//! key = "/risk"            # identifies an item across agents (normalized)
//! compare = ["/severity"]  # optional: parts of the item that must also agree
//! ```
//!
//! Every field is optional (defaults: nothing required or compared, quorum `majority`, no
//! aggregator); unknown fields are rejected so typos do not pass silently.
//!
//! ```
//! use synod_consensus::{Quorum, StageSpec};
//!
//! let spec: StageSpec = serde_json::from_str(
//!     r#"{"decision_fields": ["/audit_verdict"], "quorum": {"at_least": 2}}"#,
//! ).unwrap();
//! assert_eq!(spec.quorum, Quorum::AtLeast(2));
//! spec.validate(&["claude", "codex", "gemini"]).unwrap();
//! assert!(spec.validate(&["claude"]).is_err()); // quorum larger than the agent count
//! ```

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::SpecError;

/// How many valid agents must hold a position for it to count as agreed, and how many must
/// report at all for the stage to have a quorum.
///
/// Serde form: `"all"`, `"majority"` or `{ at_least = n }` (JSON: `{"at_least": n}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quorum {
    /// Every expected agent.
    All,
    /// More than half of the expected agents (`n / 2 + 1`). The default.
    #[default]
    Majority,
    /// At least this many agents (1 or more, at most the number of expected agents).
    AtLeast(usize),
}

impl Quorum {
    /// The number of agents this quorum needs out of `expected` agents.
    ///
    /// ```
    /// # use synod_consensus::Quorum;
    /// assert_eq!(Quorum::Majority.threshold(3), 2);
    /// assert_eq!(Quorum::Majority.threshold(4), 3);
    /// assert_eq!(Quorum::All.threshold(3), 3);
    /// assert_eq!(Quorum::AtLeast(2).threshold(5), 2);
    /// ```
    pub fn threshold(self, expected: usize) -> usize {
        match self {
            Quorum::All => expected,
            Quorum::Majority => expected / 2 + 1,
            Quorum::AtLeast(n) => n,
        }
    }
}

/// An array whose items are matched across agents by a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ListField {
    /// JSON pointer to the array, e.g. `/risks`.
    pub pointer: String,
    /// JSON pointer inside each item to its key, e.g. `/risk`. Keys are normalized (trimmed,
    /// case-folded, numbers by value). An item without the key is keyed by its whole
    /// (normalized) value; `""` keys every item by its whole value.
    pub key: String,
    /// JSON pointers inside each item whose values must also agree (e.g. `/severity`).
    /// Empty (the default): an item's position is simply "included" or "not included".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<String>,
}

impl ListField {
    /// A list field matched by `key`, comparing only inclusion.
    pub fn new(pointer: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            key: key.into(),
            compare: Vec::new(),
        }
    }

    /// Also compares the value at `pointer` inside matched items.
    #[must_use]
    pub fn compare(mut self, pointer: impl Into<String>) -> Self {
        self.compare.push(pointer.into());
        self
    }
}

/// What one stage's agents must produce and agree on. See the [module docs](self) for the
/// config form and [`synthesize`](mod@crate::synthesize) for how it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StageSpec {
    /// JSON pointers every agent's output must contain (a missing one makes the agent
    /// invalid). Present-but-`null` counts as present.
    pub required_fields: Vec<String>,
    /// JSON pointers whose values must agree (after normalization) across a quorum.
    pub decision_fields: Vec<String>,
    /// Arrays whose items are matched across agents by key.
    pub list_fields: Vec<ListField>,
    /// How many agents make a quorum. Default [`Quorum::Majority`].
    pub quorum: Quorum,
    /// An expected agent whose own `consensus.agreements` / `consensus.conflicts` are merged
    /// into the verdict, marked as reported by the aggregator. It also votes like any agent.
    pub aggregator: Option<String>,
}

impl StageSpec {
    /// An empty spec: nothing required or compared, majority quorum, no aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a required field.
    #[must_use]
    pub fn require(mut self, pointer: impl Into<String>) -> Self {
        self.required_fields.push(pointer.into());
        self
    }

    /// Adds a decision field.
    #[must_use]
    pub fn decide(mut self, pointer: impl Into<String>) -> Self {
        self.decision_fields.push(pointer.into());
        self
    }

    /// Adds a list field.
    #[must_use]
    pub fn list(mut self, field: ListField) -> Self {
        self.list_fields.push(field);
        self
    }

    /// Sets the quorum.
    #[must_use]
    pub fn with_quorum(mut self, quorum: Quorum) -> Self {
        self.quorum = quorum;
        self
    }

    /// Sets the aggregator agent.
    #[must_use]
    pub fn with_aggregator(mut self, agent: impl Into<String>) -> Self {
        self.aggregator = Some(agent.into());
        self
    }

    /// Validates the spec and returns it: the validating constructor for code that builds
    /// a spec and wants errors at construction time.
    pub fn validated<S: AsRef<str>>(self, expected_agents: &[S]) -> Result<Self, SpecError> {
        self.validate(expected_agents)?;
        Ok(self)
    }

    /// Checks the spec against the agents expected to answer: every pointer is a valid JSON
    /// pointer, agent names are unique and non-empty in number, the quorum is between 1 and
    /// the agent count, and the aggregator is one of the agents.
    pub fn validate<S: AsRef<str>>(&self, expected_agents: &[S]) -> Result<(), SpecError> {
        if expected_agents.is_empty() {
            return Err(SpecError::NoAgents);
        }
        let mut names = BTreeSet::new();
        for agent in expected_agents {
            if !names.insert(agent.as_ref()) {
                return Err(SpecError::DuplicateAgent {
                    agent: agent.as_ref().to_owned(),
                });
            }
        }
        for (i, p) in self.required_fields.iter().enumerate() {
            check_pointer(p, || format!("required_fields[{i}]"))?;
        }
        for (i, p) in self.decision_fields.iter().enumerate() {
            check_pointer(p, || format!("decision_fields[{i}]"))?;
        }
        for (i, list) in self.list_fields.iter().enumerate() {
            check_pointer(&list.pointer, || format!("list_fields[{i}].pointer"))?;
            check_pointer(&list.key, || format!("list_fields[{i}].key"))?;
            for (j, p) in list.compare.iter().enumerate() {
                check_pointer(p, || format!("list_fields[{i}].compare[{j}]"))?;
            }
        }
        if self.quorum == Quorum::AtLeast(0) {
            return Err(SpecError::ZeroQuorum);
        }
        let quorum = self.quorum.threshold(expected_agents.len());
        if quorum > expected_agents.len() {
            return Err(SpecError::QuorumTooLarge {
                quorum,
                agents: expected_agents.len(),
            });
        }
        if let Some(aggregator) = &self.aggregator
            && !names.contains(aggregator.as_str())
        {
            return Err(SpecError::AggregatorNotExpected {
                aggregator: aggregator.clone(),
                expected: names.into_iter().map(str::to_owned).collect(),
            });
        }
        Ok(())
    }
}

/// RFC 6901: `""`, or `/`-separated tokens where `~` is only followed by `0` or `1`.
fn check_pointer(pointer: &str, field: impl FnOnce() -> String) -> Result<(), SpecError> {
    let reason = if !pointer.is_empty() && !pointer.starts_with('/') {
        Some("it must be empty or start with '/'")
    } else if pointer
        .split('~')
        .skip(1)
        .any(|rest| !(rest.starts_with('0') || rest.starts_with('1')))
    {
        Some("'~' must be followed by '0' (for '~') or '1' (for '/')")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SpecError::InvalidPointer {
            field: field(),
            pointer: pointer.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENTS: [&str; 3] = ["claude", "codex", "gemini"];

    #[test]
    fn quorum_serde_forms() {
        for (text, quorum) in [
            (r#""all""#, Quorum::All),
            (r#""majority""#, Quorum::Majority),
            (r#"{"at_least":2}"#, Quorum::AtLeast(2)),
        ] {
            assert_eq!(serde_json::from_str::<Quorum>(text).ok(), Some(quorum));
            assert_eq!(serde_json::to_string(&quorum).ok().as_deref(), Some(text));
        }
        assert!(serde_json::from_str::<Quorum>(r#""most""#).is_err());
    }

    #[test]
    fn invalid_pointers_name_the_field() {
        let spec = StageSpec::new().require("/ok").require("risks");
        match spec.validate(&AGENTS) {
            Err(SpecError::InvalidPointer { field, pointer, .. }) => {
                assert_eq!(field, "required_fields[1]");
                assert_eq!(pointer, "risks");
            }
            other => panic!("{other:?}"),
        }
        let spec = StageSpec::new().list(ListField::new("/risks", "/a~2b"));
        assert!(matches!(
            spec.validate(&AGENTS),
            Err(SpecError::InvalidPointer { field, .. }) if field == "list_fields[0].key"
        ));
        let spec = StageSpec::new().decide("/a~").decide("/x");
        assert!(matches!(
            spec.validate(&AGENTS),
            Err(SpecError::InvalidPointer { .. })
        ));
        let spec = StageSpec::new().decide("").decide("/a~0b~1c/0");
        assert_eq!(spec.validate(&AGENTS), Ok(()));
    }

    #[test]
    fn quorum_and_agent_checks() {
        let spec = StageSpec::new().with_quorum(Quorum::AtLeast(4));
        assert_eq!(
            spec.validate(&AGENTS),
            Err(SpecError::QuorumTooLarge {
                quorum: 4,
                agents: 3
            })
        );
        let spec = StageSpec::new().with_quorum(Quorum::AtLeast(0));
        assert_eq!(spec.validate(&AGENTS), Err(SpecError::ZeroQuorum));
        let none: [&str; 0] = [];
        assert_eq!(StageSpec::new().validate(&none), Err(SpecError::NoAgents));
        assert_eq!(
            StageSpec::new().validate(&["a", "b", "a"]),
            Err(SpecError::DuplicateAgent { agent: "a".into() })
        );
        let spec = StageSpec::new().with_aggregator("opus");
        match spec.validated(&AGENTS) {
            Err(err @ SpecError::AggregatorNotExpected { .. }) => {
                assert!(err.to_string().contains("\"opus\""));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            StageSpec::new()
                .with_quorum(Quorum::All)
                .with_aggregator("codex")
                .validated(&AGENTS)
                .is_ok()
        );
    }

    #[test]
    fn unknown_spec_fields_are_rejected() {
        let err = serde_json::from_str::<StageSpec>(r#"{"decision_field": ["/x"]}"#);
        assert!(err.is_err());
    }
}
