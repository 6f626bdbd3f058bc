//! synod-consensus alone (no I/O): extract JSON from three agents' prose and decide.
//!
//! `cargo run -p synod-examples --example consensus_only`
use synod::consensus::{
    AgentReport, ExtractOptions, ListField, Quorum, StageSpec, Status, synthesize,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let outputs = [
        (
            "claude",
            "Looks fine.\n```json\n{\"verdict\": \"pass\", \"risks\": [{\"risk\": \"flaky test\"}]}\n```",
        ),
        (
            "gemini",
            "My answer: {\"verdict\": \"PASS\", \"risks\": [{\"risk\": \"Flaky test\"}]}",
        ),
        ("codex", "I could not finish: no JSON here."),
    ];
    let spec = StageSpec::new()
        .require("/verdict")
        .decide("/verdict")
        .list(ListField::new("/risks", "/risk"))
        .with_quorum(Quorum::Majority);
    let reports: Vec<AgentReport> = outputs
        .iter()
        .map(|(agent, raw)| AgentReport::from_output(*agent, raw, &ExtractOptions::default()))
        .collect();
    let agents: Vec<&str> = outputs.iter().map(|(a, _)| *a).collect();
    let verdict = synthesize(&spec, &agents, &reports)?;
    println!("{}", verdict.to_markdown());
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    // Two agents agree (values are normalized); codex gave no JSON: degraded, not failed.
    assert_eq!(verdict.status, Status::Degraded);
    Ok(())
}
