//! `run_all` with concurrency 3 over 20 commands: a watcher thread scans /proc for this test
//! process's children (live or not yet reaped) the whole time; there are never more than 3.
//! (Its own test binary, so no other test's children are counted.)
// Runs Unix programs (sh, perl, /proc); Windows has its own tests in windows.rs.
#![cfg(unix)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use synod_exec::{AgentCommand, CancellationToken, run_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_three_children() {
    let done = Arc::new(AtomicBool::new(false));
    let max = Arc::new(AtomicUsize::new(0));
    let scans = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (done, max, scans) = (done.clone(), max.clone(), scans.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let n = common::my_children().len();
                max.fetch_max(n, Ordering::SeqCst);
                scans.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let cmds: Vec<AgentCommand> = (0..20)
        .map(|i| AgentCommand::new("sh").args(["-c", &format!("sleep 0.1; echo {i}")]))
        .collect();
    let results = run_all(cmds, 3, &CancellationToken::new()).await;
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.as_ref().unwrap().stdout_lossy(), format!("{i}\n"));
    }
    let max = max.load(Ordering::SeqCst);
    assert!(scans.load(Ordering::SeqCst) > 0);
    assert!((1..=3).contains(&max), "{max} children at once");
}
