//! Head-to-head benchmarks for the exec layer: synod-exec against plain `tokio::process` in
//! the same run. Groups are `exec/OPERATION` with contenders `synod` and `raw`.
//!
//! - `exec/spawn_wait_true`: spawn `/bin/true` and wait for it, stdout and stderr piped
//!   (`run` vs `Command::output`). Target: synod ≤ 1.15× raw.
//! - `exec/concurrent_3`, `exec/concurrent_100`: that many `/bin/true` at once (`run_all` vs
//!   a `JoinSet` of `Command::output`). Target: synod ≤ 1.2× raw.
//! - `exec/lines_200mb`: a child writes 200 MB (whole 1 KiB lines); synod streams them as line
//!   events (`spawn` + `Stream`), raw reads the pipe in 64 KiB chunks. Target: synod
//!   throughput ≥ 0.85× raw.
//! - `exec/lines_200mb_short`: the same with 100-byte lines (2 million events). Target
//!   (issue 14): synod throughput ≥ 0.85× raw.
//!
//! Instruction counts (load-independent): with `SYNOD_BENCH_ONCE=CONTENDER` the binary runs
//! one contender once instead of criterion, for `valgrind --tool=callgrind` (children run
//! natively; only this process is counted). Contenders: `lines_short/synod`,
//! `lines_short/raw`, `lines/synod`, `lines/raw`, `spawn_wait/synod`, `spawn_wait/raw`,
//! `none` (runtime start only, to subtract); `SYNOD_BENCH_BYTES` sets the stream size
//! (default 200 MB). See docs/PERFORMANCE.md § exec.
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::Stdio;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use futures::StreamExt;
use synod::exec::{AgentCommand, CancellationToken, Event, run, run_all, spawn};
use tokio::io::AsyncReadExt;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

/// 200 MB of whole 1 KiB lines (195 313 lines).
const TOTAL: u64 = 1024 * 195_313;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn raw_true() -> std::process::Output {
    tokio::process::Command::new("/bin/true")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("/bin/true runs")
}

fn spawn_wait(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("exec/spawn_wait_true");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40);
    let cmd = AgentCommand::new("/bin/true");
    g.bench_function("synod", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(run(black_box(&cmd)).await.expect("/bin/true runs")) });
    });
    g.bench_function("raw", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(raw_true().await) });
    });
    g.finish();
}

fn concurrent(c: &mut Criterion) {
    let rt = runtime();
    for n in [3usize, 100] {
        let mut g = c.benchmark_group(format!("exec/concurrent_{n}"));
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(20);
        let cmds: Vec<AgentCommand> = (0..n).map(|_| AgentCommand::new("/bin/true")).collect();
        let token = CancellationToken::new();
        g.bench_function("synod", |b| {
            b.to_async(&rt).iter(|| async {
                let results = run_all(black_box(&cmds), n, &token).await;
                assert!(results.iter().all(Result::is_ok));
                black_box(results)
            });
        });
        g.bench_function("raw", |b| {
            b.to_async(&rt).iter(|| async {
                let mut set = JoinSet::new();
                for _ in 0..n {
                    set.spawn(raw_true());
                }
                black_box(set.join_all().await)
            });
        });
        g.finish();
    }
}

/// `yes LINE | head -c total` with LINE `line_len - 1` bytes long (whole lines of `line_len`).
fn flood(line_len: usize, total: u64) -> (String, Vec<String>) {
    let line = "a".repeat(line_len - 1);
    let script = format!("yes \"$1\" | head -c {total}");
    ("sh".into(), vec!["-c".into(), script, "sh".into(), line])
}

/// Streams `cmd`'s stdout as line events; returns the bytes seen (lines plus newlines).
async fn synod_lines(cmd: &AgentCommand) -> u64 {
    let mut running = spawn(cmd).expect("spawns");
    let mut bytes = 0u64;
    while let Some(event) = running.next().await {
        if let Event::Stdout(line) = black_box(event) {
            bytes += line.len() as u64 + 1;
        }
    }
    bytes
}

/// Reads `program args`'s stdout in 64 KiB reads; returns the bytes read.
async fn raw_reads(program: &str, args: &[String]) -> u64 {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut stdout = child.stdout.take().expect("piped");
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = stdout.read(&mut buf).await.expect("reads");
        if n == 0 {
            break;
        }
        bytes += black_box(&buf[..n]).len() as u64;
    }
    child.wait().await.expect("reaped");
    bytes
}

fn lines(c: &mut Criterion) {
    let rt = runtime();
    for (name, line_len) in [("exec/lines_200mb", 1024), ("exec/lines_200mb_short", 100)] {
        let mut g = c.benchmark_group(name);
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Bytes(TOTAL));
        let (program, args) = flood(line_len, TOTAL);
        let cmd = AgentCommand::new(&program).args(&args);
        g.bench_function("synod", |b| {
            b.to_async(&rt).iter(|| async {
                // The last line of the 100-byte stream has no newline: counted with one.
                let bytes = synod_lines(&cmd).await;
                assert!(bytes == TOTAL || bytes == TOTAL + 1, "{bytes}");
            });
        });
        g.bench_function("raw", |b| {
            b.to_async(&rt).iter(|| async {
                assert_eq!(raw_reads(&program, &args).await, TOTAL);
            });
        });
        g.finish();
    }
}

/// Runs one contender once (for instruction counts; see the module docs).
fn once(what: &str) {
    let total: u64 = std::env::var("SYNOD_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TOTAL);
    let rt = runtime();
    rt.block_on(async {
        match what {
            "none" => {}
            "spawn_wait/synod" => {
                black_box(run(&AgentCommand::new("/bin/true")).await.expect("runs"));
            }
            "spawn_wait/raw" => {
                black_box(raw_true().await);
            }
            _ => {
                let (contender_line_len, synod) = match what {
                    "lines_short/synod" => (100, true),
                    "lines_short/raw" => (100, false),
                    "lines/synod" => (1024, true),
                    "lines/raw" => (1024, false),
                    other => panic!("SYNOD_BENCH_ONCE: unknown contender {other:?}"),
                };
                let total = total - total % contender_line_len as u64;
                let (program, args) = flood(contender_line_len, total);
                let bytes = if synod {
                    synod_lines(&AgentCommand::new(&program).args(&args)).await
                } else {
                    raw_reads(&program, &args).await
                };
                assert_eq!(bytes, total);
            }
        }
    });
}

criterion_group!(benches, spawn_wait, concurrent, lines);

fn main() {
    if let Ok(what) = std::env::var("SYNOD_BENCH_ONCE") {
        once(&what);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
