//! synod-agents: adapters that understand the real agent CLIs — `claude` (Claude Code),
//! `gemini` (Gemini CLI) and `codex` (OpenAI Codex CLI) — and a generic one for anything
//! else.
//!
//! Through the facade this crate is `synod::agents` (`synod = { version = "0.1", features = ["agents"] }`);
//! the examples here use its own name, `synod_agents::…`, which `synod::agents::…` replaces one for one.
//!
//! A [`Preset`] knows, for its CLI:
//!
//! - **how to run it headlessly** ([`Preset::invocation`]): default arguments, whether the
//!   prompt goes to standard input or an argument, and the environment (and settings file)
//!   that turns the CLI's own retries off, so that synod's retry policy, budget and breakers
//!   are the one retry owner;
//! - **how to read a successful run** ([`Preset::parse_success`]): the model's answer text out
//!   of the CLI's JSON envelope (claude `--output-format json|stream-json`, gemini
//!   `--output-format json|stream-json`, codex `exec --json`), its session id, model, token
//!   [`Usage`] and cost in USD where the CLI reports them — or a [`Failure`] when the CLI
//!   reported an error although it exited 0 (claude's `is_error: true`);
//! - **how to read a failed run** ([`Preset::parse_failure`], [`Preset::classify`]): an
//!   [`ErrorClass`] and a one-line cause taken from the CLI's structured error (claude
//!   `api_error_status`, gemini `error.code`/`status`, codex `turn.failed`), never from a
//!   banner (`OpenAI Codex v0.171.0`) or a stack frame (`at …/bundle/chunk-XXXX.js:12:3`).
//!
//! Classes: HTTP 401/403, an invalid key, a model that does not exist, any other 4xx →
//! [`ErrorClass::Permanent`]; 429 and quota errors → [`ErrorClass::RateLimited`] with the
//! wait the CLI relayed (claude stream-json `rate_limit_event.resetsAt`, gemini
//! `RetryInfo.retryDelay`, "retry after N" / "try again in Ns" in a message), or `None` when
//! none was stated (the caller applies its own floor); 5xx, 529, "overloaded", network
//! errors, timeouts → [`ErrorClass::Transient`].
//!
//! The parsers are pure (no I/O, no clock except [`Preset::parse_success`]'s reading of the
//! current time for `resetsAt`; the `_at` variants take it), linear in the size of the
//! output, and never panic (property-tested on arbitrary input).
//!
//! ```
//! use synod_agents::{Preset, PromptVia};
//! use synod_core::ErrorClass;
//!
//! let preset = Preset::infer("/usr/local/bin/claude");
//! assert_eq!(preset, Preset::Claude);
//! let run = preset.invocation();
//! assert_eq!(run.args, ["-p", "--output-format", "json"]);
//! assert_eq!(run.prompt_via, PromptVia::Stdin);
//! assert!(run.env.contains(&("CLAUDE_CODE_MAX_RETRIES".to_owned(), "0".to_owned())));
//!
//! // claude --output-format json: the answer is inside the envelope.
//! let stdout = r#"{"type":"result","subtype":"success","is_error":false,
//!   "result":"{\"verdict\": \"approve\"}","session_id":"4f1c","total_cost_usd":0.0021,
//!   "usage":{"input_tokens":120,"cache_read_input_tokens":30,"output_tokens":9},
//!   "modelUsage":{"claude-sonnet-4-5":{"outputTokens":9}}}"#;
//! let reply = preset.parse_success(&stdout.replace('\n', ""), "").unwrap();
//! assert_eq!(reply.extract().unwrap()["verdict"], "approve");
//! assert_eq!(reply.session_id.as_deref(), Some("4f1c"));
//! assert_eq!(reply.model.as_deref(), Some("claude-sonnet-4-5"));
//! assert_eq!(reply.usage.unwrap().input_tokens, 150);
//!
//! // An API error reported with exit code 0 is a failure all the same.
//! let stdout = r#"{"type":"result","is_error":true,"api_error_status":401,"result":"Invalid API key · Fix external API key"}"#;
//! let failure = preset.parse_success(stdout, "").unwrap_err();
//! assert_eq!(failure.class, ErrorClass::Permanent);
//! assert_eq!(failure.cause, "claude: API error 401: Invalid API key · Fix external API key");
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use synod_consensus::{ExtractError, ExtractOptions};
use synod_core::{Classify, ErrorClass};

mod claude;
mod codex;
mod gemini;
mod generic;
mod text;

/// Token counts of one run; defined in synod-core so the store and reports share it.
pub use synod_core::Usage;
pub use text::one_line;

