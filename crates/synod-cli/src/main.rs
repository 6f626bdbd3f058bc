//! The `synod` command-line tool: a thin shell over the `synod` facade.
//!
//! Each group of subcommands lives in its own module; `main` only parses and dispatches.
//! Exit codes: 0 success, 1 a negative verdict (conflict, no quorum, policy violation,
//! denied login), 2 usage, config or runtime error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod auth;
mod policy;

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
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let verbose = cli.verbose;
    runtime.block_on(async move {
        match cli.command {
            Command::Auth(cmd) => auth::run(cmd, verbose).await,
            Command::Policy(cmd) => policy::run_policy(cmd, verbose).await,
            Command::Hooks(cmd) => policy::run_hooks(cmd, verbose).await,
            Command::Hook(cmd) => policy::run_hook(cmd, verbose).await,
        }
    })
}
