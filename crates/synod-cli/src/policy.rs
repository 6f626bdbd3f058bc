//! `synod policy ...`, `synod hooks ...` and `synod hook ...`: commit message and document
//! checks, hook installation, and the entry points the installed git hooks call.
//!
//! Configuration: `--config FILE`, else `$SYNOD_POLICY_CONFIG`, else `.synod/policy.json` in
//! the working directory (git runs `commit-msg` and `pre-commit` at the worktree root and
//! `pre-receive` inside the bare repository), else the defaults.
//!
//! Input size: every message file, stdin and pushed commit is read up to `--max-bytes`, else
//! `max-input-bytes` from the configuration, else 1 MiB; a bigger input is a one-line error
//! naming it and the limit (exit 2), and memory stays bounded (`check-msg /dev/zero` fails at
//! once).
//!
//! Exit codes: 0 pass (warnings allowed), 1 violations, 2 usage or runtime error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use synod::exec::AgentCommand;
use synod::policy::checks;
use synod::policy::docs::check_docs;
use synod::policy::hooks::{self, DEFAULT_HOOKS, HookName, InstallOptions};
use synod::policy::input::{read_file_limited, read_stdin_limited};
use synod::policy::message::{self, Cleanup};
use synod::policy::receive::{self, Side};
use synod::policy::{PolicyConfig, Report};

#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArg {
    /// Policy configuration (JSON); default `$SYNOD_POLICY_CONFIG` or `.synod/policy.json`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LimitArg {
    /// Read at most this many bytes of any one input (message, stdin, commit, document);
    /// default `max-input-bytes` from the configuration, else 1048576 (1 MiB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    max_bytes: Option<u64>,
}

