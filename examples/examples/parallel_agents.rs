//! synod-exec alone: run several agent commands at once (at most two alive), each in its own
//! process group with a timeout, and cancel a slow one.
//!
//! `cargo run -p synod-examples --example parallel_agents`
use std::time::Duration;

use synod::exec::{AgentCommand, CancellationToken, Error, run_all};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prompt = "Name one risk of shipping on a Friday.";
    let cmds = vec![
        AgentCommand::new("sh")
            .args(["-c", "read p; echo \"alpha read: $p\""])
            .stdin(format!("{prompt}\n"))
            .timeout(Duration::from_secs(10)),
        AgentCommand::new("sh")
            .args(["-c", "echo 'beta: 503 overloaded' >&2; exit 1"])
            .timeout(Duration::from_secs(10)),
        // Would take a minute; its timeout stops its whole process group after 300 ms.
        AgentCommand::new("sh")
            .args(["-c", "sleep 60 & wait"])
            .timeout(Duration::from_millis(300))
            .kill_grace(Duration::from_millis(100)),
    ];
    let results = run_all(&cmds, 2, &CancellationToken::new()).await;
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(out) => println!(
                "#{i} ok in {:?}: {}",
                out.duration,
                out.stdout_lossy().trim()
            ),
            Err(err) => println!("#{i} failed: {err}"),
        }
    }
    assert!(results[0].is_ok());
    assert!(matches!(
        results[1],
        Err(Error::NonZeroExit { code: 1, .. })
    ));
    assert!(matches!(results[2], Err(Error::Timeout { .. })));
    Ok(())
}
