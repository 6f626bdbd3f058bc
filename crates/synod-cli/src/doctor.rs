//! `synod doctor [--config F] [--offline]`: checks each configured agent — its program is
//! found (and where), the script a generic program is given exists in the agent's working
//! directory, its version answers, and (unless `--offline`) a tiny authenticated
//! call succeeds, read and classified by the agent's preset — printing one line per check
//! and one fix per problem.
//!
//! Exit codes: 0 every check passed, 1 a problem was found, 2 the config is bad.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use synod::agents::Preset;
use synod::core::{ErrorClass, HumanDuration};
use synod::orchestrator::Plan;

use crate::common::{ConfigArgs, Failure, finish, outln};
use crate::init::{find_on_path, is_executable};

/// The prompt of the authenticated call: as cheap as a model call gets.
const PROBE_PROMPT: &str = "Reply with the single word OK.";

/// Arguments of `synod doctor`.
#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Skip the authenticated call (no model request, no network).
    #[arg(long)]
    offline: bool,
    /// Time limit of `--version`.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    version_timeout: HumanDuration,
    /// Time limit of the authenticated call.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    call_timeout: HumanDuration,
}

pub(crate) async fn run(args: DoctorArgs, verbose: bool) -> ExitCode {
    finish(run_inner(&args).await, verbose)
}

/// What one agent's checks found: problems counted.
#[derive(Default)]
struct Tally {
    problems: usize,
}

impl Tally {
    fn ok(&self, agent: &str, check: &str, what: &str) {
        outln!("ok    {agent}: {check}: {what}");
    }

    fn skip(&self, agent: &str, check: &str, why: &str) {
        outln!("skip  {agent}: {check}: {why}");
    }

    fn problem(&mut self, agent: &str, check: &str, what: &str, fix: &str) {
        self.problems += 1;
        outln!("FAIL  {agent}: {check}: {what}");
        outln!("      fix: {fix}");
    }
}

async fn run_inner(args: &DoctorArgs) -> Result<ExitCode, Failure> {
    for (flag, limit) in [
        ("--version-timeout", args.version_timeout),
        ("--call-timeout", args.call_timeout),
    ] {
        if limit.get().is_zero() {
            return Err(Failure::msg(format!(
                "{flag} {limit} would stop every check before it starts; give a positive duration, e.g. 30s"
            )));
        }
    }
    let loaded = args.config.load()?;
    let plan = loaded
        .plan()
        .map_err(|e| Failure::new("invalid config", e))?;
    if plan.config().agents.is_empty() {
        return Err(Failure::msg(
            "the config defines no agents; run `synod init` or add [[agents]] entries",
        ));
    }
    let mut tally = Tally::default();
    let path_var = std::env::var_os("PATH");
    for (index, agent) in plan.config().agents.iter().enumerate() {
        let name = agent.name.as_str();
        if !agent.enabled {
            tally.skip(name, "agent", "disabled (enabled = false)");
            continue;
        }
        let Some((command, agent_args)) = plan.agent_command(name) else {
            continue;
        };
        let preset = plan.agent_preset(name).unwrap_or_default();
        let Some(program) = locate(command, plan.base_dir(), path_var.as_deref()) else {
            let fix = match install_hint(preset) {
                Some(hint) => format!(
                    "install it ({hint}) or set agents.{index}.command to the program's path"
                ),
                None => format!("install it, or set agents.{index}.command to the program's path"),
            };
            tally.problem(
                name,
                "program",
                &format!("`{command}` not found (PATH, or the path as given)"),
                &fix,
            );
            continue;
        };
        tally.ok(name, "program", &program.display().to_string());
        let cwd = plan.agent_cwd(name).unwrap_or_else(|| plan.base_dir());
        let cwd = std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_path_buf());
        for (arg, script) in script_args(agent_args) {
            let path = cwd.join(script);
            if path.is_file() {
                tally.ok(name, "script", &path.display().to_string());
            } else {
                tally.problem(
                    name,
                    "script",
                    &format!(
                        "`{script}` (agents.{index}.args.{arg}) is not a file in {}",
                        cwd.display()
                    ),
                    &format!(
                        "create it, or correct agents.{index}.args.{arg} (a relative path is read from the agent's working directory, agents.{index}.cwd, by default the config's directory)"
                    ),
                );
            }
        }

        if preset == Preset::Generic {
            tally.skip(
                name,
                "version",
                "a generic program has no known version flag",
            );
        } else {
            check_version(&mut tally, name, &program, args.version_timeout.get()).await;
        }

        if args.offline {
            tally.skip(name, "call", "--offline");
        } else if preset == Preset::Generic {
            tally.skip(
                name,
                "call",
                "no cheap authenticated call is known for a generic program",
            );
        } else {
            check_call(&mut tally, &plan, name, preset, args.call_timeout).await;
        }
    }
    if tally.problems == 0 {
        outln!("all checks passed");
        Ok(ExitCode::SUCCESS)
    } else {
        outln!(
            "{} problem{} found",
            tally.problems,
            if tally.problems == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(1))
    }
}

