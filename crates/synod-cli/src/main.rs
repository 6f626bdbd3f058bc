//! The `synod` command-line tool: a thin shell over the `synod` facade.
//!
//! Each group of subcommands lives in its own module; `main` only parses and dispatches.
//! Exit codes: 0 success, 1 a negative verdict (conflict, no quorum, policy violation,
//! denied login), 2 usage, config or runtime error.
//!
//! Windows and macOS: the same commands everywhere. What differs is how a run is stopped:
//! `signals` (SIGINT/TERM/HUP/QUIT on Unix; Ctrl-C, Ctrl-Break and console close on Windows)
//! and `watchdog` (a helper that kills the agents of a SIGKILLed run: Linux only; on Windows
//! the agents' job objects do that, so `watchdog_other.rs` starts nothing).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod auth;
mod common;
mod config_cmd;
mod doctor;
mod init;
mod inspect;
mod jobs_cmd;
mod policy;
mod progress;
mod run;
mod signals;
mod store_cmd;
#[cfg(unix)]
mod watchdog;
mod watchdog_args;
// Windows: no watchdog process; the agents' job objects stop them if synod is killed.
#[cfg(not(unix))]
#[path = "watchdog_other.rs"]
mod watchdog;

/// Run several command-line AI agents side by side and keep the evidence.
#[derive(Debug, Parser)]
#[command(name = "synod", version, about, propagate_version = true)]
struct Cli {
    /// Show the whole cause chain of an error.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a stage of agents on a spec, decide, and store the evidence.
    Run(run::RunArgs),
    /// List the stored runs of a spec, newest first.
    History(inspect::HistoryArgs),
    /// Show one stored run: verdict, agents, attempts and outputs.
    Show(inspect::ShowArgs),
    /// Per agent: attempts, success rate, p50/p95 duration, tokens and cost.
    Stats(inspect::StatsArgs),
    /// Check, show, explain or describe the configuration (`synod.toml`).
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Maintain the evidence store: check, vacuum, back up, prune.
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// Queue a stage run for a worker and print its job id (`--wait`: exit like `run`).
    Submit(jobs_cmd::SubmitArgs),
    /// Claim queued jobs and run them (`--concurrency N`, `--once`); SIGTERM hands them back.
    Worker(jobs_cmd::WorkerArgs),
    /// List the job queue, newest first.
    Jobs(jobs_cmd::JobsArgs),
    /// Write a starter `synod.toml`.
    Init(init::InitArgs),
    /// Check each configured agent: program found, version, a tiny authenticated call.
    Doctor(doctor::DoctorArgs),
    /// (internal) Kills a run's agents if `synod run` dies without cleaning up.
    #[command(hide = true, name = "__watchdog")]
    Watchdog(watchdog::WatchdogArgs),
    /// Log in with the OAuth 2.0 device flow, show or remove stored logins.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Check commit messages and documentation structure.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Install or remove synod's git hooks.
    #[command(subcommand)]
    Hooks(policy::HooksCommand),
    /// Entry point the installed git hooks call (`synod hook <name> ...`).
    #[command(subcommand)]
    Hook(policy::HookCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let verbose = cli.verbose;
    runtime.block_on(async move {
        signals::survive_file_size_limits();
        match cli.command {
            Command::Run(args) => run::run(args, verbose).await,
            Command::History(args) => inspect::history(args, verbose).await,
            Command::Show(args) => inspect::show(args, verbose).await,
            Command::Stats(args) => inspect::stats(args, verbose).await,
            Command::Config(cmd) => config_cmd::run(cmd, verbose),
            Command::Store(cmd) => store_cmd::run(cmd, verbose).await,
            Command::Submit(args) => jobs_cmd::submit(args, verbose).await,
            Command::Worker(args) => jobs_cmd::worker(args, verbose).await,
            Command::Jobs(args) => jobs_cmd::jobs(args, verbose).await,
            Command::Init(args) => init::run(&args, verbose),
            Command::Doctor(args) => doctor::run(args, verbose).await,
            Command::Watchdog(args) => watchdog::run(&args).await,
            Command::Auth(cmd) => auth::run(cmd, verbose).await,
            Command::Policy(cmd) => policy::run_policy(cmd, verbose).await,
            Command::Hooks(cmd) => policy::run_hooks(cmd, verbose).await,
            Command::Hook(cmd) => policy::run_hook(cmd, verbose).await,
        }
    })
}
