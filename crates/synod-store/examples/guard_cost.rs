//! What the store guards cost: `Store::open` (permission, empty-file, header, damage-mark and
//! writability checks), `Store::open_read_only`, and `Store::verify` (the damage mark plus
//! `PRAGMA quick_check`, run before backup, prune and vacuum), on stores of about 1 MB and
//! 1 GB.
//!
//! ```text
//! cargo run --release -p synod-store --example guard_cost [DIR] [SIZES_MB...]
//! ```
//!
//! DIR defaults to a temporary directory (the 1 GB store needs 1 GB free); sizes default to
//! `1 1024`. Prints the median and the range of each operation.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use synod_store::{NewOutput, NewRun, Options, Store};

fn fill(path: &Path, megabytes: u64) -> synod_store::Result<()> {
    let store = Store::open(path, Options::default())?;
    let target = megabytes * 1024 * 1024;
    let payload = "evidence ".repeat(64 * 1024 / 9);
    let mut i = 0i64;
    while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal(path)).map(|m| m.len()).unwrap_or(0)
        < target
    {
        let run = NewRun {
            spec_id: format!("SPEC-{}", i % 50),
            stage: "plan".into(),
            started_at: i,
            finished_at: i + 10,
            status: "ok".into(),
        };
        let outputs: Vec<NewOutput> = (0..4)
            .map(|a| NewOutput {
                agent: format!("agent-{a}"),
                attempt: 1,
                exit_code: Some(0),
                duration_ms: 1_000,
                status: "ok".into(),
                raw_output: payload.clone(),
                parsed_json: None,
                error: None,
                ..NewOutput::default()
            })
            .collect();
        store.record_stage(&run, &outputs, &serde_json::json!({"status": "ok"}))?;
        i += 1;
    }
    while !store.checkpoint()? {}
    Ok(())
}

fn wal(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn measure(label: &str, runs: usize, mut f: impl FnMut()) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "  {label:<34} median {:>10.3?}  min {:>10.3?}  max {:>10.3?}  ({runs} runs)",
        times[runs / 2],
        times[0],
        times[runs - 1]
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let temp;
    let dir = match args.next() {
        Some(dir) => PathBuf::from(dir),
        None => {
            temp = std::env::temp_dir().join(format!("synod-guard-cost-{}", std::process::id()));
            temp
        }
    };
    let sizes: Vec<u64> = {
        let given: Vec<u64> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
        if given.is_empty() {
            vec![1, 1024]
        } else {
            given
        }
    };
    std::fs::create_dir_all(&dir)?;
    for mb in sizes {
        let path = dir.join(format!("store-{mb}mb.db"));
        if !path.exists() {
            let start = Instant::now();
            fill(&path, mb)?;
            eprintln!("filled {} in {:.1?}", path.display(), start.elapsed());
        }
        let len = std::fs::metadata(&path)?.len();
        println!("{} ({:.1} MiB):", path.display(), len as f64 / 1048576.0);
        let opens = if mb >= 512 { 20 } else { 100 };
        measure("open guards alone (writer_guards)", 1000, || {
            assert!(synod_store::store::writer_guards(&path).expect("guards"));
        });
        measure("Store::open (writer, all guards)", opens, || {
            drop(Store::open(&path, Options::default()).expect("open"));
        });
        measure("Store::open_read_only", opens, || {
            drop(Store::open_read_only(&path, Options::default()).expect("open"));
        });
        let store = Store::open(&path, Options::default())?;
        let checks = if mb >= 512 { 5 } else { 50 };
        measure("Store::verify (mark + quick_check)", checks, || {
            store.verify().expect("verify");
        });
        measure("Store::integrity_check", checks.min(5), || {
            store.integrity_check().expect("integrity_check");
        });
    }
    if dir.starts_with(std::env::temp_dir())
        && dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("synod-guard-cost-"))
    {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
