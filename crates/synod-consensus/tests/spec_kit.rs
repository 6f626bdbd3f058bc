//! The spec-kit stage shapes end to end: raw CLI outputs → extract → synthesize → verdict.

use serde_json::json;
use synod_consensus::{
    AgentReport, ExtractOptions, InvalidReason, StageSpec, Status, Strength, Subject, synthesize,
};

const AGENTS: [&str; 3] = ["claude", "codex", "gemini"];

fn plan_spec() -> StageSpec {
    // As it would be written in synod.toml, here in its JSON form.
    serde_json::from_value(json!({
        "required_fields": ["/work_breakdown", "/acceptance_mapping", "/risks"],
        "list_fields": [
            {"pointer": "/work_breakdown", "key": "/id"},
            {"pointer": "/acceptance_mapping", "key": "/criterion", "compare": ["/tasks"]},
            {"pointer": "/risks", "key": "/risk"}
        ],
        "quorum": "majority"
    }))
    .unwrap_or_else(|e| panic!("plan spec: {e}"))
}

fn audit_spec() -> StageSpec {
    serde_json::from_value(json!({
        "required_fields": ["/audit_verdict"],
        "decision_fields": ["/audit_verdict"],
        "quorum": {"at_least": 2},
        "aggregator": "claude"
    }))
    .unwrap_or_else(|e| panic!("audit spec: {e}"))
}

fn reports(outputs: &[(&str, &str)]) -> Vec<AgentReport> {
    let options = ExtractOptions::cli_defaults();
    outputs
        .iter()
        .map(|(agent, raw)| AgentReport::from_output(*agent, raw, &options))
        .collect()
}

const CLAUDE_PLAN: &str = r#"I've reviewed the spec. Here is the plan:

```json
{
  "work_breakdown": [
    {"id": "T1", "title": "Schema migration", "depends_on": []},
    {"id": "T2", "title": "Repository layer", "depends_on": ["T1"]},
    {"id": "T3", "title": "HTTP handlers", "depends_on": ["T2"]}
  ],
  "acceptance_mapping": [
    {"criterion": "AC-1 users can sign up", "tasks": ["T1", "T2", "T3"]},
    {"criterion": "AC-2 duplicate emails rejected", "tasks": ["T2"]}
  ],
  "risks": [
    {"risk": "Migration locks the users table", "severity": "high", "mitigation": "online DDL"},
    {"risk": "Email case sensitivity", "severity": "medium", "mitigation": "citext"}
  ]
}
```

Let me know if you want more detail."#;

const CODEX_PLAN: &str = r#"[2026-11-27T05:10:00] OpenAI Codex v0.63.0 (research preview)
--------
workdir: /repo
model: gpt-5-codex
provider: openai
approval: never
sandbox: read-only
--------
[2026-11-27T05:10:00] User instructions:
Produce the plan as JSON: {"work_breakdown": [{"id": "string", "title": "string"}], "acceptance_mapping": [], "risks": []}
[2026-11-27T05:10:41] codex
{"work_breakdown": [{"id": "t1", "title": "Add users migration"}, {"id": "T2", "title": "Repo"}, {"id": "T3", "title": "Handlers"}],
 "acceptance_mapping": [{"criterion": "ac-1 users can sign up", "tasks": ["T1", "T2", "T3"]}, {"criterion": "AC-2 duplicate emails rejected", "tasks": ["T2", "T3"]}],
 "risks": [{"risk": "migration locks the users table", "severity": "HIGH"}, {"risk": "Password hashing cost {bcrypt: 12}", "severity": "low"}]}
[2026-11-27T05:10:42] tokens used: 4,812
"#;

const GEMINI_PLAN: &str = r#"Loaded cached credentials.
Okay, here's my take on the plan. Note the `{curly}` placeholders in the spec were ignored.
{
  "work_breakdown": [
    {"id": "T1", "title": "Migration"},
    {"id": "T2", "title": "Repository"},
    {"id": "T3", "title": "Handlers"},
    {"id": "T4", "title": "Docs"}
  ],
  "acceptance_mapping": [
    {"criterion": "AC-1 Users can sign up", "tasks": ["T1", "T2", "T3"]},
    {"criterion": "AC-2 Duplicate emails rejected", "tasks": ["T2"]}
  ],
  "risks": [
    {"risk": "Email case sensitivity", "severity": "medium"}
  ]
}
"#;

