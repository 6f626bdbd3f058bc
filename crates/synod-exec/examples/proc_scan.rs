//! Measures what descendant tracking costs per scan on this machine: one `/proc` snapshot,
//! and one snapshot plus a descendant walk (what a tracked run does when it ends, and at each
//! poll while it runs); then the wall time of running `true` with tracking on and off.
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

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    for track in [false, true] {
        let cmd = synod_exec::AgentCommand::new("true").track_descendants(track);
        let mut times: Vec<Duration> = (0..rounds.min(200))
            .map(|_| {
                let started = Instant::now();
                let ran = runtime.block_on(synod_exec::run(&cmd));
                assert!(ran.is_ok(), "{ran:?}");
                started.elapsed()
            })
            .collect();
        report(&format!("run(`true`), tracking {track}"), &mut times, 0);
    }
}

/// Prints the median and p99 of `times`, and the median per listed process when `listed > 0`.
fn report(what: &str, times: &mut [Duration], listed: usize) {
    times.sort_unstable();
    let median = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    match u32::try_from(listed) {
        Ok(n) if n > 0 => {
            println!(
                "{what}: median {median:?}, p99 {p99:?}, {:?} per process",
                median / n
            );
        }
        _ => println!("{what}: median {median:?}, p99 {p99:?}"),
    }
}
