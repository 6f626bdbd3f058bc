//! What the agent CLIs report about each attempt (session id, model, tokens, cost) reaches
//! the stage report and the store: recorded transcripts of the real claude, gemini and codex
//! replayed by stand-in programs with the CLI's name, through the Orchestrator and a store
//! file.
#![cfg(all(feature = "orchestrator", unix))]

mod replay;

use replay::replay;

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use synod::core::Usage;
use synod::orchestrator::{
    AgentHooks, AgentOutcome, AttemptMeta, AttemptStatus, AttemptUsage, GenericCli, Orchestrator,
    Parsed, Plan, StageEvent, SynodConfig,
};
use synod::store::{Options, Store};

/// A config with one agent per `(name, program)` and a stage `s`.
fn config(agents: &[(&str, &Path)]) -> SynodConfig {
    let mut text = String::new();
    for (name, program) in agents {
        text.push_str(&format!(
            "[[agents]]\nname = \"{name}\"\ncommand = \"{}\"\nretry = {{ max_attempts = 1 }}\n\n",
            program.display()
        ));
    }
    text.push_str("[[stages]]\nname = \"s\"\nprompt = \"go\"\n");
    toml::from_str(&text).unwrap()
}

#[tokio::test]
async fn each_clis_session_model_tokens_and_cost_reach_the_report_and_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let claude = replay(&dir.path().join("a"), "claude", "claude-json.ok");
    let gemini = replay(&dir.path().join("b"), "gemini", "gemini-json.ok");
    let codex = replay(&dir.path().join("c"), "codex", "codex-json.ok");
    let db = dir.path().join("synod.db");
    let store = Store::open(&db, Options::default()).unwrap();
    let plan = Plan::new(
        config(&[("claude", &claude), ("gemini", &gemini), ("codex", &codex)]),
        dir.path(),
    )
    .unwrap();
    let orch = Orchestrator::with_plan(plan, store.clone().into_async());
    let mut events = orch.subscribe();
    let report = orch.run_stage("U-1", "s").await.unwrap();
    let mut finished = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let StageEvent::AttemptFinished { agent, usage, .. } = event {
            finished.push((agent, usage));
        }
    }
    finished.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        finished,
        [
            (
                "claude".to_owned(),
                AttemptUsage::new(Some(Usage::new(150, 9, 30)), Some(0.000666))
            ),
            (
                "codex".to_owned(),
                AttemptUsage::new(Some(Usage::new(120, 9, 30)), None)
            ),
            (
                "gemini".to_owned(),
                AttemptUsage::new(Some(Usage::new(240, 18, 60)), None)
            ),
        ],
        "AttemptFinished carries each attempt's usage"
    );

    let expected = [
        // Anthropic counts cached tokens apart from input_tokens; they are added back.
        (
            "claude",
            Some("claude-opus-5-5"),
            Usage::new(150, 9, 30),
            Some(0.000666),
        ),
        // The router call and the main call.
        (
            "gemini",
            Some("gemini-3.1-pro-preview"),
            Usage::new(240, 18, 60),
            None,
        ),
        ("codex", None, Usage::new(120, 9, 30), None),
    ];
    let stored = store.outputs_for_run(report.run_id.unwrap()).unwrap();
    for (agent, model, tokens, cost) in expected {
        let run = report.agent(agent).unwrap();
        assert_eq!(run.outcome, AgentOutcome::Answered, "{agent}: {run:?}");
        let attempt = &run.attempts[0];
        assert_eq!(attempt.model.as_deref(), model, "{agent}");
        assert_eq!(
            attempt.session_id.as_ref().map(String::len),
            Some(36),
            "{agent}"
        );
        assert_eq!(
            attempt.usage,
            AttemptUsage::new(Some(tokens), cost),
            "{agent}"
        );
        let output = stored.iter().find(|o| o.agent == agent).unwrap();
        assert_eq!(output.usage, Some(tokens), "{agent}");
        assert_eq!(output.cost_usd, cost, "{agent}");
        assert_eq!(output.model.as_deref(), model, "{agent}");
        assert_eq!(output.session_id, attempt.session_id, "{agent}");
    }
    // The --json report carries them per attempt.
    let json = serde_json::to_value(&report).unwrap();
    let claude_attempt = &json["agents"][0]["attempts"][0];
    assert_eq!(
        claude_attempt["usage"],
        json!({"input_tokens": 150, "output_tokens": 9, "cached_tokens": 30, "cost_usd": 0.000666})
    );
    assert_eq!(claude_attempt["model"], "claude-opus-5-5");
    assert!(claude_attempt["session_id"].is_string());
    assert_eq!(
        json["agents"][2]["attempts"][0]["usage"]["cost_usd"],
        json!(null)
    );
}