impl LimitArg {
    fn resolve(&self, policy: &PolicyConfig) -> u64 {
        self.max_bytes.unwrap_or(policy.max_input_bytes)
    }
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PolicyCommand {
    /// Check a commit message file (`-` for stdin) against the Conventional Commits rules.
    CheckMsg {
        /// The message file, e.g. `.git/COMMIT_EDITMSG`, or `-`.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        limit: LimitArg,
    },
    /// Check documentation structure (required files, headings, tables) under PATH.
    CheckDocs {
        /// The root to walk (default: the current directory).
        path: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        limit: LimitArg,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum HooksCommand {
    /// Install synod's hooks (default: commit-msg, pre-commit, pre-push) where git looks for them.
    Install {
        /// The repository (default: the current directory).
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
        /// Only these hooks (repeatable): commit-msg, pre-commit, pre-push, pre-receive.
        #[arg(long = "hook", value_name = "NAME")]
        hooks: Vec<HookName>,
    },
    /// Remove synod's hooks and restore any hook they replaced.
    Uninstall {
        /// The repository (default: the current directory).
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
        /// Only these hooks (default: all of synod's hooks).
        #[arg(long = "hook", value_name = "NAME")]
        hooks: Vec<HookName>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum HookCommand {
    /// git's commit-msg hook: check the message file.
    CommitMsg {
        /// The message file git passes.
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        limit: LimitArg,
    },
    /// git's pre-commit hook: run the configured checks on the staged change.
    PreCommit {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// git's pre-push hook: check the commits being pushed (refs on stdin).
    PrePush {
        /// The remote's name.
        remote: Option<String>,
        /// The remote's URL.
        url: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        limit: LimitArg,
    },
    /// The server-side pre-receive hook: check every pushed commit (`old new ref` on stdin).
    PreReceive {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        limit: LimitArg,
    },
}

/// Writes to stdout, ignoring a closed pipe (`synod ... | head`).
fn out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn fail(err: &dyn std::error::Error, verbose: bool) -> ExitCode {
    eprintln!("error: {err}");
    if verbose {
        let mut source = err.source();
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
    }
    ExitCode::from(2)
}

fn load_config(arg: &ConfigArg, root: &Path) -> synod::policy::Result<PolicyConfig> {
    if let Some(path) = &arg.config {
        return PolicyConfig::from_file(path);
    }
    if let Some(path) = std::env::var_os("SYNOD_POLICY_CONFIG").filter(|p| !p.is_empty()) {
        return PolicyConfig::from_file(Path::new(&path));
    }
    PolicyConfig::load(root)
}

/// The comment character: the configured one, else git's `core.commentChar` (`auto` and
/// unset mean `#`).
async fn comment_char(config: &PolicyConfig) -> char {
    if let Some(c) = config.commit.comment_char {
        return c;
    }
    let cmd = AgentCommand::new("git")
        .args(["config", "--get", "core.commentChar"])
        .timeout(std::time::Duration::from_secs(10));
    match synod::exec::run(&cmd).await {
        Ok(out) => {
            let value = out.stdout_lossy().trim().to_owned();
            match value.chars().next() {
                Some(c) if value != "auto" => c,
                _ => '#',
            }
        }
        Err(_) => '#',
    }
}

/// Reads the message file (`-`: stdin), at most `limit` bytes.
fn read_input(file: &Path, limit: u64) -> synod::policy::Result<String> {
    let bytes = if file == Path::new("-") {
        read_stdin_limited(limit)?
    } else {
        read_file_limited(file, limit)?
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

async fn check_message(
    file: &Path,
    config: &ConfigArg,
    limit: &LimitArg,
    verbose: bool,
) -> Result<(Report, String), ExitCode> {
    let policy = load_config(config, Path::new(".")).map_err(|e| fail(&e, verbose))?;
    let text = read_input(file, limit.resolve(&policy)).map_err(|e| fail(&e, verbose))?;
    let cleanup = Cleanup {
        comment_char: Some(comment_char(&policy).await),
    };
    let commit = message::parse(&text, &cleanup);
    Ok((policy.commit.check(&commit), file.display().to_string()))
}

fn verdict(report: &Report) -> ExitCode {
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub(crate) async fn run_policy(cmd: PolicyCommand, verbose: bool) -> ExitCode {
    match cmd {
        PolicyCommand::CheckMsg {
            file,
            json,
            config,
            limit,
        } => {
            let (report, source) = match check_message(&file, &config, &limit, verbose).await {
                Ok(r) => r,
                Err(code) => return code,
            };
            if json {
                out(&format!("{}\n", report.to_json()));
            } else {
                out(&report.to_human(&source));
            }
            verdict(&report)
        }
        PolicyCommand::CheckDocs {
            path,
            json,
            config,
            limit,
        } => {
            let root = path.unwrap_or_else(|| PathBuf::from("."));
            if !root.is_dir() {
                let what = if root.exists() {
                    "is not a folder"
                } else {
                    "does not exist"
                };
                return crate::common::Failure::msg(format!(
                    "{} {what}; give the project's root folder, where .synod/policy.json is (the doc rules' folders are relative to it)",
                    root.display()
                ))
                .report(verbose);
            }
            let policy = match load_config(&config, &root) {
                Ok(p) => p,
                Err(e) => return fail(&e, verbose),
            };
            if policy.docs.is_empty() && !json {
                out("no doc rules configured (add a \"docs\" section to .synod/policy.json)\n");
                return ExitCode::SUCCESS;
            }
            let report = match check_docs(&root, &policy.docs, limit.resolve(&policy)) {
                Ok(r) => r,
                Err(e) => return fail(&e, verbose),
            };
            if json {
                out(&format!("{}\n", report.to_json()));
            } else {
                out(&report.to_human(&root.display().to_string()));
            }
            verdict(&report)
        }
    }
}

pub(crate) async fn run_hooks(cmd: HooksCommand, verbose: bool) -> ExitCode {
    let result = match cmd {
        HooksCommand::Install { repo, hooks } => {
            let repo = repo.unwrap_or_else(|| PathBuf::from("."));
            let hooks = if hooks.is_empty() {
                DEFAULT_HOOKS.to_vec()
            } else {
                hooks
            };
            // The scripts call this very binary by absolute path (falling back to `synod` on
            // PATH if it moves).
            let synod = std::env::current_exe()
                .and_then(|p| p.canonicalize())
                .unwrap_or_else(|_| PathBuf::from("synod"));
            hooks::install(&repo, &hooks, &InstallOptions { synod }).await
        }
        HooksCommand::Uninstall { repo, hooks } => {
            let repo = repo.unwrap_or_else(|| PathBuf::from("."));
            let hooks = if hooks.is_empty() {
                HookName::ALL.to_vec()
            } else {
                hooks
            };
            hooks::uninstall(&repo, &hooks).await
        }
    };
    match result {
        Ok(changes) => {
            for change in changes {
                out(&format!("{change}\n"));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, verbose),
    }
}

async fn push_hook(side: Side, config: &ConfigArg, limit: &LimitArg, verbose: bool) -> ExitCode {
    let policy = match load_config(config, Path::new(".")) {
        Ok(p) => p,
        Err(e) => return fail(&e, verbose),
    };
    let max_bytes = limit.resolve(&policy);
    let input = match read_stdin_limited(max_bytes) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return fail(&e, verbose),
    };
    let parsed = match side {
        Side::Server => receive::parse_updates(&input),
        Side::Client => receive::parse_pre_push(&input),
    };
    let updates = match parsed {
        Ok(u) => u,
        Err(e) => return fail(&e, verbose),
    };
    let checked = receive::check_push(
        Path::new("."),
        &updates,
        &policy.push,
        &policy.commit,
        side,
        max_bytes,
    )
    .await;
    match checked {
        Ok(report) => {
            if report.accepted() {
                ExitCode::SUCCESS
            } else {
                eprint!("{}", report.to_human());
                ExitCode::from(1)
            }
        }
        Err(e) => fail(&e, verbose),
    }
}

pub(crate) async fn run_hook(cmd: HookCommand, verbose: bool) -> ExitCode {
    match cmd {
        HookCommand::CommitMsg {
            file,
            config,
            limit,
        } => {
            let (report, source) = match check_message(&file, &config, &limit, verbose).await {
                Ok(r) => r,
                Err(code) => return code,
            };
            if !report.violations.is_empty() {
                eprint!("{}", report.to_human(&source));
            }
            if !report.passed() {
                eprintln!(
                    "synod: commit message rejected (fix it, or bypass once with `git commit --no-verify`)"
                );
            }
            verdict(&report)
        }
        HookCommand::PreCommit { config } => {
            let policy = match load_config(&config, Path::new(".")) {
                Ok(p) => p,
                Err(e) => return fail(&e, verbose),
            };
            if policy.checks.checks.is_empty() {
                return ExitCode::SUCCESS;
            }
            let staged = match checks::staged_files(Path::new(".")).await {
                Ok(s) => s,
                Err(e) => return fail(&e, verbose),
            };
            let report = checks::run_checks(Path::new("."), &policy.checks, &staged).await;
            eprint!("{}", report.to_human());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "synod: pre-commit checks failed (bypass once with `git commit --no-verify`)"
                );
                ExitCode::from(1)
            }
        }
        HookCommand::PrePush { config, limit, .. } => {
            push_hook(Side::Client, &config, &limit, verbose).await
        }
        HookCommand::PreReceive { config, limit } => {
            push_hook(Side::Server, &config, &limit, verbose).await
        }
    }
}
