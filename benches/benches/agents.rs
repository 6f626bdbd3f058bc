//! Head-to-head benchmarks for the agents layer: envelope parsing of large CLI outputs.
//!
//! - `agents/codex_jsonl_10mb/{synod,raw}`: `Preset::Codex.parse_success` over a 10 MB
//!   `codex exec --json` event stream (command executions with their output, reasoning,
//!   agent messages, completed turns) vs. a plain serde_json loop that parses every line into
//!   a `Value` and keeps the last agent message (throughput in bytes/s).
//! - `agents/claude_stream_10mb/{synod,raw}`: `Preset::Claude.parse_success` over a 10 MB
//!   `claude -p --output-format stream-json --verbose` transcript (assistant tool calls,
//!   user tool results, the result envelope last) vs. the same plain loop keeping the last
//!   `result` event.
//!
//! Both streams are built from the shapes of the recorded transcripts in
//! `crates/synod-agents/tests/transcripts/`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use synod::agents::Preset;

const TARGET_BYTES: usize = 10 * 1024 * 1024;

fn tool_output(i: usize) -> String {
    (0..40)
        .map(|n| {
            format!("src/module_{i}/file_{n}.rs:{n}: fn handler_{n}() -> Result<(), Error> {{")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn codex_stream() -> String {
    let mut out = String::with_capacity(TARGET_BYTES + 64 * 1024);
    out.push_str(r#"{"type":"thread.started","thread_id":"01a21fd6-f52f-7bb2-a4a1-f499e2054096"}"#);
    out.push('\n');
    out.push_str(r#"{"type":"turn.started"}"#);
    out.push('\n');
    let mut i = 0;
    while out.len() < TARGET_BYTES {
        let events = [
            json!({"type": "item.completed", "item": {"id": format!("item_{i}"), "type": "reasoning",
                "text": format!("**Inspecting module {i}**\n\nI need to look at the handlers before answering.")}}),
            json!({"type": "item.started", "item": {"id": format!("item_{i}c"), "type": "command_execution",
                "command": format!("bash -lc 'rg -n handler src/module_{i}'"), "aggregated_output": "",
                "exit_code": null, "status": "in_progress"}}),
            json!({"type": "item.completed", "item": {"id": format!("item_{i}c"), "type": "command_execution",
                "command": format!("bash -lc 'rg -n handler src/module_{i}'"), "aggregated_output": tool_output(i),
                "exit_code": 0, "status": "completed"}}),
            json!({"type": "item.completed", "item": {"id": format!("item_{i}m"), "type": "agent_message",
                "text": format!("Module {i} looks fine; continuing.")}}),
        ];
        for e in events {
            out.push_str(&e.to_string());
            out.push('\n');
        }
        i += 1;
    }
    out.push_str(r#"{"type":"item.completed","item":{"id":"item_last","type":"agent_message","text":"{\"verdict\": \"approve\", \"score\": 7}"}}"#);
    out.push('\n');
    out.push_str(r#"{"type":"turn.completed","usage":{"input_tokens":1200000,"cached_input_tokens":900000,"output_tokens":45000,"reasoning_output_tokens":12000}}"#);
    out.push('\n');
    out
}

fn claude_stream() -> String {
    let session = "642b2cf5-f187-4a85-b8d9-d4c5321b01bf";
    let mut out = String::with_capacity(TARGET_BYTES + 64 * 1024);
    out.push_str(
        &json!({"type": "system", "subtype": "init", "cwd": "/work", "session_id": session,
            "tools": ["Bash", "Edit", "Read", "Write"], "model": "claude-opus-5-5",
            "permissionMode": "default"})
        .to_string(),
    );
    out.push('\n');
    let mut i = 0;
    while out.len() < TARGET_BYTES {
        let events = [
            json!({"type": "assistant", "message": {"id": format!("msg_{i}"), "type": "message", "role": "assistant",
                "model": "claude-opus-5-5", "content": [
                    {"type": "text", "text": format!("Let me read module {i}.")},
                    {"type": "tool_use", "id": format!("toolu_{i}"), "name": "Bash",
                     "input": {"command": format!("rg -n handler src/module_{i}")}}],
                "stop_reason": null, "usage": {"input_tokens": 1200, "output_tokens": 40,
                "cache_read_input_tokens": 30000, "cache_creation_input_tokens": 0}},
                "parent_tool_use_id": null, "session_id": session, "uuid": format!("uuid-{i}")}),
            json!({"type": "user", "message": {"role": "user", "content": [
                    {"tool_use_id": format!("toolu_{i}"), "type": "tool_result", "content": tool_output(i), "is_error": false}]},
                "parent_tool_use_id": null, "session_id": session, "uuid": format!("uuid-{i}r")}),
        ];
        for e in events {
            out.push_str(&e.to_string());
            out.push('\n');
        }
        i += 1;
    }
    out.push_str(
        &json!({"type": "result", "subtype": "success", "is_error": false, "duration_ms": 187000,
            "num_turns": i, "result": "{\"verdict\": \"approve\", \"score\": 7}", "session_id": session,
            "total_cost_usd": 4.21, "usage": {"input_tokens": 120000, "cache_read_input_tokens": 3000000,
            "cache_creation_input_tokens": 20000, "output_tokens": 9000},
            "modelUsage": {"claude-opus-5-5": {"inputTokens": 120000, "outputTokens": 9000, "costUSD": 4.21}},
            "api_error_status": null})
        .to_string(),
    );
    out.push('\n');
    out
}

/// The plain loop: every line parsed into a `Value`, the last event of a kind kept.
fn raw_last(stream: &str, keep: impl Fn(&Value) -> Option<String>) -> Option<String> {
    let mut last = None;
    for line in stream.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line)
            && let Some(text) = keep(&v)
        {
            last = Some(text);
        }
    }
    last
}

fn codex(c: &mut Criterion) {
    let stream = codex_stream();
    let reply = Preset::Codex.parse_success(&stream, "").expect("an answer");
    assert_eq!(reply.answer, r#"{"verdict": "approve", "score": 7}"#);
    let keep = |v: &Value| {
        (v["type"] == "item.completed" && v["item"]["type"] == "agent_message")
            .then(|| v["item"]["text"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(
        raw_last(&stream, keep).as_deref(),
        Some(reply.answer.as_str())
    );

    let mut group = c.benchmark_group("agents/codex_jsonl_10mb");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(20);
    group.bench_function("synod", |b| {
        b.iter(|| black_box(Preset::Codex.parse_success(black_box(&stream), "")));
    });
    group.bench_function("raw", |b| {
        b.iter(|| black_box(raw_last(black_box(&stream), keep)));
    });
    group.finish();
}

fn claude(c: &mut Criterion) {
    let stream = claude_stream();
    let reply = Preset::Claude
        .parse_success(&stream, "")
        .expect("an answer");
    assert_eq!(reply.answer, r#"{"verdict": "approve", "score": 7}"#);
    assert_eq!(reply.model.as_deref(), Some("claude-opus-5-5"));
    let keep =
        |v: &Value| (v["type"] == "result").then(|| v["result"].as_str().unwrap_or("").to_owned());
    assert_eq!(
        raw_last(&stream, keep).as_deref(),
        Some(reply.answer.as_str())
    );

    let mut group = c.benchmark_group("agents/claude_stream_10mb");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(20);
    group.bench_function("synod", |b| {
        b.iter(|| black_box(Preset::Claude.parse_success(black_box(&stream), "")));
    });
    group.bench_function("raw", |b| {
        b.iter(|| black_box(raw_last(black_box(&stream), keep)));
    });
    group.finish();
}

criterion_group!(benches, codex, claude);
criterion_main!(benches);
