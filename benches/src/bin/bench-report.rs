//! `bench-report`: turns criterion's saved results into `docs/PERFORMANCE.md`.
//!
//! ```text
//! cargo bench -p synod-benches                  # writes target/criterion/**/new/*.json
//! cargo run -p synod-benches --bin bench-report # rewrites the generated part of docs/PERFORMANCE.md
//! ```
//!
//! Options: `--criterion DIR` (default `target/criterion`), `--out FILE` (default
//! `docs/PERFORMANCE.md`), `--targets FILE` (default `benches/targets.toml`), `--plots DIR`
//! (default `docs/perf`). Only the block between the `generated` markers of the output file is
//! replaced; hand-written analysis around it stays.

use std::path::PathBuf;
use std::process::ExitCode;

use synod_benches::report::{self, ReportOptions};

fn main() -> ExitCode {
    let mut options = ReportOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{name} needs a path"))
        };
        let parsed = match arg.as_str() {
            "--criterion" => value("--criterion").map(|v| options.criterion_dir = v),
            "--out" => value("--out").map(|v| options.out = v),
            "--targets" => value("--targets").map(|v| options.targets = v),
            "--plots" => value("--plots").map(|v| options.plots_dir = v),
            "-h" | "--help" => {
                println!(
                    "usage: bench-report [--criterion DIR] [--out FILE] [--targets FILE] [--plots DIR]"
                );
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument '{other}' (see --help)")),
        };
        if let Err(message) = parsed {
            eprintln!("bench-report: {message}");
            return ExitCode::from(2);
        }
    }
    match report::write_report(&options) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench-report: {err}");
            ExitCode::from(2)
        }
    }
}
