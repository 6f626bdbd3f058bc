//! Property tests: determinism of `synthesize` and robustness of `extract_json`.

use proptest::prelude::*;
use serde_json::{Value, json};
use synod_consensus::{
    AgentReport, ExtractError, ExtractOptions, ListField, Quorum, StageSpec, extract_json,
    extract_json_with, synthesize,
};

const POOL: [&str; 5] = ["claude", "codex", "gemini", "grok", "qwen"];

fn word() -> impl Strategy<Value = String> {
    // Few distinct words with random case and padding, so normalization matters.
    (
        prop::sample::select(vec!["pass", "fail", "needs_changes"]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(w, upper, pad)| {
            let w = if upper {
                w.to_uppercase()
            } else {
                w.to_owned()
            };
            if pad { format!(" {w} ") } else { w }
        })
}

fn risk() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "SQL injection",
            "flaky tests",
            "slow build",
            "data loss",
        ]),
        prop::sample::select(vec!["low", "HIGH", "medium"]),
        0u8..3,
    )
        .prop_map(|(risk, severity, n)| json!({"risk": risk, "severity": severity, "n": n}))
}

fn agent_value() -> impl Strategy<Value = Value> {
    (
        word(),
        prop_oneof![Just(json!(1)), Just(json!(1.0)), Just(json!(2))],
        prop::collection::vec(risk(), 0..5),
        any::<bool>(),
    )
        .prop_map(|(verdict, score, risks, with_consensus)| {
            let mut v = json!({"audit_verdict": verdict, "score": score, "risks": risks});
            if with_consensus {
                v["consensus"] = json!({"agreements": ["x"], "conflicts": [{"about": "y"}]});
            }
            v
        })
}

fn report(agent: &'static str) -> impl Strategy<Value = Vec<AgentReport>> {
    prop_oneof![
        6 => agent_value().prop_map(move |v| vec![AgentReport::ok(agent, v)]),
        1 => Just(vec![AgentReport::failed(agent, "timed out")]),
        1 => Just(vec![AgentReport::rejected(agent, ExtractError::NoJson)]),
        1 => Just(vec![]),
        1 => (agent_value(), agent_value())
            .prop_map(move |(a, b)| vec![AgentReport::ok(agent, a), AgentReport::ok(agent, b)]),
        1 => Just(vec![AgentReport::ok(agent, json!({"score": 1}))]),
    ]
}

fn scenario() -> impl Strategy<Value = (Vec<&'static str>, Vec<AgentReport>, Vec<AgentReport>)> {
    (2usize..=5)
        .prop_flat_map(|n| {
            let agents: Vec<&'static str> = POOL[..n].to_vec();
            let reports: Vec<_> = agents.iter().map(|a| report(a)).collect();
            (Just(agents), reports, prop::option::of(agent_value()))
        })
        .prop_flat_map(|(agents, per_agent, stranger)| {
            let mut all: Vec<AgentReport> = per_agent.into_iter().flatten().collect();
            if let Some(v) = stranger {
                all.push(AgentReport::ok("stranger", v));
            }
            let shuffled = Just(all.clone()).prop_shuffle();
            (Just(agents), Just(all), shuffled)
        })
}

fn spec(quorum: Quorum) -> StageSpec {
    StageSpec::new()
        .require("/audit_verdict")
        .decide("/audit_verdict")
        .decide("/score")
        .list(ListField::new("/risks", "/risk").compare("/severity"))
        .list(ListField::new("/risks", "/n"))
        .with_quorum(quorum)
        .with_aggregator("codex")
}

proptest! {
    #[test]
    fn permuting_reports_changes_nothing(
        (agents, reports, shuffled) in scenario(),
        quorum in prop_oneof![Just(Quorum::All), Just(Quorum::Majority), Just(Quorum::AtLeast(1)), Just(Quorum::AtLeast(2))],
    ) {
        let mut shuffled_agents = agents.clone();
        shuffled_agents.reverse();
        let spec = spec(quorum);
        let a = synthesize(&spec, &agents, &reports);
        let b = synthesize(&spec, &shuffled_agents, &shuffled);
        prop_assert_eq!(&a, &b);
        if let (Ok(a), Ok(b)) = (a, b) {
            let ja = serde_json::to_string(&a).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let jb = serde_json::to_string(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&ja, &jb);
            prop_assert_eq!(a.to_markdown(), b.to_markdown());
            // Same input twice: same bytes.
            let again = synthesize(&spec, &agents, &reports).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(serde_json::to_string(&again).map_err(|e| TestCaseError::fail(e.to_string()))?, ja);
            // Every expected agent is accounted for exactly once.
            let accounted = a.valid_agents.len() + a.missing_agents.len() + a.invalid_agents.len();
            prop_assert_eq!(accounted, agents.len());
        }
    }

    #[test]
    fn extract_never_panics_on_arbitrary_text(raw in any::<String>()) {
        let _ = extract_json(&raw);
        let _ = extract_json_with(&raw, &ExtractOptions::cli_defaults().with_min_len(5));
    }

    #[test]
    fn extract_never_panics_on_json_like_text(
        raw in "[{}\\[\\]\"\\\\a-z0-9:,. \n`\u{1b}é]{0,300}",
        fence in any::<bool>(),
    ) {
        let raw = if fence { format!("```json\n{raw}") } else { raw };
        let _ = extract_json(&raw);
        let _ = extract_json_with(&raw, &ExtractOptions::cli_defaults());
    }

    #[test]
    fn embedded_object_is_found(
        keys in prop::collection::btree_map("[a-z_]{1,8}", "[ -~]{0,20}", 1..6),
        prefix in "[ -~\n]{0,80}",
        suffix in "[a-z ,.:0-9\n]{0,40}",
        fenced in any::<bool>(),
    ) {
        let value = json!(keys);
        let body = serde_json::to_string_pretty(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // The prefix may contain anything printable; separate it by a line so a stray fence
        // or bracket in it cannot swallow the answer.
        let prefix = prefix.replace('`', "'").replace(['{', '['], "(");
        let raw = if fenced {
            format!("{prefix}\n```json\n{body}\n```\n{suffix}")
        } else {
            format!("{prefix}\n{body}\n{suffix}")
        };
        let options = ExtractOptions::default().with_reject_templates(false);
        prop_assert_eq!(extract_json_with(&raw, &options), Ok(value));
    }
}
