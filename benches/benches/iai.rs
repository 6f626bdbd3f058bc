//! Instruction counts (valgrind/cachegrind via iai) for synod's CPU-bound paths.
//!
//! Counts are deterministic for a given binary and input, so `scripts/bench-gate` compares them
//! with `benches/iai-baseline.txt` and fails on growth above 10%. Each function runs once under
//! cachegrind; the counts include building its inputs, which is kept small and fixed so the
//! measured path dominates.
//!
//! `cargo bench -p synod-benches --bench iai` (needs valgrind).
#![allow(missing_docs)]

use iai::black_box;
use serde_json::{Value, json};
use synod::consensus::{AgentReport, ListField, StageSpec, extract_json, synthesize};
use synod::policy::CommitRules;
use synod::resilience::{CircuitBreaker, RetryPolicy};

const AGENTS: [&str; 3] = ["claude", "codex", "gemini"];

fn plan_answer(agent: usize, items: usize) -> Value {
    let risks: Vec<Value> = (0..items)
        .filter(|i| !(i + agent).is_multiple_of(7))
        .map(|i| {
            let severity = if (i + agent).is_multiple_of(2) {
                "low"
            } else {
                "high"
            };
            json!({ "risk": format!("risk {i}"), "severity": severity })
        })
        .collect();
    json!({ "audit_verdict": "pass", "risks": risks })
}

fn consensus_synthesize_3x100() {
    let spec = StageSpec::new()
        .require("/audit_verdict")
        .decide("/audit_verdict")
        .list(ListField::new("/risks", "/risk").compare("/severity"));
    let reports: Vec<AgentReport> = AGENTS
        .iter()
        .enumerate()
        .map(|(i, agent)| AgentReport::ok(*agent, plan_answer(i, 100)))
        .collect();
    let verdict = synthesize(black_box(&spec), black_box(&AGENTS), black_box(&reports));
    black_box(verdict.is_ok());
}

fn consensus_extract_mixed_16k() {
    let mut raw = String::from("codex exec v1.2\n--------\nworkdir: /repo\nmodel: o4\n");
    for i in 0..200 {
        raw.push_str(&format!(
            "thinking about step {i} {{not json}} and \"quotes\"\n"
        ));
    }
    raw.push_str("```json\n");
    raw.push_str(&plan_answer(0, 60).to_string());
    raw.push_str("\n```\ntokens used: 12345\n");
    let value = extract_json(black_box(&raw));
    black_box(value.is_ok());
}

fn policy_check_100_messages() {
    let rules = CommitRules::default();
    let messages = [
        "feat(store): add batch insert for agent outputs\n\nIt commits every attempt at once.\n\nRefs: #12",
        "fix: handle a timeout from the agent CLI",
        "Feat: Bad Case And Full Stop.",
        "chore(deps)!: drop the backoff crate\n\nBREAKING CHANGE: RetryPolicy replaces Backoff.",
        "not a conventional commit at all",
    ];
    let mut violations = 0;
    for i in 0..100 {
        let report = rules.check_text(black_box(messages[i % messages.len()]));
        violations += black_box(&report).violations.len();
    }
    black_box(violations);
}

fn resilience_breaker_success_1000() {
    let breaker = CircuitBreaker::default();
    let mut sum = 0u64;
    for i in 0..1000u64 {
        if let Ok(v) = breaker.call_blocking(|| Ok::<_, std::io::Error>(black_box(i))) {
            sum += v;
        }
    }
    black_box(sum);
}

fn resilience_retry_success_1000() {
    let policy = RetryPolicy::default();
    let mut sum = 0u64;
    for i in 0..1000u64 {
        if let Ok(v) = policy.retry_blocking(|| Ok::<_, std::io::Error>(black_box(i))) {
            sum += v;
        }
    }
    black_box(sum);
}

fn config_validate_5k_x100() {
    let schema = json!({
        "type": "object",
        "required": ["version", "agents"],
        "properties": {
            "version": { "type": "integer", "minimum": 1 },
            "agents": { "type": "array", "items": {
                "type": "object",
                "required": ["name", "command"],
                "properties": {
                    "name": { "type": "string", "pattern": "^[a-z][a-z0-9-]*$" },
                    "command": { "type": "string", "minLength": 1 },
                    "args": { "type": "array", "items": { "type": "string" } },
                    "timeout": { "type": "string" },
                    "enabled": { "type": "boolean" }
                },
                "additionalProperties": false
            }}
        }
    });
    let agents: Vec<Value> = (0..40)
        .map(|i| json!({ "name": format!("agent-{i}"), "command": "claude", "args": ["-p", "{prompt}", "--output-format", "json"], "timeout": "120s", "enabled": true }))
        .collect();
    let document = json!({ "version": 2, "agents": agents });
    let compiled = synod::config::CompiledSchema::new(schema).expect("the schema above is valid");
    let mut valid = 0;
    for _ in 0..100 {
        valid += usize::from(compiled.is_valid(black_box(&document)));
    }
    black_box(valid);
}

iai::main!(
    consensus_synthesize_3x100,
    consensus_extract_mixed_16k,
    policy_check_100_messages,
    resilience_breaker_success_1000,
    resilience_retry_success_1000,
    config_validate_5k_x100,
);