#[test]
fn plan_stage_from_raw_outputs() {
    let reports = reports(&[
        ("claude", CLAUDE_PLAN),
        ("codex", CODEX_PLAN),
        ("gemini", GEMINI_PLAN),
    ]);
    for r in &reports {
        assert!(
            r.value().is_some(),
            "{} not extracted: {:?}",
            r.agent,
            r.outcome
        );
    }
    let verdict = synthesize(&plan_spec(), &AGENTS, &reports).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verdict.status, Status::Ok, "{}", verdict.to_markdown());
    assert!(verdict.required_fields_ok);

    let find = |list: &str, key: &str| {
        verdict
            .agreements
            .iter()
            .find(|a| {
                a.subject
                    == Subject::Item {
                        list: list.into(),
                        key: key.into(),
                    }
            })
            .unwrap_or_else(|| panic!("{list} {key}: {}", verdict.to_markdown()))
    };
    // T1..T3 unanimous (keys normalized: "t1" == "T1"), T4 proposed only by gemini.
    for id in ["\"t1\"", "\"t2\"", "\"t3\""] {
        assert_eq!(find("/work_breakdown", id).strength, Strength::Unanimous);
    }
    let t4 = find("/work_breakdown", "\"t4\"");
    assert_eq!(t4.value, None);
    assert_eq!(t4.dissent[0].agents, ["gemini"]);
    // AC-2's task list: claude and gemini say [T2], codex says [T2, T3] -> majority.
    let ac2 = find("/acceptance_mapping", "\"ac-2 duplicate emails rejected\"");
    assert_eq!(ac2.strength, Strength::Majority);
    assert_eq!(ac2.agents, ["claude", "gemini"]);
    assert_eq!(ac2.dissent[0].agents, ["codex"]);
    // Risks: the migration risk is held by claude and codex; the password one only by codex.
    let lock = find("/risks", "\"migration locks the users table\"");
    assert_eq!(lock.agents, ["claude", "codex"]);
    let email = find("/risks", "\"email case sensitivity\"");
    assert_eq!(email.agents, ["claude", "gemini"]);
    let bcrypt = find("/risks", "\"password hashing cost {bcrypt: 12}\"");
    assert_eq!(bcrypt.value, None);
}

#[test]
fn plan_stage_missing_section_invalidates_agent() {
    let reports = vec![
        AgentReport::ok(
            "claude",
            json!({"work_breakdown": [], "acceptance_mapping": [], "risks": []}),
        ),
        AgentReport::ok("codex", json!({"work_breakdown": [], "risks": []})),
        AgentReport::ok(
            "gemini",
            json!({"work_breakdown": [], "acceptance_mapping": [], "risks": []}),
        ),
    ];
    let verdict = synthesize(&plan_spec(), &AGENTS, &reports).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verdict.status, Status::Degraded);
    assert!(!verdict.required_fields_ok);
    assert_eq!(
        verdict.invalid_agents[0].reason,
        InvalidReason::MissingRequiredField {
            pointer: "/acceptance_mapping".into()
        }
    );
}

#[test]
fn audit_stage_statuses() {
    let audit = |claude: &str, codex: &str, gemini: &str| {
        let reports = reports(&[("claude", claude), ("codex", codex), ("gemini", gemini)]);
        synthesize(&audit_spec(), &AGENTS, &reports).unwrap_or_else(|e| panic!("{e}"))
    };
    let pass_with_view = "```json\n{\"audit_verdict\": \"pass\", \"consensus\": {\"agreements\": [\"tests cover AC-1\"], \"conflicts\": []}}\n```";
    let pass = "{\"audit_verdict\": \"PASS\"}";
    let fail = "Found issues.\n```json\n{\"audit_verdict\": \"fail\", \"findings\": [\"no rate limit\"]}\n```";
    let template = "```json\n{\"audit_verdict\": \"pass|fail\"}\n```";

    let v = audit(pass_with_view, pass, pass);
    assert_eq!(v.status, Status::Ok);
    assert_eq!(v.agreements[0].value, Some(json!("pass")));
    assert_eq!(v.agreements[0].strength, Strength::Unanimous);
    assert_eq!(
        v.agreements.len(),
        2,
        "the aggregator's own agreement is merged"
    );

    let v = audit(pass_with_view, fail, pass);
    assert_eq!(v.status, Status::Ok);
    assert_eq!(v.agreements[0].strength, Strength::Majority);

    let v = audit(pass_with_view, fail, template);
    assert_eq!(v.status, Status::Conflict, "{}", v.to_markdown());
    match &v.invalid_agents[0].reason {
        InvalidReason::Extraction { message } => assert!(message.contains("template")),
        other => panic!("{other:?}"),
    }
    let md = v.to_markdown();
    assert!(md.contains("`\"fail\"`: codex"), "{md}");
    assert!(md.contains("`\"pass\"`: claude"), "{md}");

    let v = audit(pass, "", "I'm sorry, I can't help with that.");
    assert_eq!(v.status, Status::NoQuorum);
    assert_eq!(v.invalid_agents.len(), 2);
}