#[tokio::test]
async fn a_failed_claude_attempt_keeps_the_session_and_cost_its_error_envelope_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Exit 1 with an `is_error` envelope (a 401), and exit 0 with one (a 529 overload).
    let e401 = replay(&dir.path().join("a"), "claude", "claude-json.e401");
    let e529 = replay(&dir.path().join("b"), "claude", "claude-json.e529");
    let store = Store::open(dir.path().join("synod.db"), Options::default()).unwrap();
    let plan = Plan::new(config(&[("e401", &e401), ("e529", &e529)]), dir.path()).unwrap();
    let orch = Orchestrator::with_plan(plan, store.clone().into_async());
    let report = orch.run_stage("U-2", "s").await.unwrap();
    let stored = store.outputs_for_run(report.run_id.unwrap()).unwrap();
    for agent in ["e401", "e529"] {
        let attempt = &report.agent(agent).unwrap().attempts[0];
        assert_eq!(
            attempt.status,
            AttemptStatus::Failed,
            "{agent}: {attempt:?}"
        );
        assert_eq!(
            attempt.usage,
            AttemptUsage::new(Some(Usage::new(0, 0, 0)), Some(0.0)),
            "{agent}"
        );
        assert!(attempt.session_id.is_some(), "{agent}");
        let output = stored.iter().find(|o| o.agent == agent).unwrap();
        assert_eq!(output.cost_usd, Some(0.0), "{agent}");
        assert_eq!(output.session_id, attempt.session_id, "{agent}");
    }
}

/// Custom hooks: a CLI printing `{"answer": ..., "tokens": [in, out]}`.
#[derive(Debug)]
struct Counted;

impl AgentHooks for Counted {
    fn parse_with_meta(&self, stdout: &str, stderr: &str) -> (Parsed, AttemptMeta) {
        let value: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        let tokens = |i: usize| value["tokens"][i].as_u64().unwrap_or(0);
        let meta = AttemptMeta::default()
            .with_model("counted-1")
            .with_usage(Usage::new(tokens(0), tokens(1), 0));
        (GenericCli.parse(&value["answer"].to_string(), stderr), meta)
    }
}

#[tokio::test]
async fn custom_hooks_report_their_own_meta_and_plain_agents_report_none() {
    let dir = tempfile::tempdir().unwrap();
    let toml_text = r#"
[[agents]]
name = "counted"
command = "sh"
args = ["-c", "cat >/dev/null; echo '{\"answer\": {\"ok\": true}, \"tokens\": [12, 3]}'"]

[[agents]]
name = "plain"
command = "sh"
args = ["-c", "cat >/dev/null; echo '{\"ok\": true}'"]

[[stages]]
name = "s"
"#;
    let store = Store::open_in_memory().unwrap();
    let plan = Plan::new(toml::from_str(toml_text).unwrap(), dir.path()).unwrap();
    let orch = Orchestrator::with_plan(plan, store.clone().into_async())
        .hooks("counted", Arc::new(Counted));
    let report = orch.run_stage("U-3", "s").await.unwrap();
    let counted = &report.agent("counted").unwrap().attempts[0];
    assert_eq!(counted.model.as_deref(), Some("counted-1"));
    assert_eq!(
        counted.usage.map(|u| u.tokens()),
        Some(Usage::new(12, 3, 0))
    );
    let plain = &report.agent("plain").unwrap().attempts[0];
    assert_eq!(
        (
            plain.usage,
            plain.model.as_deref(),
            plain.session_id.as_deref()
        ),
        (None, None, None)
    );
    let stored = store.outputs_for_run(report.run_id.unwrap()).unwrap();
    let counted = stored.iter().find(|o| o.agent == "counted").unwrap();
    assert_eq!(counted.usage, Some(Usage::new(12, 3, 0)));
    assert_eq!(counted.cost_usd, None);
}
