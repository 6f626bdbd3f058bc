//! Criterion benchmarks of the consensus core: `synthesize` over agents × list items, and
//! extraction from 1 MB of mixed CLI output. Short settings (1 s warm-up, 2 s measurement,
//! 20 samples) keep the whole run around two minutes on 2 cores.
//!
//! The matrix is measured in **on-CPU time** of the benchmark thread (nanoseconds from
//! `/proc/thread-self/schedstat`, falling back to wall time where that file does not exist),
//! because the 2-core machines these run on are shared and wall time there mostly measures
//! the neighbours. The `*_wall` groups repeat the headline cases in plain wall time.
//!
//! `cargo bench -p synod-consensus --bench consensus_core`
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
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

/// On-CPU time of the calling thread (see the crate-level comment).
struct OnCpuTime;

static WALL: WallTime = WallTime;

fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

impl Measurement for OnCpuTime {
    type Intermediate = (Option<u64>, Instant);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        (thread_cpu_ns(), Instant::now())
    }

    fn end(&self, (cpu, wall): Self::Intermediate) -> Self::Value {
        match (cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
            _ => wall.elapsed(),
        }
    }

    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }

    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn spec() -> StageSpec {
    StageSpec::new()
        .require("/audit_verdict")
        .require("/risks")
        .decide("/audit_verdict")
        .list(ListField::new("/risks", "/risk").compare("/severity"))
}

fn inputs(agents: usize, items: usize) -> (Vec<String>, Vec<AgentReport>) {
    let names: Vec<String> = (0..agents).map(|j| format!("agent-{j:02}")).collect();
    let reports = names
        .iter()
        .enumerate()
        .map(|(j, name)| AgentReport::ok(name.clone(), answer(j, items)))
        .collect();
    (names, reports)
}

fn bench_synthesize_wall(c: &mut Criterion) {
    let spec = spec();
    let mut group = c.benchmark_group("consensus/synthesize_wall");
    for (agents, items) in [(10, 1_000), (3, 100)] {
        let input = inputs(agents, items);
        group.throughput(Throughput::Elements((agents * items) as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("agents_{agents}"), items),
            &input,
            |b, (names, reports)| {
                b.iter(|| synthesize(black_box(&spec), black_box(names), black_box(reports)));
            },
        );
    }
    group.finish();
}

fn bench_synthesize<M: Measurement>(c: &mut Criterion<M>) {
    let spec = spec();
    let mut group = c.benchmark_group("consensus/synthesize");
    for &agents in &AGENTS {
        for &items in &ITEMS {
            group.throughput(Throughput::Elements((agents * items) as u64));
            // Flat sampling keeps the 10,000-item rows (tens of ms each) within budget.
            group.sample_size(if items >= 10_000 { 10 } else { 20 });
            group.bench_with_input(
                BenchmarkId::new(format!("agents_{agents}"), items),
                &inputs(agents, items),
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

fn bench_extract<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut group = c.benchmark_group(name);
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

fn bench_extract_cpu(c: &mut Criterion<OnCpuTime>) {
    bench_extract(c, "consensus/extract_1mb");
}

fn bench_extract_wall(c: &mut Criterion) {
    bench_extract(c, "consensus/extract_1mb_wall");
}

fn wall() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

fn cpu() -> Criterion<OnCpuTime> {
    wall().with_measurement(OnCpuTime)
}

criterion_group! {
    name = on_cpu;
    config = cpu();
    targets = bench_synthesize, bench_extract_cpu
}
criterion_group! {
    name = wall_time;
    config = wall();
    targets = bench_synthesize_wall, bench_extract_wall
}
criterion_main!(on_cpu, wall_time);
