//! Many writers and readers on one file: no error reaches a caller, readers never see half a
//! run, and the final counts are exact.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{output, run, verdict};
use synod_store::{Options, Page, Store};

const WRITERS: usize = 10;
const READERS: usize = 4;

fn hammer(store: &Store, run_for: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(WRITERS + READERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, stop, start) = (store.clone(), Arc::clone(&stop), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let mut n = 0_i64;
                while !stop.load(Ordering::Relaxed) {
                    let outputs = [
                        output("a", 1, true, 10),
                        output("b", 1, n % 2 == 0, 20),
                        output("c", 2, true, 30),
                    ];
                    store
                        .record_stage(&run(&format!("W{w}"), "plan", n), &outputs, &verdict(n))
                        .unwrap_or_else(|e| panic!("writer {w}: {e}"));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (store, stop, start) = (store.clone(), Arc::clone(&stop), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let mut reads = 0_u64;
                let mut i = r;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % WRITERS;
                    let spec = format!("W{i}");
                    if let Some(latest) = store.latest_verdict(&spec, "plan").unwrap() {
                        assert_eq!(latest.verdict, verdict(latest.started_at));
                        let outputs = store.outputs_for_run(latest.id).unwrap();
                        assert_eq!(outputs.len(), 3, "reader saw half of run {}", latest.id);
                    }
                    let history = store.history(&spec, Page::first(5)).unwrap();
                    assert!(
                        history
                            .windows(2)
                            .all(|w| w[0].started_at > w[1].started_at)
                    );
                    if reads.is_multiple_of(50) {
                        store.agent_stats().unwrap();
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    start.wait();
    std::thread::sleep(run_for);
    stop.store(true, Ordering::Relaxed);

    let counts: Vec<i64> = writers
        .into_iter()
        .map(|w| w.join().expect("writer panicked"))
        .collect();
    let reads: u64 = readers
        .into_iter()
        .map(|r| r.join().expect("reader panicked"))
        .sum();
    assert!(
        counts.iter().all(|&n| n > 0),
        "a writer never got to write: {counts:?}"
    );
    assert!(reads > 0);

    for (w, &n) in counts.iter().enumerate() {
        let history = store
            .history(&format!("W{w}"), Page::first(u32::MAX))
            .unwrap();
        assert_eq!(history.len() as i64, n, "writer {w}");
        assert_eq!(
            store.spec(&format!("W{w}")).unwrap().unwrap().updated_at,
            (n - 1) + 100
        );
    }
    let total: i64 = counts.iter().sum();
    let stats = store.agent_stats().unwrap();
    assert_eq!(stats.len(), 3);
    for s in &stats {
        assert_eq!(s.attempts as i64, total, "agent {}", s.agent);
        assert_eq!(s.runs as i64, total, "agent {}", s.agent);
    }
    let b = stats.iter().find(|s| s.agent == "b").unwrap();
    let expected_b: i64 = counts.iter().map(|n| (n + 1) / 2).sum();
    assert_eq!(b.successes as i64, expected_b);
    store.integrity_check().unwrap();
    eprintln!("{total} runs written, {reads} read loops");
}

#[test]
fn ten_writers_four_readers_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("busy.db"), Options::default()).unwrap();
    let started = Instant::now();
    hammer(&store, Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn ten_writers_four_readers_in_memory() {
    let store = Store::open_in_memory().unwrap();
    hammer(&store, Duration::from_millis(700));
}

#[test]
fn two_stores_on_one_file_share_it() {
    // Two independent stores (as two processes would have): writes from each are visible to
    // the other, and cross-store lock waits are absorbed by busy_timeout.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = Store::open(&path, Options::default()).unwrap();
    let b = Store::open(&path, Options::default()).unwrap();
    let handles: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(k, s)| {
            std::thread::spawn(move || {
                for i in 0..150 {
                    s.record_stage(
                        &run(&format!("P{k}"), "plan", i),
                        &[output("a", 1, true, 1)],
                        &verdict(i),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(a.history("P1", Page::first(1000)).unwrap().len(), 150);
    assert_eq!(b.history("P0", Page::first(1000)).unwrap().len(), 150);
}
