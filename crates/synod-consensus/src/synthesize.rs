//! The [`synthesize()`] function: agent reports in, one deterministic [`Verdict`] out.
//!
//! ## Rules
//!
//! First every expected agent is classified:
//!
//! | agent | classified as |
//! |---|---|
//! | no report | missing |
//! | [`Outcome::Failed`] | invalid (`failed`) |
//! | [`Outcome::Extraction`] | invalid (`extraction`) |
//! | JSON lacks a required field | invalid (`missing_required_field`) |
//! | a list field present but not an array | invalid (`not_an_array`) |
//! | more than one report | invalid (`duplicate_report`) |
//! | otherwise | valid: votes |
//!
//! Reports from agents not expected are listed in `unexpected_agents` and ignored.
//!
//! Then each subject is decided among the valid agents. For a decision field the positions
//! are the distinct normalized values (strings trimmed and case-folded, numbers by value; a
//! missing field is the position "absent"). For a list item (matched by its normalized key)
//! the positions are "included" — split by the normalized values at the list's `compare`
//! pointers, if any — and "not included". A position **wins** when at least `quorum` valid
//! agents hold it and strictly more agents hold it than any other position; the subject is
//! then an agreement (`unanimous` when every valid agent holds it, else `majority`), otherwise
//! a conflict. An item only a minority included is therefore an agreement on "absent" with
//! the proposers as dissent, not a conflict — unless the quorum cannot be reached either way.
//!
//! Finally the status, first matching row wins:
//!
//! | status | when |
//! |---|---|
//! | `no_quorum` | fewer valid agents than the quorum |
//! | `conflict` | some decision field or list item has no winning position |
//! | `degraded` | some expected agent is missing or invalid |
//! | `ok` | otherwise |
//!
//! The quorum is [`Quorum::threshold`](crate::Quorum::threshold) of the number of *expected*
//! agents. The aggregator, if set and valid, votes like any agent; its own
//! `/consensus/agreements` and `/consensus/conflicts` (arrays, or a single value) are appended
//! with [`Source::Aggregator`] and never change the status.
//!
//! Determinism: agents are processed in name order, subjects in spec order and then by
//! normalized key, positions by support and then by normalized value ("absent" first), and
//! each position's value is taken from its alphabetically first agent — so permuting
//! `reports` changes nothing and the serialized verdict is byte-identical for the same input.
//!
//! ```
//! use serde_json::json;
//! use synod_consensus::{synthesize, AgentReport, ListField, StageSpec, Status};
//!
//! let spec = StageSpec::new()
//!     .require("/audit_verdict")
//!     .decide("/audit_verdict")
//!     .list(ListField::new("/risks", "/risk"));
//! let agents = ["claude", "codex", "gemini"];
//! let reports = [
//!     AgentReport::ok("claude", json!({"audit_verdict": "pass", "risks": [{"risk": "SQL injection"}]})),
//!     AgentReport::ok("codex", json!({"audit_verdict": "PASS ", "risks": [{"risk": "sql injection"}]})),
//!     AgentReport::failed("gemini", "timed out"),
//! ];
//! let verdict = synthesize(&spec, &agents, &reports).unwrap();
//! assert_eq!(verdict.status, Status::Degraded);
//! assert_eq!(verdict.agreements.len(), 2);
//! assert!(verdict.conflicts.is_empty());
//! ```

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::error::SpecError;
use crate::normalize::{Pointer, canonical, write_canonical};
use crate::report::{AgentReport, Outcome};
use crate::spec::StageSpec;
use crate::verdict::{
    Agreement, Conflict, InvalidAgent, InvalidReason, Position, Source, Status, Strength, Subject,
    Verdict,
};

