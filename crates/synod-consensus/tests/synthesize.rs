//! Table-driven status cases and the finer rules of `synthesize`.

use serde_json::{Value, json};
use synod_consensus::{
    AgentReport, ExtractError, InvalidReason, ListField, Quorum, Source, SpecError, StageSpec,
    Status, Strength, Subject, Verdict, synthesize,
};

const AGENTS: [&str; 3] = ["claude", "codex", "gemini"];

fn verdict(spec: &StageSpec, agents: &[&str], reports: &[AgentReport]) -> Verdict {
    match synthesize(spec, agents, reports) {
        Ok(v) => v,
        Err(e) => panic!("spec rejected: {e}"),
    }
}

fn audit(v: &str) -> Value {
    json!({"audit_verdict": v, "summary": "looked at it"})
}

#[test]
fn each_status_table() {
    let spec = StageSpec::new()
        .require("/audit_verdict")
        .decide("/audit_verdict");
    struct Case {
        name: &'static str,
        quorum: Quorum,
        reports: Vec<AgentReport>,
        status: Status,
        missing: &'static [&'static str],
        invalid: &'static [&'static str],
    }
    let cases = vec![
        Case {
            name: "3/3 agree",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("Pass")),
                AgentReport::ok("gemini", audit(" PASS ")),
            ],
            status: Status::Ok,
            missing: &[],
            invalid: &[],
        },
        Case {
            name: "2/3 agree, one dissents: majority agreement, still ok",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("pass")),
                AgentReport::ok("gemini", audit("fail")),
            ],
            status: Status::Ok,
            missing: &[],
            invalid: &[],
        },
        Case {
            name: "2/3 answered (one missing)",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("pass")),
            ],
            status: Status::Degraded,
            missing: &["gemini"],
            invalid: &[],
        },
        Case {
            name: "one failed",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("pass")),
                AgentReport::failed("gemini", "exit 1"),
            ],
            status: Status::Degraded,
            missing: &[],
            invalid: &["gemini"],
        },
        Case {
            name: "one lacks a required field",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", json!({"verdict": "pass"})),
                AgentReport::ok("gemini", audit("pass")),
            ],
            status: Status::Degraded,
            missing: &[],
            invalid: &["codex"],
        },
        Case {
            name: "all disagree",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("fail")),
                AgentReport::ok("gemini", audit("needs_changes")),
            ],
            status: Status::Conflict,
            missing: &[],
            invalid: &[],
        },
        Case {
            name: "two valid, split",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("fail")),
                AgentReport::rejected("gemini", ExtractError::NoJson),
            ],
            status: Status::Conflict,
            missing: &[],
            invalid: &["gemini"],
        },
        Case {
            name: "quorum all, one dissent",
            quorum: Quorum::All,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("pass")),
                AgentReport::ok("gemini", audit("fail")),
            ],
            status: Status::Conflict,
            missing: &[],
            invalid: &[],
        },
        Case {
            name: "quorum all, one missing",
            quorum: Quorum::All,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("pass")),
            ],
            status: Status::NoQuorum,
            missing: &["gemini"],
            invalid: &[],
        },
        Case {
            name: "only one valid of three",
            quorum: Quorum::Majority,
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::failed("codex", "timeout"),
            ],
            status: Status::NoQuorum,
            missing: &["gemini"],
            invalid: &["codex"],
        },
        Case {
            name: "at_least 1: a single answer suffices",
            quorum: Quorum::AtLeast(1),
            reports: vec![AgentReport::ok("gemini", audit("pass"))],
            status: Status::Degraded,
            missing: &["claude", "codex"],
            invalid: &[],
        },
        Case {
            name: "at_least 1, tie between two positions is a conflict",
            quorum: Quorum::AtLeast(1),
            reports: vec![
                AgentReport::ok("claude", audit("pass")),
                AgentReport::ok("codex", audit("fail")),
            ],
            status: Status::Conflict,
            missing: &["gemini"],
            invalid: &[],
        },
        Case {
            name: "no reports at all",
            quorum: Quorum::Majority,
            reports: vec![],
            status: Status::NoQuorum,
            missing: &["claude", "codex", "gemini"],
            invalid: &[],
        },
    ];
    for case in cases {
        let spec = spec.clone().with_quorum(case.quorum);
        let v = verdict(&spec, &AGENTS, &case.reports);
        assert_eq!(v.status, case.status, "{}: {v:#?}", case.name);
        assert_eq!(v.missing_agents, case.missing, "{}", case.name);
        let invalid: Vec<&str> = v.invalid_agents.iter().map(|i| i.agent.as_str()).collect();
        assert_eq!(invalid, case.invalid, "{}", case.name);
        assert_eq!(
            v.conflicts.is_empty(),
            v.status != Status::Conflict && v.status != Status::NoQuorum,
            "{}",
            case.name
        );
    }
}

