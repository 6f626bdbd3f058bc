//! Criterion benchmarks of the consensus core: `synthesize` over agents × list items, and
//! extraction from 1 MB of mixed CLI output. Short settings (1 s warm-up, 2 s measurement,
//! 20 samples) keep the whole run around two minutes on 2 cores.
//!
//! `cargo bench -p synod-consensus --bench consensus_core`
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use synod_consensus::{
    AgentReport, ExtractOptions, ListField, StageSpec, extract_json, extract_json_with, synthesize,
};

const AGENTS: [usize; 4] = [2, 3, 5, 10];
const ITEMS: [usize; 4] = [10, 100, 1_000, 10_000];

/// A plan-stage answer with `items` risks. Agents mostly agree: agent `j` leaves out item `i`
/// when `(i + j) % 7 == 0` and rates its severity differently when `(31 i + j) % 11 == 0`.
fn answer(agent: usize, items: usize) -> Value {
    let severities = ["low", "medium", "high"];
    let risks: Vec<Value> = (0..items)
        .filter(|i| !(i + agent).is_multiple_of(7))
        .map(|i| {
            let mut severity = severities[i % 3];
            if (31 * i + agent).is_multiple_of(11) {
                severity = severities[(i + 1) % 3];
            }
            json!({
                "risk": format!("Risk number {i} in module {}", i % 17),
                "severity": severity,
                "mitigation": format!("mitigation text written by agent {agent} for item {i}"),
            })
        })
        .collect();
    json!({
        "audit_verdict": if agent % 4 == 3 { "fail" } else { "pass" },
        "summary": format!("summary by agent {agent}"),
        "risks": risks,
    })
}

fn bench_synthesize(c: &mut Criterion) {
    let spec = StageSpec::new()
        .require("/audit_verdict")
        .require("/risks")
        .decide("/audit_verdict")
        .list(ListField::new("/risks", "/risk").compare("/severity"));
    let mut group = c.benchmark_group("consensus/synthesize");
    for &agents in &AGENTS {
        for &items in &ITEMS {
            let names: Vec<String> = (0..agents).map(|j| format!("agent-{j:02}")).collect();
            let reports: Vec<AgentReport> = names
                .iter()
                .enumerate()
                .map(|(j, name)| AgentReport::ok(name.clone(), answer(j, items)))
                .collect();
            group.throughput(Throughput::Elements((agents * items) as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("agents_{agents}"), items),
                &(names, reports),
                |b, (names, reports)| {
                    b.iter(|| synthesize(black_box(&spec), black_box(names), black_box(reports)));
                },
            );
        }
    }
    group.finish();
}

/// About 1 MB of codex-style log: timestamps, prose with stray brackets and quotes, small JSON
/// fragments (tool calls), then the answer.
fn mixed_output(fenced: bool) -> (String, String) {
    let mut raw = String::with_capacity(1_100_000);
    raw.push_str("[2026-11-27T05:10:00] OpenAI Codex v0.63.0 (research preview)\n--------\nworkdir: /repo\nmodel: gpt-5-codex\n--------\n");
    let mut n = 0;
    while raw.len() < 1_000_000 {
        raw.push_str(&format!(
            "[2026-11-27T05:10:{:02}] exec bash -lc 'rg -n \"fn main\" src' {{\"call_id\": {n}, \"ok\": true}}\n",
            n % 60
        ));
        raw.push_str(
            "I'll check the [config] loader next; it \"should\" handle {nested} values.\n",
        );
        n += 1;
    }
    let answer = serde_json::to_string_pretty(&answer(0, 100)).unwrap_or_default();
    if fenced {
        raw.push_str("```json\n");
        raw.push_str(&answer);
        raw.push_str("\n```\n");
    } else {
        raw.push_str(&answer);
        raw.push('\n');
    }
    raw.push_str("[2026-11-27T05:11:00] tokens used: 48,112\n");
    (raw, answer)
}

fn bench_extract(c: &mut Criterion) {
    let mut group = c.benchmark_group("consensus/extract_1mb");
    let options = ExtractOptions::cli_defaults();
    for fenced in [true, false] {
        let (raw, _) = mixed_output(fenced);
        group.throughput(Throughput::Bytes(raw.len() as u64));
        let name = if fenced { "fenced" } else { "unfenced" };
        group.bench_function(format!("{name}/synod"), |b| {
            b.iter(|| extract_json(black_box(&raw)));
        });
        group.bench_function(format!("{name}/synod_cli_defaults"), |b| {
            b.iter(|| extract_json_with(black_box(&raw), black_box(&options)));
        });
    }
    // Reference: serde_json parsing 1 MB of pure JSON (what any extractor must at least pay
    // to parse an answer of that size).
    let pure = serde_json::to_string(&answer(0, 6_000)).unwrap_or_default();
    group.throughput(Throughput::Bytes(pure.len() as u64));
    group.bench_function("pure_json/raw_serde_json", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&pure)));
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_synthesize, bench_extract
}
criterion_main!(benches);