/// Which agent CLI a command runs, and so how it is invoked and its output read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Preset {
    /// Claude Code (`claude`, npm `@anthropic-ai/claude-code`).
    Claude,
    /// Gemini CLI (`gemini`, npm `@google/gemini-cli`).
    Gemini,
    /// OpenAI Codex CLI (`codex`, npm `@openai/codex`).
    Codex,
    /// Any other program: its standard output is the answer text, failures are classified
    /// from its output by synod-exec's default rules.
    #[default]
    Generic,
}

/// How the prompt reaches the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PromptVia {
    /// Written to its standard input.
    Stdin,
    /// Passed as its last argument.
    Arg,
}

/// A settings file a preset needs next to its environment: write `contents` to a file named
/// `file_name` in a directory that only the current user can write to (gemini ignores a
/// settings file under a group- or world-writable directory such as `/tmp`), and set the
/// environment variable `env` to its path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettingsFile {
    /// The environment variable that names the file.
    pub env: &'static str,
    /// A file name for it.
    pub file_name: &'static str,
    /// Its contents.
    pub contents: &'static str,
}

/// How a preset runs its CLI headlessly. Every part is a default the caller may override.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invocation {
    /// The preset this invocation is for.
    pub preset: Preset,
    /// Arguments after the program.
    pub args: Vec<String>,
    /// How the prompt is delivered.
    pub prompt_via: PromptVia,
    /// Environment variables to set (the CLI's own retries turned off).
    pub env: Vec<(String, String)>,
    /// A settings file to write and point an environment variable at (gemini).
    pub settings_file: Option<SettingsFile>,
    /// How this invocation makes synod the one retry owner, for docs and `doctor` output.
    pub retries: &'static str,
}

impl Invocation {
    /// This invocation with the arguments that ask the CLI to answer in the shape of a JSON
    /// Schema, where the CLI supports it: claude `--json-schema <schema>` (its answer is then
    /// the result's `structured_output`), codex `--output-schema <schema_file>` (inserted
    /// before the prompt argument `-`; the caller writes `schema_json` to `schema_file`).
    /// gemini and generic CLIs take no schema: the answer is validated after the fact.
    ///
    /// ```
    /// use std::path::Path;
    /// use synod_agents::Preset;
    ///
    /// let schema = r#"{"type":"object","required":["verdict"]}"#;
    /// let codex = Preset::Codex.invocation().with_schema(schema, Path::new("/run/s.json"));
    /// assert_eq!(codex.args, ["exec", "--json", "--skip-git-repo-check", "--output-schema", "/run/s.json", "-"]);
    /// let claude = Preset::Claude.invocation().with_schema(schema, Path::new("/run/s.json"));
    /// assert_eq!(claude.args[3..], ["--json-schema", schema]);
    /// ```
    #[must_use]
    pub fn with_schema(mut self, schema_json: &str, schema_file: &std::path::Path) -> Self {
        match self.preset {
            Preset::Claude => {
                self.args.push("--json-schema".to_owned());
                self.args.push(schema_json.to_owned());
            }
            Preset::Codex => {
                let at = if self.args.last().is_some_and(|a| a == "-") {
                    self.args.len() - 1
                } else {
                    self.args.len()
                };
                self.args.splice(
                    at..at,
                    [
                        "--output-schema".to_owned(),
                        schema_file.display().to_string(),
                    ],
                );
            }
            Preset::Gemini | Preset::Generic => {}
        }
        self
    }

    /// Whether the CLI is given the schema by [`Invocation::with_schema`].
    #[must_use]
    pub fn takes_schema(&self) -> bool {
        matches!(self.preset, Preset::Claude | Preset::Codex)
    }

    /// Writes the settings file (if the preset has one) into `dir` and returns the
    /// environment variables to set: the preset's [`Invocation::env`] and the variable that
    /// names the file. `dir` and every directory above it must be writable by its owner
    /// only (gemini skips a settings file under a directory such as `/tmp`), for example a
    /// directory under the user's home or synod's data directory.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("synod-agents-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// use synod_agents::Preset;
    ///
    /// let env = Preset::Gemini.invocation().write_settings(&dir)?;
    /// let (name, path) = &env[0];
    /// assert_eq!(name, "GEMINI_CLI_SYSTEM_SETTINGS_PATH");
    /// assert!(std::fs::read_to_string(path)?.contains("\"maxAttempts\": 1"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_settings(&self, dir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
        let mut env = self.env.clone();
        if let Some(file) = &self.settings_file {
            let path = dir.join(file.file_name);
            std::fs::write(&path, file.contents)?;
            env.push((file.env.to_owned(), path.display().to_string()));
        }
        Ok(env)
    }
}

