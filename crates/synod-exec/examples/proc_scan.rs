//! Measures what descendant tracking costs per scan on this machine: one `/proc` snapshot,
//! and one snapshot plus a descendant walk (what a tracked run does when it ends, and at each
//! poll while it runs).
//!
//! `cargo run --release -p synod-exec --example proc_scan [ROUNDS]`

use std::time::{Duration, Instant};

use synod_exec::process_tree::ProcessTable;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let Some(table) = ProcessTable::snapshot() else {
        eprintln!("no /proc here: descendant tracking is off on this system");
        return;
    };
    let me = std::process::id();
    let mut snapshot = Vec::with_capacity(rounds);
    let mut walk = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let table = ProcessTable::snapshot().unwrap_or_default();
        snapshot.push(started.elapsed());
        let started = Instant::now();
        let table2 = ProcessTable::snapshot().unwrap_or_default();
        std::hint::black_box(table2.descendants_of([me]).len() + table.len());
        walk.push(started.elapsed());
    }
    let listed = table.len().max(1);
    println!("processes listed: {listed}");
    report("snapshot", &mut snapshot, listed);
    report("snapshot + descendant walk", &mut walk, listed);
}

fn report(what: &str, times: &mut [Duration], listed: usize) {
    times.sort_unstable();
    let median = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    let per_process = median / u32::try_from(listed).unwrap_or(u32::MAX);
    println!("{what}: median {median:?}, p99 {p99:?}, {per_process:?} per process");
}
