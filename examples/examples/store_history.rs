//! synod-store alone: record stages with every attempt in one transaction each, then read the
//! history back, check integrity and take a backup.
//!
//! `cargo run -p synod-examples --example store_history`
use serde_json::json;
use synod::store::{NewOutput, NewRun, Options, Page, Store, now_millis};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("synod.db"), Options::default())?;
    let start = now_millis();
    for (i, stage) in ["plan", "tasks", "implement"].iter().enumerate() {
        let started_at = start + i as i64 * 1000;
        let run = NewRun {
            spec_id: "SPEC-42".into(),
            stage: (*stage).into(),
            started_at,
            finished_at: started_at + 900,
            status: "ok".into(),
        };
        let attempt = |agent: &str, attempt: u32, ok: bool| NewOutput {
            agent: agent.into(),
            attempt,
            exit_code: Some(if ok { 0 } else { 1 }),
            duration_ms: 300,
            status: if ok { "ok" } else { "failed" }.into(),
            raw_output: format!("{agent} says {stage}"),
            parsed_json: ok.then(|| json!({ "stage": stage })),
            error: (!ok).then(|| "503 overloaded".to_owned()),
            ..NewOutput::default()
        };
        let outputs = [
            attempt("claude", 1, true),
            attempt("codex", 1, false),
            attempt("codex", 2, true),
        ];
        let id = store.record_stage(&run, &outputs, &json!({ "status": "ok", "stage": stage }))?;
        println!("recorded {stage} as run {id}");
    }
    for run in store.history("SPEC-42", Page::first(10))? {
        let outputs = store.outputs_for_run(run.id)?;
        println!(
            "run {} {:<10} {} ({} attempts)",
            run.id,
            run.stage,
            run.status,
            outputs.len()
        );
    }
    let spec = store.spec("SPEC-42")?.ok_or("spec missing")?;
    println!("SPEC-42 is at stage {}", spec.stage);
    assert_eq!(spec.stage, "implement");
    for stats in store.agent_stats()? {
        println!(
            "{}: {} attempts, {:.0}% ok",
            stats.agent,
            stats.attempts,
            stats.success_rate * 100.0
        );
    }
    store.integrity_check()?;
    let backup = dir.path().join("backup.db");
    store.backup_to(&backup)?;
    let copy = Store::open(&backup, Options::default())?;
    assert_eq!(copy.history("SPEC-42", Page::first(10))?.len(), 3);
    println!("backup at {} holds the same history", backup.display());
    Ok(())
}
