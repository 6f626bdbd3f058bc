//! Shared helpers for the store's integration tests.
#![allow(dead_code, unreachable_pub)]

use serde_json::{Value, json};
use synod_store::{NewOutput, NewRun};

pub fn run(spec: &str, stage: &str, started_at: i64) -> NewRun {
    NewRun {
        spec_id: spec.to_owned(),
        stage: stage.to_owned(),
        started_at,
        finished_at: started_at + 100,
        status: "ok".to_owned(),
    }
}

pub fn output(agent: &str, attempt: u32, ok: bool, duration_ms: u64) -> NewOutput {
    NewOutput {
        agent: agent.to_owned(),
        attempt,
        exit_code: Some(if ok { 0 } else { 1 }),
        duration_ms,
        status: if ok { "ok" } else { "failed" }.to_owned(),
        raw_output: format!("{agent} said something on attempt {attempt}"),
        parsed_json: ok.then(|| json!({"agent": agent, "attempt": attempt})),
        error: (!ok).then(|| "exit status 1".to_owned()),
        ..NewOutput::default()
    }
}

pub fn verdict(n: i64) -> Value {
    json!({"status": "ok", "n": n, "agreements": [{"field": "/decision", "value": n}]})
}

/// Writes, behind the store's back, one row that breaks its table's CHECK constraint: the
/// integrity and quick checks report exactly that one problem.
pub fn break_a_check_constraint(path: impl AsRef<std::path::Path>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE notes (n INTEGER CHECK (n > 0));
         PRAGMA ignore_check_constraints = ON;
         INSERT INTO notes VALUES (-1);",
    )
    .unwrap();
}
