//! Many processes saving large runs into one store at once (issue 17's "30 concurrent runs
//! writing 48 MB each"): how many give up with `Error::Busy`, for a given busy timeout.
//!
//! ```text
//! cargo run --release -p synod-store --example busy_writers -- DIR [PROCESSES] [MB] [TIMEOUT_S]
//! ```
//!
//! Defaults: 30 processes, 48 MB each, 60 s. Each process opens the store, then records one
//! stage whose outputs total MB megabytes in one transaction, and reports how long the
//! record took and how many busy retries it needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use synod_store::{NewOutput, NewRun, Options, Store};

fn child(path: &Path, index: i64, megabytes: usize, timeout: Duration) -> ! {
    let options = Options {
        busy_timeout: timeout,
        ..Options::default()
    };
    let store = Store::open(path, options).unwrap_or_else(|e| {
        println!("open-failed {e}");
        std::process::exit(3)
    });
    let chunk = "x".repeat(1024 * 1024);
    let outputs: Vec<NewOutput> = (0..megabytes)
        .map(|a| NewOutput {
            agent: format!("agent-{}", a % 4),
            attempt: 1 + (a / 4) as u32,
            exit_code: Some(0),
            duration_ms: 1,
            status: "ok".into(),
            raw_output: chunk.clone(),
            parsed_json: None,
            error: None,
            ..NewOutput::default()
        })
        .collect();
    let run = NewRun {
        spec_id: format!("SPEC-{index}"),
        stage: "plan".into(),
        started_at: index,
        finished_at: index + 1,
        status: "ok".into(),
    };
    let start = Instant::now();
    match store.record_stage(&run, &outputs, &serde_json::json!({"status": "ok"})) {
        Ok(_) => {
            println!(
                "ok {:.3} {}",
                start.elapsed().as_secs_f64(),
                store.busy_retries()
            );
            std::process::exit(0)
        }
        Err(e) => {
            println!("failed {:.3} {e}", start.elapsed().as_secs_f64());
            std::process::exit(1)
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let path = PathBuf::from(&args[2]);
        let index: i64 = args[3].parse()?;
        let megabytes: usize = args[4].parse()?;
        let timeout = Duration::from_secs_f64(args[5].parse()?);
        child(&path, index, megabytes, timeout);
    }
    let dir = PathBuf::from(
        args.get(1)
            .ok_or("usage: busy_writers DIR [PROCESSES] [MB] [TIMEOUT_S]")?,
    );
    let processes: usize = args.get(2).map_or(Ok(30), |a| a.parse())?;
    let megabytes: usize = args.get(3).map_or(Ok(48), |a| a.parse())?;
    let timeout: f64 = args.get(4).map_or(Ok(60.0), |a| a.parse())?;
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("busy-{}.db", std::process::id()));
    drop(Store::open(&path, Options::default())?);
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|i| {
            Command::new(&exe)
                .args(["--child", &path.to_string_lossy(), &i.to_string()])
                .args([megabytes.to_string(), timeout.to_string()])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let (mut ok, mut failed, mut longest, mut retries) = (0, 0, 0.0f64, 0u64);
    for child in children {
        let out = child.wait_with_output()?;
        let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("ok") => {
                ok += 1;
                longest = longest.max(parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0));
                retries += parts
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            _ => {
                failed += 1;
                eprintln!("  {line}");
            }
        }
    }
    let store = Store::open_read_only(&path, Options::default())?;
    let stored = store
        .agent_stats()?
        .iter()
        .map(|s| s.runs)
        .max()
        .unwrap_or(0);
    println!(
        "{processes} processes x {megabytes} MB, busy timeout {timeout} s: {ok} saved, {failed} failed; longest record {longest:.1} s; {retries} busy retries in all; {stored} runs in the store; wall {:.1} s",
        start.elapsed().as_secs_f64()
    );
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