/// Synthesizes a verdict from the agents' reports. See the [module docs](self) for the rules.
///
/// The only errors are those of [`StageSpec::validate`], which this calls first; after a
/// successful validation with the same agents, `synthesize` cannot fail.
pub fn synthesize<S: AsRef<str>>(
    spec: &StageSpec,
    expected_agents: &[S],
    reports: &[AgentReport],
) -> Result<Verdict, SpecError> {
    spec.validate(expected_agents)?;
    let quorum = spec.quorum.threshold(expected_agents.len());
    let mut expected: Vec<&str> = expected_agents.iter().map(AsRef::as_ref).collect();
    expected.sort_unstable();

    let mut by_agent: BTreeMap<&str, Vec<&AgentReport>> = BTreeMap::new();
    for report in reports {
        by_agent
            .entry(report.agent.as_str())
            .or_default()
            .push(report);
    }
    let unexpected_agents: Vec<String> = by_agent
        .keys()
        .filter(|agent| expected.binary_search(agent).is_err())
        .map(|agent| (*agent).to_owned())
        .collect();

    let mut missing_agents = Vec::new();
    let mut invalid_agents = Vec::new();
    let mut valid: Vec<(&str, &Value)> = Vec::new();
    for &agent in &expected {
        let outcome = match by_agent.get(agent).map(Vec::as_slice) {
            None | Some([]) => {
                missing_agents.push(agent.to_owned());
                continue;
            }
            Some([report]) => check(spec, report),
            Some(many) => Err(InvalidReason::DuplicateReport { count: many.len() }),
        };
        match outcome {
            Ok(value) => valid.push((agent, value)),
            Err(reason) => invalid_agents.push(InvalidAgent {
                agent: agent.to_owned(),
                reason,
            }),
        }
    }
    let required_fields_ok = !invalid_agents
        .iter()
        .any(|i| matches!(i.reason, InvalidReason::MissingRequiredField { .. }));

    let mut decider = Decider {
        names: valid.iter().map(|(name, _)| *name).collect(),
        quorum,
        agreements: Vec::new(),
        conflicts: Vec::new(),
    };

    for pointer in &spec.decision_fields {
        let parsed = Pointer::parse(pointer);
        let mut groups: Vec<(Option<String>, Group<'_>)> = Vec::new();
        for (i, (_, value)) in valid.iter().enumerate() {
            let (key, value) = match parsed.get(value) {
                Some(found) => (Some(canonical(found)), Some(found)),
                None => (None, None),
            };
            add_to_group(&mut groups, key, value, i, valid.len());
        }
        decider.decide(
            Subject::Field {
                pointer: pointer.clone(),
            },
            groups,
        );
    }

    for list in &spec.list_fields {
        let list_pointer = Pointer::parse(&list.pointer);
        let key_pointer = Pointer::parse(&list.key);
        let compare: Vec<Pointer> = list.compare.iter().map(|p| Pointer::parse(p)).collect();
        // normalized key -> its positions so far. A hash map while collecting (the keys are
        // sorted once below); scratch buffers so a mention allocates only for a new key or
        // a new position.
        let mut items: HashMap<String, Item<'_>> = HashMap::new();
        let mut key = String::new();
        let mut compared = String::new();
        for (i, (_, value)) in valid.iter().enumerate() {
            let Some(Value::Array(array)) = list_pointer.get(value) else {
                continue;
            };
            for item in array {
                key.clear();
                write_canonical(key_pointer.get(item).unwrap_or(item), &mut key);
                let entry = match items.get_mut(key.as_str()) {
                    Some(entry) => entry,
                    None => items.entry(key.clone()).or_default(),
                };
                if entry.last_agent == Some(i) {
                    continue; // the same key twice in one agent's list: the first one counts
                }
                entry.last_agent = Some(i);
                compared.clear();
                for pointer in &compare {
                    compared.push('+');
                    if let Some(found) = pointer.get(item) {
                        write_canonical(found, &mut compared);
                    }
                }
                match entry
                    .groups
                    .iter_mut()
                    .find(|(k, _)| k.as_deref() == Some(compared.as_str()))
                {
                    Some((_, group)) => group.agents.push(i),
                    None => entry.groups.push((
                        Some(compared.clone()),
                        Group {
                            value: Some(item),
                            agents: first_agent(i, valid.len()),
                        },
                    )),
                }
            }
        }
        let mut items: Vec<(String, Item<'_>)> = items.into_iter().collect();
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut included = vec![false; valid.len()];
        for (key, Item { mut groups, .. }) in items {
            included.fill(false);
            for (_, group) in &groups {
                for &i in &group.agents {
                    included[i] = true;
                }
            }
            let absent: Vec<usize> = (0..valid.len()).filter(|&i| !included[i]).collect();
            if !absent.is_empty() {
                groups.push((
                    None,
                    Group {
                        value: None,
                        agents: absent,
                    },
                ));
            }
            decider.decide(
                Subject::Item {
                    list: list.pointer.clone(),
                    key,
                },
                groups,
            );
        }
    }

    let computed_conflict = !decider.conflicts.is_empty();
    let Decider {
        mut agreements,
        mut conflicts,
        ..
    } = decider;
    if let Some(aggregator) = &spec.aggregator
        && let Some((name, value)) = valid.iter().find(|(name, _)| name == aggregator)
    {
        merge_aggregator(name, value, &mut agreements, &mut conflicts);
    }

    let status = if valid.len() < quorum {
        Status::NoQuorum
    } else if computed_conflict {
        Status::Conflict
    } else if !missing_agents.is_empty() || !invalid_agents.is_empty() {
        Status::Degraded
    } else {
        Status::Ok
    };

    Ok(Verdict {
        status,
        quorum,
        expected_agents: expected.iter().map(|a| (*a).to_owned()).collect(),
        valid_agents: valid.iter().map(|(a, _)| (*a).to_owned()).collect(),
        agreements,
        conflicts,
        missing_agents,
        invalid_agents,
        unexpected_agents,
        required_fields_ok,
    })
}

fn check<'a>(spec: &StageSpec, report: &'a AgentReport) -> Result<&'a Value, InvalidReason> {
    let value = match &report.outcome {
        Outcome::Ok(value) => value,
        Outcome::Failed(message) => {
            return Err(InvalidReason::Failed {
                message: message.clone(),
            });
        }
        Outcome::Extraction(error) => {
            return Err(InvalidReason::Extraction {
                message: error.to_string(),
            });
        }
    };
    if let Some(pointer) = spec
        .required_fields
        .iter()
        .find(|p| value.pointer(p).is_none())
    {
        return Err(InvalidReason::MissingRequiredField {
            pointer: pointer.clone(),
        });
    }
    if let Some(list) = spec
        .list_fields
        .iter()
        .find(|l| value.pointer(&l.pointer).is_some_and(|v| !v.is_array()))
    {
        return Err(InvalidReason::NotAnArray {
            pointer: list.pointer.clone(),
        });
    }
    Ok(value)
}

