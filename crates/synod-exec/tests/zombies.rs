//! 200 timed-out runs leave no zombie and no live child behind. (Its own test binary, so no
//! other test's children are counted.)
// Runs Unix programs (sh, perl, /proc); Windows has its own tests in windows.rs.
#![cfg(unix)]

mod common;

use std::time::Duration;

use futures::future::join_all;
use synod_exec::{AgentCommand, Error, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_timeouts_leave_no_zombie() {
    let cmd = AgentCommand::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(10))
        .kill_grace(Duration::from_millis(50));
    for _batch in 0..10 {
        let results = join_all((0..20).map(|_| run(&cmd))).await;
        for r in results {
            assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        }
    }
    // Every leader was reaped before `run` returned: nothing of ours is left, zombie or not.
    let children = common::my_children();
    assert!(children.is_empty(), "children left behind: {children:?}");
}