/// What a successful run said: the model's answer text and what the CLI reported about it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reply {
    /// The model's answer, as text (the JSON answer is extracted from it by [`Reply::extract`]).
    pub answer: String,
    /// The CLI's session (claude, gemini) or thread (codex) id.
    pub session_id: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Tokens used, when the CLI reports them.
    pub usage: Option<Usage>,
    /// Cost in USD, when the CLI reports it (claude).
    pub cost_usd: Option<f64>,
}

impl Reply {
    /// A reply with only an answer.
    #[must_use]
    pub fn text(answer: impl Into<String>) -> Self {
        Self {
            answer: answer.into(),
            ..Self::default()
        }
    }

    /// The JSON answer in [`Reply::answer`] (synod-consensus's extraction with its CLI
    /// defaults: fenced block, else the last balanced object; banners and ANSI removed).
    pub fn extract(&self) -> Result<Value, ExtractError> {
        static OPTIONS: std::sync::LazyLock<ExtractOptions> =
            std::sync::LazyLock::new(ExtractOptions::cli_defaults);
        synod_consensus::extract_json_with(&self.answer, &OPTIONS)
    }
}

/// A failed run: how to treat it, and why, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Failure {
    /// Permanent, rate-limited (with the stated wait, if any) or transient.
    pub class: ErrorClass,
    /// What went wrong, one line, from the CLI's structured error where it has one.
    pub cause: String,
}

impl Failure {
    /// A failure of `class` with `cause` (made one line, at most 500 characters).
    #[must_use]
    pub fn new(class: ErrorClass, cause: impl AsRef<str>) -> Self {
        Self {
            class,
            cause: one_line(cause.as_ref()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.cause, self.class)
    }
}

impl std::error::Error for Failure {}

impl Classify for Failure {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A preset name that is none of the known ones.
    #[error(
        "unknown agent preset `{name}`: use one of \"claude\", \"gemini\", \"codex\" or \"generic\""
    )]
    UnknownPreset {
        /// The name as given.
        name: String,
    },
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

impl FromStr for Preset {
    type Err = Error;