/// File extensions of the scripts an interpreter is given to run.
const SCRIPT_EXTENSIONS: [&str; 14] = [
    "py", "sh", "bash", "zsh", "js", "mjs", "cjs", "ts", "rb", "pl", "php", "ps1", "lua", "r",
];

/// The arguments (index, text) that name a script to run: a word with a script's extension,
/// not an option, no placeholder, no whitespace, and not the code of `-c` (alone or ending a
/// cluster such as `-lc`), `-e` or `-m`.
fn script_args(args: &[String]) -> Vec<(usize, &str)> {
    let code_flags = ["-e", "--eval", "-m", "--command"];
    args.iter()
        .enumerate()
        .filter(|&(i, arg)| {
            let after_code_flag = i > 0 && {
                let flag = args[i - 1].as_str();
                // `-c` and clusters that end in it (`bash -lc CODE`, `sh -ec CODE`).
                let cluster = flag.strip_prefix('-').is_some_and(|letters| {
                    letters.ends_with('c') && letters.bytes().all(|b| b.is_ascii_alphabetic())
                });
                code_flags.contains(&flag) || cluster
            };
            let extension = Path::new(arg)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            !after_code_flag
                && !arg.starts_with('-')
                && !arg.contains('{')
                && !arg.contains(char::is_whitespace)
                && extension.is_some_and(|e| SCRIPT_EXTENSIONS.contains(&e.as_str()))
        })
        .map(|(i, arg)| (i, arg.as_str()))
        .collect()
}

/// Where `command` is: a path (relative to the config's directory) when it has a separator,
/// else the first match on `PATH`.
fn locate(command: &str, base_dir: &Path, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if command.contains('/') || command.contains(std::path::MAIN_SEPARATOR) {
        let path = Path::new(command);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        };
        return is_executable(&path).then_some(path);
    }
    find_on_path(command, path_var)
}

/// `<program> --version`, with a short time limit, through synod-exec.
async fn check_version(tally: &mut Tally, name: &str, program: &Path, timeout: Duration) {
    let cmd = synod::exec::AgentCommand::new(program)
        .arg("--version")
        .timeout(timeout)
        .kill_grace(Duration::from_secs(1));
    match synod::exec::run(&cmd).await {
        Ok(out) => {
            let text = out.stdout_lossy();
            match Preset::version(&text) {
                Some(version) => tally.ok(name, "version", version),
                None => tally.ok(
                    name,
                    "version",
                    &format!("answered, without a version number: {}", first_line(&text)),
                ),
            }
        }
        Err(error) => tally.problem(
            name,
            "version",
            &format!(
                "`{} --version` failed: {}",
                program.display(),
                first_line(&error.to_string())
            ),
            &format!(
                "run `{} --version` yourself; reinstall the CLI if it fails",
                program.display()
            ),
        ),
    }
}