/// A group's agent list, sized for every valid agent up front (one allocation, no regrowth).
fn first_agent(i: usize, capacity: usize) -> Vec<usize> {
    let mut agents = Vec::with_capacity(capacity);
    agents.push(i);
    agents
}

/// A list item's positions while collecting: keyed by the normalized compare values.
#[derive(Default)]
struct Item<'a> {
    /// The last agent that mentioned it (agents are visited in order).
    last_agent: Option<usize>,
    groups: Vec<(Option<String>, Group<'a>)>,
}

/// Agents (indices into the valid agents, ascending) holding one position.
struct Group<'a> {
    value: Option<&'a Value>,
    agents: Vec<usize>,
}

/// Adds agent `i` to the group keyed `key`, creating it with `value` (its first, i.e.
/// alphabetically first, agent's value). Groups are few per subject: a linear search is
/// cheaper than a map.
fn add_to_group<'a>(
    groups: &mut Vec<(Option<String>, Group<'a>)>,
    key: Option<String>,
    value: Option<&'a Value>,
    i: usize,
    capacity: usize,
) {
    match groups.iter_mut().find(|(k, _)| *k == key) {
        Some((_, group)) => group.agents.push(i),
        None => groups.push((
            key,
            Group {
                value,
                agents: first_agent(i, capacity),
            },
        )),
    }
}

struct Decider<'a> {
    names: Vec<&'a str>,
    quorum: usize,
    agreements: Vec<Agreement>,
    conflicts: Vec<Conflict>,
}

impl Decider<'_> {
    /// `groups` is keyed by normalized position (`None`: absent); ties in support are broken
    /// by that key, absent first.
    fn decide(&mut self, subject: Subject, mut groups: Vec<(Option<String>, Group<'_>)>) {
        groups.sort_unstable_by(|(ka, a), (kb, b)| {
            b.agents.len().cmp(&a.agents.len()).then_with(|| ka.cmp(kb))
        });
        let top = groups.first().map_or(0, |(_, g)| g.agents.len());
        let second = groups.get(1).map_or(0, |(_, g)| g.agents.len());
        let mut positions = groups.into_iter().map(|(_, g)| Position {
            value: g.value.cloned(),
            agents: g.agents.iter().map(|&i| self.names[i].to_owned()).collect(),
        });
        if top >= self.quorum && top > second {
            if let Some(winner) = positions.next() {
                let strength = if top == self.names.len() {
                    Strength::Unanimous
                } else {
                    Strength::Majority
                };
                self.agreements.push(Agreement {
                    subject,
                    value: winner.value,
                    agents: winner.agents,
                    strength,
                    dissent: positions.collect(),
                    source: Source::Computed,
                });
            }
        } else {
            self.conflicts.push(Conflict {
                subject,
                positions: positions.collect(),
                source: Source::Computed,
            });
        }
    }
}

fn merge_aggregator(
    aggregator: &str,
    value: &Value,
    agreements: &mut Vec<Agreement>,
    conflicts: &mut Vec<Conflict>,
) {
    fn entries(value: Option<&Value>) -> Vec<Value> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => vec![other.clone()],
        }
    }
    for entry in entries(value.pointer("/consensus/agreements")) {
        agreements.push(Agreement {
            subject: Subject::Reported,
            value: Some(entry),
            agents: vec![aggregator.to_owned()],
            strength: Strength::Reported,
            dissent: Vec::new(),
            source: Source::Aggregator,
        });
    }
    for entry in entries(value.pointer("/consensus/conflicts")) {
        conflicts.push(Conflict {
            subject: Subject::Reported,
            positions: vec![Position {
                value: Some(entry),
                agents: vec![aggregator.to_owned()],
            }],
            source: Source::Aggregator,
        });
    }
}
