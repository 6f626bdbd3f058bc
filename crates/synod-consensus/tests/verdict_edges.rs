//! Verdict details a caller reads: computed conflicts and the aggregator's merged view
//! (see docs/TESTING.md).

use serde_json::json;
use synod_consensus::{AgentReport, Source, StageSpec, Verdict, synthesize};

const AGENTS: [&str; 3] = ["claude", "codex", "gemini"];

fn verdict(spec: &StageSpec, reports: &[AgentReport]) -> Verdict {
    match synthesize(spec, &AGENTS, reports) {
        Ok(v) => v,
        Err(e) => panic!("spec rejected: {e}"),
    }
}

#[test]
fn a_disagreement_is_a_computed_conflict() {
    let spec = StageSpec::new().decide("/verdict");
    let reports = [
        AgentReport::ok("claude", json!({"verdict": "ok"})),
        AgentReport::ok("codex", json!({"verdict": "blocked"})),
        AgentReport::ok("gemini", json!({"verdict": "unsure"})),
    ];
    let v = verdict(&spec, &reports);
    let computed: Vec<_> = v.computed_conflicts().collect();
    assert_eq!(computed.len(), 1, "{:?}", v.conflicts);
    assert_eq!(computed[0].source, Source::Computed);
}

#[test]
fn an_aggregator_without_a_consensus_section_adds_nothing() {
    let spec = StageSpec::new()
        .decide("/verdict")
        .with_aggregator("claude");
    let reports = [
        AgentReport::ok("claude", json!({"verdict": "ok"})),
        AgentReport::ok("codex", json!({"verdict": "ok"})),
        AgentReport::ok("gemini", json!({"verdict": "ok"})),
    ];
    let v = verdict(&spec, &reports);
    assert!(
        v.agreements.iter().all(|a| a.source == Source::Computed),
        "{:?}",
        v.agreements
    );
    assert!(v.conflicts.is_empty(), "{:?}", v.conflicts);
}

fn agreeing(fields: usize) -> Verdict {
    let mut spec = StageSpec::new();
    let mut answer = serde_json::Map::new();
    for i in 0..fields {
        spec = spec.decide(format!("/f{i}"));
        answer.insert(format!("f{i}"), json!("same"));
    }
    let reports = AGENTS.map(|a| AgentReport::ok(a, serde_json::Value::Object(answer.clone())));
    verdict(&spec, &reports)
}

#[test]
fn markdown_lists_up_to_25_entries_and_counts_the_rest() {
    let v = agreeing(25);
    assert_eq!(v.agreements.len(), 25);
    let md = v.to_markdown();
    assert!(!md.contains("more"), "{md}");
    // Nothing missing, invalid or lacking: no such lines.
    assert!(!md.contains("missing:"), "{md}");
    assert!(!md.contains("invalid:"), "{md}");
    assert!(!md.contains("lacked required fields"), "{md}");
    let md = agreeing(26).to_markdown();
    assert!(md.contains("- ... and 1 more"), "{md}");
}

#[test]
fn a_subject_no_valid_answer_could_decide_says_so() {
    let spec = StageSpec::new().decide("/verdict");
    let reports = [
        AgentReport::failed("claude", "timed out"),
        AgentReport::failed("codex", "exit 1"),
    ];
    let v = verdict(&spec, &reports);
    assert_eq!(v.status, synod_consensus::Status::NoQuorum);
    // Still undecided (a conflict), but not a disagreement: nobody valid said anything.
    assert_eq!(v.conflicts.len(), 1);
    assert!(v.conflicts[0].positions.is_empty());
    let text = v.to_markdown();
    assert!(text.contains("\n- `/verdict`: no valid answer\n"), "{text}");
    // With positions, the subject is listed as before.
    let reports = [
        AgentReport::ok("claude", json!({"verdict": "ok"})),
        AgentReport::ok("codex", json!({"verdict": "blocked"})),
    ];
    let text = verdict(&spec, &reports).to_markdown();
    assert!(text.contains("\n- `/verdict`\n"), "{text}");
}