/// A tiny prompt through the agent's own command line (preset arguments, environment with
/// the CLI's retries off), read and classified by its preset.
async fn check_call(
    tally: &mut Tally,
    plan: &Plan,
    name: &str,
    preset: Preset,
    timeout: HumanDuration,
) {
    let Some(cmd) = plan.probe_command(name, PROBE_PROMPT) else {
        return;
    };
    let cmd = cmd
        .timeout(timeout.get())
        .kill_grace(Duration::from_secs(2));
    let failure = match synod::exec::run(&cmd).await {
        Ok(out) => match preset.parse_success(&out.stdout_lossy(), &out.stderr_lossy()) {
            Ok(reply) => {
                let model = reply
                    .model
                    .map_or_else(String::new, |m| format!(" (model {m})"));
                tally.ok(name, "call", &format!("authenticated call answered{model}"));
                return;
            }
            Err(failure) => failure,
        },
        Err(error) => preset.classify(&error),
    };
    let redacted = plan.redactor().redact(&failure.cause).into_owned();
    tally.problem(
        name,
        "call",
        &format!("{redacted} ({})", failure.class),
        &fix_for(preset, failure.class, &failure.cause, timeout),
    );
}

/// One fix for a failed authenticated call.
fn fix_for(preset: Preset, class: ErrorClass, cause: &str, timeout: HumanDuration) -> String {
    let lower = cause.to_ascii_lowercase();
    let auth = [
        "401",
        "403",
        "auth",
        "api key",
        "api_key",
        "x-api-key",
        "login",
        "credential",
        "unauthorized",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if auth {
        return match preset {
            Preset::Claude => "set ANTHROPIC_API_KEY (in the environment or the agent's env) or run `claude login`".to_owned(),
            Preset::Gemini => "set GEMINI_API_KEY (in the environment or the agent's env) or run `gemini` once to log in".to_owned(),
            Preset::Codex => "set OPENAI_API_KEY (in the environment or the agent's env) or run `codex login`".to_owned(),
            _ => "give the program its credentials".to_owned(),
        };
    }
    match class {
        ErrorClass::RateLimited { .. } => {
            "the account is rate-limited or out of quota: wait, or check its plan and usage".to_owned()
        }
        _ if lower.contains("timed out") || lower.contains("timeout") => format!(
            "no answer within {}: check the network and any base URL set for the CLI, or pass a longer --call-timeout",
            timeout
        ),
        ErrorClass::Transient => {
            "a transient failure (network, overload): run `synod doctor` again; if it persists, check the network and the vendor's status page".to_owned()
        }
        _ => "run the CLI by hand with the same arguments to see the whole error; `synod run` would fail the same way".to_owned(),
    }
}

fn install_hint(preset: Preset) -> Option<&'static str> {
    match preset {
        Preset::Claude => Some("npm install -g @anthropic-ai/claude-code"),
        Preset::Gemini => Some("npm install -g @google/gemini-cli"),
        Preset::Codex => Some("npm install -g @openai/codex"),
        _ => None,
    }
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::script_args;

    #[test]
    fn only_words_that_name_a_script_are_checked() {
        let args: Vec<String> = [
            "agent.py",        // 0: a script
            "-m",              // 1
            "pkg.py",          // 2: a module name after -m
            "--eval",          // 3
            "main.js",         // 4: code after --eval
            "{prompt}.py",     // 5: a placeholder
            "my agent.sh",     // 6: whitespace: shell code, not a path
            "README",          // 7: no extension
            "tools/Run.SH",    // 8: a script, any case
            "--config=x.toml", // 9: an option
            "data.json",       // 10: not a script
            "-lc",             // 11
            "run.sh",          // 12: code after a cluster ending in c (`bash -lc`)
            "-lx",             // 13
            "setup.sh",        // 14: a script after other options
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            script_args(&args),
            [(0, "agent.py"), (8, "tools/Run.SH"), (14, "setup.sh")]
        );
    }
}