    /// `"claude"`, `"gemini"`, `"codex"` or `"generic"` (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Error> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownPreset { name: s.to_owned() })
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 4] = [
        Preset::Claude,
        Preset::Gemini,
        Preset::Codex,
        Preset::Generic,
    ];

    /// Its config name: `claude`, `gemini`, `codex` or `generic`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Preset::Claude => "claude",
            Preset::Gemini => "gemini",
            Preset::Codex => "codex",
            Preset::Generic => "generic",
        }
    }

    /// The CLI's program name, to look for on `PATH` (`synod init`, `synod doctor`); `None`
    /// for the generic preset.
    #[must_use]
    pub fn program(self) -> Option<&'static str> {
        match self {
            Preset::Generic => None,
            other => Some(other.name()),
        }
    }

    /// The version in the output of `<program> --version`: the first `N.N[.N…]` token
    /// (`2.1.332 (Claude Code)`, `0.61.0`, `codex-cli 0.171.0`).
    ///
    /// ```
    /// use synod_agents::Preset;
    /// assert_eq!(Preset::version("2.1.332 (Claude Code)\n"), Some("2.1.332"));
    /// assert_eq!(Preset::version("codex-cli 0.171.0"), Some("0.171.0"));
    /// assert_eq!(Preset::version("v0.61.0-nightly"), Some("0.61.0-nightly"));
    /// assert_eq!(Preset::version("unknown"), None);
    /// ```
    #[must_use]
    pub fn version(output: &str) -> Option<&str> {
        output
            .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ','))
            .map(|word| word.strip_prefix(['v', 'V']).unwrap_or(word))
            .find(|word| {
                let mut parts = word.split('.');
                let numeric = |p: Option<&str>| {
                    p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                };
                numeric(parts.next())
                    && parts
                        .next()
                        .map(|p| p.split(['-', '+']).next())
                        .is_some_and(numeric)
            })
    }

    /// The preset for a program, from its file name: `claude`, `/usr/bin/gemini`,
    /// `C:\npm\codex.cmd` (ASCII case-insensitive, without `.cmd`, `.exe`, `.bat`, `.ps1`,
    /// `.js`); anything else is [`Preset::Generic`].
    ///
    /// ```
    /// use synod_agents::Preset;
    /// assert_eq!(Preset::infer("claude"), Preset::Claude);
    /// assert_eq!(Preset::infer("/usr/bin/gemini"), Preset::Gemini);
    /// assert_eq!(Preset::infer(r"C:\Users\me\AppData\Roaming\npm\codex.cmd"), Preset::Codex);
    /// assert_eq!(Preset::infer("./my-agent.sh"), Preset::Generic);
    /// ```
    #[must_use]
    pub fn infer(program: &str) -> Preset {
        let file = program.rsplit(['/', '\\']).next().unwrap_or(program);
        let lower = file.to_ascii_lowercase();
        let stem = [".cmd", ".exe", ".bat", ".ps1", ".js"]
            .iter()
            .find_map(|ext| lower.strip_suffix(ext))
            .unwrap_or(&lower);
        match stem {
            "claude" => Preset::Claude,
            "gemini" => Preset::Gemini,
            "codex" => Preset::Codex,
            _ => Preset::Generic,
        }
    }

    /// The headless invocation defaults of this CLI (see each preset's retry notes in
    /// [`Invocation::retries`]):
    ///
    /// | preset | args | prompt | retries off |
    /// | --- | --- | --- | --- |
    /// | claude | `-p --output-format json` | stdin | `CLAUDE_CODE_MAX_RETRIES=0` |
    /// | gemini | `--skip-trust --output-format json` | stdin (no TTY: headless) | settings `general.maxAttempts = 1` via `GEMINI_CLI_SYSTEM_SETTINGS_PATH` |
    /// | codex | `exec --json --skip-git-repo-check -` | stdin (`-`) | per provider, see below |
    /// | generic | none | stdin | — |
    ///
    /// codex reads its retry settings (`request_max_retries`, `stream_max_retries`) per
    /// model provider, and refuses any `model_providers.openai.*` setting ("Built-in
    /// providers cannot be overridden"), so no default argument can turn the built-in
    /// provider's retries off. With a custom provider (`model_provider = "X"`, as for a
    /// gateway or a local model), set both to `0` in its `[model_providers.X]` table, or add
    /// [`codex_retry_overrides`]`("X")` to the arguments.
    #[must_use]
    pub fn invocation(self) -> Invocation {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match self {
            Preset::Claude => Invocation {
                preset: self,
                args: owned(&["-p", "--output-format", "json"]),
                prompt_via: PromptVia::Stdin,
                env: vec![("CLAUDE_CODE_MAX_RETRIES".to_owned(), "0".to_owned())],
                settings_file: None,
                retries: "CLAUDE_CODE_MAX_RETRIES=0: claude makes one API request per turn \
                          (its default retries even a 401 for minutes)",
            },
            Preset::Gemini => Invocation {
                preset: self,
                args: owned(&["--skip-trust", "--output-format", "json"]),
                prompt_via: PromptVia::Stdin,
                env: Vec::new(),
                settings_file: Some(SettingsFile {
                    env: "GEMINI_CLI_SYSTEM_SETTINGS_PATH",
                    file_name: "gemini-system-settings.json",
                    contents: "{\"general\": {\"maxAttempts\": 1}}\n",
                }),
                retries: "general.maxAttempts = 1 in a system settings file \
                          (GEMINI_CLI_SYSTEM_SETTINGS_PATH, which overrides the user's \
                          settings and keeps their authentication): one attempt per chat \
                          request; gemini's model-router call (model `auto`) still retries \
                          429/503 on its own — pass `-m MODEL` to skip the router",
            },
            Preset::Codex => Invocation {
                preset: self,
                args: owned(&["exec", "--json", "--skip-git-repo-check", "-"]),
                prompt_via: PromptVia::Stdin,
                env: Vec::new(),
                settings_file: None,
                retries: "request_max_retries = 0 and stream_max_retries = 0 belong to a model \
                          provider: set them in your provider's table in \
                          $CODEX_HOME/config.toml or add codex_retry_overrides(<id>) to the \
                          arguments; codex refuses any override of its built-in `openai` \
                          provider, which keeps its own retries (4 requests, 5 streams)",
            },
            Preset::Generic => Invocation {
                preset: self,
                args: Vec::new(),
                prompt_via: PromptVia::Stdin,
                env: Vec::new(),
                settings_file: None,
                retries: "none: the program's own retry behaviour is unknown",
            },
        }
    }

    /// What a run that exited successfully said: the [`Reply`], or the [`Failure`] the CLI
    /// reported in its output (claude `is_error: true`, gemini's `error` object or
    /// stream-json `status: "error"`, codex `turn.failed` without a later completed turn).
    /// Output that is no envelope of the CLI (its text mode) is the answer text as it is.
    pub fn parse_success(self, stdout: &str, stderr: &str) -> Result<Reply, Failure> {
        self.parse_success_at(stdout, stderr, SystemTime::now())
    }

    /// [`Preset::parse_success`] with `now` for turning an absolute reset time into a wait.
    pub fn parse_success_at(
        self,
        stdout: &str,
        stderr: &str,
        now: SystemTime,
    ) -> Result<Reply, Failure> {
        match self {
            Preset::Claude => claude::parse_success(stdout, now),
            Preset::Gemini => gemini::parse_success(stdout, stderr),
            Preset::Codex => codex::parse_success(stdout),
            Preset::Generic => Ok(Reply::text(stdout)),
        }
    }

    /// What the CLI reported about a run whatever its outcome: session id, model, usage and
    /// cost (a claude `is_error` envelope still names its session and cost), with an empty
    /// [`Reply::answer`]. For a failed run's evidence; a successful one has them in its
    /// [`Reply`] already. Empty when the output reports nothing (text mode, a crash).
    ///
    /// ```
    /// use synod_agents::Preset;
    ///
    /// // One line, as claude prints it.
    /// let failed = concat!(
    ///     r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"#,
    ///     r#""result":"Invalid API key","session_id":"s-1","total_cost_usd":0,"#,
    ///     r#""usage":{"input_tokens":0,"output_tokens":0}}"#
    /// );
    /// assert!(Preset::Claude.parse_success(failed, "").is_err());
    /// let reported = Preset::Claude.reported(failed, "");
    /// assert_eq!(reported.session_id.as_deref(), Some("s-1"));
    /// assert_eq!(reported.cost_usd, Some(0.0));
    /// assert!(Preset::Generic.reported("plain text", "").usage.is_none());
    /// ```
    #[must_use]
    pub fn reported(self, stdout: &str, stderr: &str) -> Reply {
        match self {
            Preset::Claude => claude::reported(stdout),
            Preset::Generic => Reply::default(),
            Preset::Gemini | Preset::Codex => self
                .parse_success(stdout, stderr)
                .map(|reply| Reply {
                    answer: String::new(),
                    ..reply
                })
                .unwrap_or_default(),
        }
    }

    /// Why a run failed (non-zero `exit_code`, or `None` when it had none: killed, timed
    /// out): class and one-line cause from the CLI's structured error where there is one,
    /// else from its output's last meaningful line (banners, stack frames and warnings
    /// skipped), classified by synod-exec's default rules.
    #[must_use]
    pub fn parse_failure(self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Failure {
        self.parse_failure_at(stdout, stderr, exit_code, SystemTime::now())
    }

    /// [`Preset::parse_failure`] with `now` for turning an absolute reset time into a wait.
    #[must_use]
    pub fn parse_failure_at(
        self,
        stdout: &str,
        stderr: &str,
        exit_code: Option<i32>,
        now: SystemTime,
    ) -> Failure {
        let structured = match self {
            Preset::Claude => claude::parse_failure(stdout, now),
            Preset::Gemini => gemini::parse_failure(stdout, stderr, exit_code),
            Preset::Codex => codex::parse_failure(stdout, stderr),
            Preset::Generic => None,
        };
        structured.unwrap_or_else(|| generic::parse_failure(self, stdout, stderr, exit_code))
    }

    /// The class and cause of a failed attempt as synod-exec reports it: for a non-zero exit
    /// (and a timeout's partial output) [`Preset::parse_failure`] over the child's output;
    /// otherwise the error's own class and message (a missing program, a timeout, ...).
    /// A timeout stays transient whatever the partial output says.
    #[must_use]
    pub fn classify(self, error: &synod_exec::Error) -> Failure {
        match error {
            synod_exec::Error::NonZeroExit { code, output, .. } => {
                self.parse_failure(&output.stdout_lossy(), &output.stderr_lossy(), Some(*code))
            }
            _ => Failure::new(error.class(), error.to_string()),
        }
    }
}

/// The `-c` overrides that turn codex's own retries off for the model provider `provider_id`
/// (`openai` is the built-in one): `request_max_retries = 0`, `stream_max_retries = 0`.
///
/// ```
/// assert_eq!(
///     synod_agents::codex_retry_overrides("local"),
///     ["-c", "model_providers.local.request_max_retries=0",
///      "-c", "model_providers.local.stream_max_retries=0"]
/// );
/// ```
#[must_use]
pub fn codex_retry_overrides(provider_id: &str) -> Vec<String> {
    vec![
        "-c".to_owned(),
        format!("model_providers.{provider_id}.request_max_retries=0"),
        "-c".to_owned(),
        format!("model_providers.{provider_id}.stream_max_retries=0"),
    ]
}
