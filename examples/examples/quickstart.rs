//! Quickstart: three agents answer one stage through the facade, and the verdict is stored.
//!
//! `cargo run -p synod-examples --example quickstart`
use synod::orchestrator::{Orchestrator, SynodConfig};
use synod::store::Store;

const CONFIG: &str = r#"
[[agents]]
name = "alpha"
command = "sh"
args = ["-c", "cat >/dev/null; echo 'Plan: {\"risk\": \"low\", \"steps\": [\"test\", \"code\"]}'"]

[[agents]]
name = "beta"
command = "sh"
args = ["-c", "echo '```json'; echo '{\"risk\": \"low\", \"steps\": [\"test\", \"code\"]}'; echo '```'"]

[[agents]]
name = "gamma"
command = "sh"
args = ["-c", "echo 'I disagree: {\"risk\": \"high\", \"steps\": [\"code\"]}'"]

[[stages]]
name = "plan"
prompt = "Plan spec {spec_id}; answer with JSON."
consensus = { decision_fields = ["/risk"], quorum = "majority" }
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config: SynodConfig = toml::from_str(CONFIG)?;
    let orchestrator = Orchestrator::new(config, Store::open_in_memory()?.into_async())?;
    let report = orchestrator.run_stage("QS-1", "plan").await?;
    println!("{}", report.verdict.to_markdown());
    println!(
        "status {} (exit code {}), run {:?}",
        report.status,
        report.exit_code(),
        report.run_id
    );
    assert_eq!(report.status.exit_code(), 0);
    Ok(())
}