#[test]
fn agreement_details() {
    let spec = StageSpec::new().decide("/audit_verdict").decide("/score");
    let reports = [
        AgentReport::ok("gemini", json!({"audit_verdict": "FAIL", "score": 1})),
        AgentReport::ok("codex", json!({"audit_verdict": "Pass", "score": 1.0})),
        AgentReport::ok("claude", json!({"audit_verdict": "pass ", "score": 1e0})),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(v.status, Status::Ok);
    let first = &v.agreements[0];
    assert_eq!(
        first.subject,
        Subject::Field {
            pointer: "/audit_verdict".into()
        }
    );
    // The representative value is the alphabetically first supporter's own text.
    assert_eq!(first.value, Some(json!("pass ")));
    assert_eq!(first.agents, ["claude", "codex"]);
    assert_eq!(first.strength, Strength::Majority);
    assert_eq!(first.dissent.len(), 1);
    assert_eq!(first.dissent[0].agents, ["gemini"]);
    assert_eq!(first.dissent[0].value, Some(json!("FAIL")));
    assert_eq!(v.agreements[1].strength, Strength::Unanimous);
    assert_eq!(v.agreements[1].agents, AGENTS);
}

#[test]
fn missing_decision_field_is_an_absent_position() {
    let spec = StageSpec::new().decide("/x");
    let reports = [
        AgentReport::ok("claude", json!({})),
        AgentReport::ok("codex", json!({"y": 1})),
        AgentReport::ok("gemini", json!({"x": null})),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(v.status, Status::Ok);
    assert_eq!(v.agreements[0].value, None);
    assert_eq!(v.agreements[0].dissent[0].value, Some(Value::Null));
}

#[test]
fn list_items_inclusion_and_compare() {
    let spec = StageSpec::new().list(ListField::new("/risks", "/risk").compare("/severity"));
    let reports = [
        AgentReport::ok(
            "claude",
            json!({"risks": [
                {"risk": "SQL injection", "severity": "High", "note": "a"},
                {"risk": "flaky tests", "severity": "low"},
                {"risk": "only claude", "severity": "low"},
            ]}),
        ),
        AgentReport::ok(
            "codex",
            json!({"risks": [
                {"risk": "sql injection ", "severity": "high", "note": "b"},
                {"risk": "Flaky Tests", "severity": "high"},
                {"risk": "Flaky Tests", "severity": "low"},
            ]}),
        ),
        AgentReport::ok(
            "gemini",
            json!({"risks": [
                {"risk": "sql injection", "severity": "high"},
                {"risk": "flaky tests", "severity": "medium"},
            ]}),
        ),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(v.status, Status::Conflict, "{}", v.to_markdown());

    let find = |key: &str| {
        v.agreements
            .iter()
            .find(|a| matches!(&a.subject, Subject::Item { key: k, .. } if k == key))
    };
    let sql = find("\"sql injection\"").unwrap_or_else(|| panic!("sql injection: {v:#?}"));
    assert_eq!(sql.strength, Strength::Unanimous);
    // Value from the alphabetically first supporter; `note` is not compared.
    assert_eq!(
        sql.value.as_ref().map(|v| v["note"].clone()),
        Some(json!("a"))
    );

    let only = find("\"only claude\"").unwrap_or_else(|| panic!("minority item: {v:#?}"));
    assert_eq!(only.value, None, "the quorum agreed not to include it");
    assert_eq!(only.agents, ["codex", "gemini"]);
    assert_eq!(only.strength, Strength::Majority);
    assert_eq!(only.dissent[0].agents, ["claude"]);

    // flaky tests: low (claude), high (codex: its first entry counts), medium (gemini).
    assert_eq!(v.conflicts.len(), 1);
    let flaky = &v.conflicts[0];
    assert_eq!(
        flaky.subject,
        Subject::Item {
            list: "/risks".into(),
            key: "\"flaky tests\"".into()
        }
    );
    let by: Vec<(&str, Value)> = flaky
        .positions
        .iter()
        .map(|p| {
            (
                p.agents[0].as_str(),
                p.value
                    .as_ref()
                    .map_or(Value::Null, |v| v["severity"].clone()),
            )
        })
        .collect();
    assert_eq!(
        by,
        [
            ("codex", json!("high")),
            ("claude", json!("low")),
            ("gemini", json!("medium")),
        ]
    );
    let md = v.to_markdown();
    assert!(md.contains("**Status: conflict**"), "{md}");
    assert!(md.contains("`/risks` item \"flaky tests\""), "{md}");
}

#[test]
fn list_with_two_agents_disagreeing_on_membership_is_a_conflict() {
    let spec = StageSpec::new().list(ListField::new("/steps", "/id"));
    let reports = [
        AgentReport::ok("a", json!({"steps": [{"id": 1}, {"id": 2}]})),
        AgentReport::ok("b", json!({"steps": [{"id": 1.0}]})),
    ];
    let v = verdict(&spec, &["a", "b"], &reports);
    assert_eq!(v.status, Status::Conflict);
    assert_eq!(v.agreements.len(), 1);
    assert_eq!(v.conflicts.len(), 1);
    // Equal support: "absent" sorts before any included value.
    assert_eq!(v.conflicts[0].positions[0].value, None);
    assert_eq!(v.conflicts[0].positions[0].agents, ["b"]);
    assert_eq!(v.conflicts[0].positions[1].agents, ["a"]);
}

#[test]
fn items_without_key_are_keyed_by_value_and_missing_lists_are_empty() {
    let spec = StageSpec::new().list(ListField::new("/tags", "/name"));
    let reports = [
        AgentReport::ok("claude", json!({"tags": ["API", "db"]})),
        AgentReport::ok("codex", json!({"tags": ["api "]})),
        AgentReport::ok("gemini", json!({})),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(v.status, Status::Ok, "{}", v.to_markdown());
    let subjects: Vec<&Subject> = v.agreements.iter().map(|a| &a.subject).collect();
    assert_eq!(
        subjects,
        [
            &Subject::Item {
                list: "/tags".into(),
                key: "\"api\"".into()
            },
            &Subject::Item {
                list: "/tags".into(),
                key: "\"db\"".into()
            },
        ]
    );
    assert_eq!(v.agreements[0].agents, ["claude", "codex"]);
    assert_eq!(v.agreements[1].value, None);
}

#[test]
fn list_field_that_is_not_an_array_invalidates_the_agent() {
    let spec = StageSpec::new().list(ListField::new("/risks", "/risk"));
    let reports = [
        AgentReport::ok("claude", json!({"risks": []})),
        AgentReport::ok("codex", json!({"risks": "none"})),
        AgentReport::ok("gemini", json!({"risks": []})),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(v.status, Status::Degraded);
    assert_eq!(
        v.invalid_agents[0].reason,
        InvalidReason::NotAnArray {
            pointer: "/risks".into()
        }
    );
    assert!(v.required_fields_ok);
}

#[test]
fn duplicate_and_unexpected_reports() {
    let spec = StageSpec::new().decide("/x");
    let reports = [
        AgentReport::ok("claude", json!({"x": 1})),
        AgentReport::ok("codex", json!({"x": 1})),
        AgentReport::ok("gemini", json!({"x": 1})),
        AgentReport::ok("gemini", json!({"x": 2})),
        AgentReport::ok("intruder", json!({"x": 9})),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(v.status, Status::Degraded);
    assert_eq!(
        v.invalid_agents[0].reason,
        InvalidReason::DuplicateReport { count: 2 }
    );
    assert_eq!(v.unexpected_agents, ["intruder"]);
    assert_eq!(v.valid_agents, ["claude", "codex"]);
}

#[test]
fn required_fields_ok_and_invalid_reasons() {
    let spec = StageSpec::new().require("/a").require("/b/c");
    let reports = [
        AgentReport::ok("claude", json!({"a": 1, "b": {"c": null}})),
        AgentReport::ok("codex", json!({"a": 1, "b": {}})),
        AgentReport::rejected("gemini", ExtractError::TooShort { len: 3, min: 10 }),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert!(!v.required_fields_ok);
    assert_eq!(v.status, Status::NoQuorum);
    assert_eq!(
        v.invalid_agents[0].reason,
        InvalidReason::MissingRequiredField {
            pointer: "/b/c".into()
        }
    );
    match &v.invalid_agents[1].reason {
        InvalidReason::Extraction { message } => assert!(message.contains("3 bytes"), "{message}"),
        other => panic!("{other:?}"),
    }
    let md = v.to_markdown();
    assert!(
        md.contains("invalid: codex (missing required field `/b/c`)"),
        "{md}"
    );
    assert!(md.contains("invalid: gemini (unusable output"), "{md}");
}

#[test]
fn aggregator_view_is_merged_but_does_not_decide() {
    let spec = StageSpec::new()
        .decide("/verdict")
        .with_aggregator("claude");
    let reports = [
        AgentReport::ok(
            "claude",
            json!({"verdict": "ok", "consensus": {
                "agreements": ["all agree the API is fine"],
                "conflicts": [{"topic": "naming", "detail": "codex prefers snake_case"}]
            }}),
        ),
        AgentReport::ok("codex", json!({"verdict": "OK"})),
        AgentReport::ok(
            "gemini",
            json!({"verdict": "ok", "consensus": {"agreements": ["ignored"]}}),
        ),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(
        v.status,
        Status::Ok,
        "aggregator conflicts do not change the status"
    );
    assert_eq!(v.agreements.len(), 2);
    let reported = &v.agreements[1];
    assert_eq!(reported.source, Source::Aggregator);
    assert_eq!(reported.strength, Strength::Reported);
    assert_eq!(reported.subject, Subject::Reported);
    assert_eq!(reported.agents, ["claude"]);
    assert_eq!(v.conflicts.len(), 1);
    assert_eq!(v.conflicts[0].source, Source::Aggregator);
    assert_eq!(v.computed_conflicts().count(), 0);
    assert!(v.to_markdown().contains("(reported by aggregator)"));

    // An invalid aggregator contributes nothing.
    let reports = [
        AgentReport::failed("claude", "boom"),
        AgentReport::ok("codex", json!({"verdict": "OK"})),
        AgentReport::ok("gemini", json!({"verdict": "ok"})),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    assert_eq!(v.status, Status::Degraded);
    assert!(v.agreements.iter().all(|a| a.source == Source::Computed));
}

#[test]
fn spec_errors_surface_from_synthesize() {
    let spec = StageSpec::new().with_quorum(Quorum::AtLeast(5));
    assert_eq!(
        synthesize(&spec, &AGENTS, &[]).err(),
        Some(SpecError::QuorumTooLarge {
            quorum: 5,
            agents: 3
        })
    );
    let spec = StageSpec::new().decide("verdict");
    assert!(matches!(
        synthesize(&spec, &AGENTS, &[]),
        Err(SpecError::InvalidPointer { .. })
    ));
}

#[test]
fn verdict_round_trips_through_json() {
    let spec = StageSpec::new()
        .decide("/x")
        .list(ListField::new("/l", "/k"))
        .with_aggregator("codex");
    let reports = [
        AgentReport::ok("claude", json!({"x": null, "l": [{"k": "A"}]})),
        AgentReport::ok(
            "codex",
            json!({"l": [{"k": "a"}], "consensus": {"conflicts": "x?"}}),
        ),
        AgentReport::failed("gemini", "rate limited"),
    ];
    let v = verdict(&spec, &AGENTS, &reports);
    let text = serde_json::to_string(&v).unwrap_or_default();
    let back: Verdict = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(back, v);
    assert_eq!(serde_json::to_string(&back).unwrap_or_default(), text);
}

#[test]
fn golden_json_form() {
    let spec = StageSpec::new()
        .require("/v")
        .decide("/v")
        .list(ListField::new("/l", "/k"))
        .with_quorum(Quorum::AtLeast(2));
    let reports = [
        AgentReport::ok("b", json!({"v": "Yes", "l": [{"k": "X"}]})),
        AgentReport::ok("a", json!({"v": "yes ", "l": [{"k": "x"}, {"k": "y"}]})),
        AgentReport::ok("c", json!({"l": []})),
    ];
    let v = verdict(&spec, &["c", "b", "a", "d"], &reports);
    let text = serde_json::to_string(&v).unwrap_or_default();
    let expected = concat!(
        r#"{"status":"conflict","quorum":2,"expected_agents":["a","b","c","d"],"#,
        r#""valid_agents":["a","b"],"agreements":[{"subject":{"kind":"field","pointer":"/v"},"#,
        r#""value":"yes ","agents":["a","b"],"strength":"unanimous","source":"computed"},"#,
        r#"{"subject":{"kind":"item","list":"/l","key":"\"x\""},"value":{"k":"x"},"#,
        r#""agents":["a","b"],"strength":"unanimous","source":"computed"}],"#,
        r#""conflicts":[{"subject":{"kind":"item","list":"/l","key":"\"y\""},"#,
        r#""positions":[{"agents":["b"]},{"value":{"k":"y"},"agents":["a"]}],"source":"computed"}],"#,
        r#""missing_agents":["d"],"#,
        r#""invalid_agents":[{"agent":"c","reason":{"kind":"missing_required_field","pointer":"/v"}}],"#,
        r#""required_fields_ok":false}"#
    );
    assert_eq!(text, expected);
}

#[test]
fn markdown_is_short() {
    let spec = StageSpec::new().list(ListField::new("/l", ""));
    let long = "x".repeat(200);
    let items: Vec<Value> = (0..40).map(|i| json!(format!("{long}{i}"))).collect();
    let reports = [
        AgentReport::ok("a", json!({ "l": &items })),
        AgentReport::ok("b", json!({ "l": items })),
    ];
    let v = verdict(&spec, &["a", "b"], &reports);
    assert_eq!(v.status, Status::Ok);
    let md = v.to_markdown();
    assert!(md.contains("### Agreements (40)"), "{md}");
    assert!(md.contains("- ... and 15 more"), "{md}");
    assert!(md.lines().all(|line| line.chars().count() < 300), "{md}");
    assert!(md.contains("...`"), "long values are cut: {md}");
    assert_eq!(Status::Ok.as_str(), "ok");
    assert!(Status::Degraded.is_success());
    assert!(!Status::NoQuorum.is_success());
    assert_eq!(Status::NoQuorum.to_string(), "no_quorum");
}
