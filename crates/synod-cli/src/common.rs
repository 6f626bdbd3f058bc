//! Shared plumbing for the orchestrator subcommands: config and store arguments, loading,
//! and one-line error reporting.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use synod::orchestrator::{HumanDuration, LoadedConfig};

/// `println!` that ignores a closed stdout (`synod history X | head` must not panic).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use outln;

/// `eprintln!` that ignores a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use errln;
use synod::store::{AnyStore, Store};

/// Logs to stderr when `RUST_LOG` is set (e.g. `RUST_LOG=synod=debug,synod_exec=debug`);
/// silent otherwise.
pub(crate) fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Where the config (and through it, the store) comes from.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConfigArgs {
    /// Config file (default: ./synod.toml when it exists, else built-in defaults); `-` reads
    /// TOML from standard input.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Override one config value, e.g. `--set store.path=/tmp/x.db` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
    /// Evidence store: a SQLite file (overrides `store.path`) or a PostgreSQL server,
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (overrides `store.url`).
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) store: Option<String>,
    /// How long a write waits for a store locked by other synod processes, e.g. `2m`
    /// (overrides `store.busy_timeout`, default 60s).
    #[arg(long, value_name = "DURATION")]
    pub(crate) busy_timeout: Option<HumanDuration>,
}

impl ConfigArgs {
    /// Loads and validates the config these arguments name.
    pub(crate) fn load(&self) -> Result<LoadedConfig, Failure> {
        let path = match &self.config {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from("synod.toml")).filter(|p| p.is_file()),
        };
        let mut overrides = Vec::with_capacity(self.set.len() + 1);
        for item in &self.set {
            let Some((key, value)) = item.split_once('=') else {
                return Err(Failure::msg(format!(
                    "--set {item:?}: write KEY=VALUE, e.g. --set agents.0.timeout=30s"
                )));
            };
            overrides.push((key.trim().to_owned(), value.to_owned()));
        }
        if let Some(store) = &self.store {
            if synod::store::is_postgres_url(store) {
                overrides.push(("store.url".to_owned(), store.clone()));
            } else {
                // A file named on the command line wins over a configured server.
                overrides.push(("store.path".to_owned(), store.clone()));
                overrides.push(("store.url".to_owned(), String::new()));
            }
        }
        if let Some(timeout) = self.busy_timeout {
            overrides.push(("store.busy_timeout".to_owned(), timeout.to_string()));
        }
        let loaded = match path.as_deref() {
            Some(stdin) if stdin.as_os_str() == "-" => {
                let text = read_text(
                    stdin,
                    "the config file",
                    MAX_CONFIG_TEXT,
                    "no config is that long: is it the right input?",
                )?;
                LoadedConfig::load_text("<stdin>", &text, &overrides)
            }
            path => LoadedConfig::load(path, &overrides),
        };
        let loaded = loaded.map_err(|e| {
            let missing = matches!(
                e,
                synod::orchestrator::Error::Config(synod::config::Error::MissingFile { .. })
            );
            let context = if missing {
                "cannot load the config (`synod init` writes a starter synod.toml)"
            } else {
                "cannot load the config"
            };
            Failure::new(context, e)
        })?;
        for warning in loaded.warnings() {
            errln!("warning: {warning}");
        }
        Ok(loaded)
    }
}

/// Opens the existing SQLite store of a loaded config read-only (reading commands never
/// create, migrate or write one; they work on a read-only file or directory and on a store
/// marked damaged).
pub(crate) fn read_only_store(loaded: LoadedConfig) -> Result<(LoadedConfig, Store), Failure> {
    let path = existing_store(&loaded)?;
    let store = Store::open_read_only(&path, store_options(&loaded))
        .map_err(|e| Failure::new(format!("cannot open the store {}", path.display()), e))?;
    Ok((loaded, store))
}

/// Opens the existing store of a loaded config for writing (maintenance never creates one),
/// refusing a read-only or damaged store.
pub(crate) fn writable_store(loaded: LoadedConfig) -> Result<(LoadedConfig, Store), Failure> {
    existing_store(&loaded)?;
    let store = open_store(&loaded)?;
    Ok((loaded, store))
}

/// The largest prompt file read: far past any agent's context window, small enough to hold.
const MAX_PROMPT_FILE: u64 = 16 * 1024 * 1024;

/// The largest config read from standard input: far past any real `synod.toml`.
const MAX_CONFIG_TEXT: u64 = 16 * 1024 * 1024;

/// Reads UTF-8 text from `path` (`-`: standard input), at most `limit` bytes; `what` names
/// a file in errors ("the prompt file"), `too_long` says why past `limit` is refused.
fn read_text(path: &Path, what: &str, limit: u64, too_long: &str) -> Result<String, Failure> {
    use std::io::Read as _;
    let stdin = path.as_os_str() == "-";
    let shown = if stdin {
        "standard input".to_owned()
    } else {
        format!("{what} {}", path.display())
    };
    let mut bytes = Vec::new();
    let read = if stdin {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(limit + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| Failure::new(format!("cannot read {shown}"), e))?;
    if bytes.len() as u64 > limit {
        return Err(Failure::msg(format!(
            "{shown} is larger than {} MiB; {too_long}",
            limit / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::msg(format!(
            "{shown} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Refuses a command line on which both the config and the prompt are to come from standard
/// input: the first to read it would leave the other nothing.
pub(crate) fn one_reader_of_stdin(config: &ConfigArgs, prompt: &PromptArgs) -> Result<(), Failure> {
    let config_reads = config
        .config
        .as_deref()
        .is_some_and(|p| p.as_os_str() == "-");
    let prompt_reads = prompt
        .prompt_file
        .as_deref()
        .is_some_and(|p| p.as_os_str() == "-");
    if config_reads && prompt_reads {
        return Err(Failure::msg(
            "--config - and --prompt-file - both read standard input; give one of them a file",
        ));
    }
    Ok(())
}

/// A prompt given on the command line in place of the stage's own: as text, or from a file.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PromptArgs {
    /// Prompt text to use instead of the stage's configured prompt.
    #[arg(long, value_name = "TEXT", conflicts_with = "prompt_file")]
    prompt: Option<String>,
    /// Read that prompt from FILE (`-`: standard input), for text too long or awkward to
    /// quote; UTF-8, at most 16 MiB.
    #[arg(long, value_name = "FILE")]
    prompt_file: Option<PathBuf>,
}

impl PromptArgs {
    /// The prompt given, if any: the text, or the file's contents.
    pub(crate) fn read(&self) -> Result<Option<String>, Failure> {
        if let Some(text) = &self.prompt {
            return Ok(Some(text.clone()));
        }
        let Some(path) = &self.prompt_file else {
            return Ok(None);
        };
        read_text(
            path,
            "the prompt file",
            MAX_PROMPT_FILE,
            "no agent takes a prompt that long",
        )
        .map(Some)
    }
}

/// `text` as one word of a POSIX shell command line: as it is when that is safe, else in
/// single quotes.
pub(crate) fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Where the configured store is: a PostgreSQL server, or a SQLite file.
pub(crate) enum Location {
    /// `store.url` / `--store URL` / `SYNOD_STORE__URL`.
    Server(String),
    /// `store.path` / `--store PATH`.
    File(PathBuf),
}

impl Location {
    pub(crate) fn of(loaded: &LoadedConfig) -> Location {
        match loaded.config.store.server_url() {
            Some(url) => Location::Server(url.to_owned()),
            None => Location::File(loaded.store_path()),
        }
    }

    /// For messages: the file, or the URL with its password hidden.
    pub(crate) fn shown(&self) -> String {
        match self {
            Location::Server(url) => synod::store::redact_url(url),
            Location::File(path) => path.display().to_string(),
        }
    }
}

impl ConfigArgs {
    /// The options a follow-up command needs to read the store this one used (`synod show 3`
    /// after `synod run --store other.db`): `--config`, `--set store.…` and `--store` as given,
    /// shell-quoted, each with a leading space. A server URL is left out: it holds a password.
    pub(crate) fn follow_up(&self) -> String {
        let mut options = String::new();
        if let Some(config) = &self.config {
            options.push_str(" --config ");
            options.push_str(&shell_word(&config.to_string_lossy()));
        }
        for item in &self.set {
            let key = item.split_once('=').map_or("", |(key, _)| key.trim());
            if key.starts_with("store.") && key != "store.url" {
                options.push_str(" --set ");
                options.push_str(&shell_word(item));
            }
        }
        if let Some(store) = self
            .store
            .as_deref()
            .filter(|s| !synod::store::is_postgres_url(s))
        {
            options.push_str(" --store ");
            options.push_str(&shell_word(store));
        }
        options
    }

    /// Loads the config and opens its store for reading through the one async API of both
    /// backends: an existing SQLite file read-only, or the PostgreSQL server (not migrated).
    pub(crate) async fn open_any_read_only(&self) -> Result<(LoadedConfig, AnyStore), Failure> {
        let loaded = self.load()?;
        let location = Location::of(&loaded);
        let target = match &location {
            Location::Server(url) => url.clone(),
            Location::File(_) => existing_store(&loaded)?.display().to_string(),
        };
        let store = AnyStore::open_read_only(&target, store_options(&loaded))
            .await
            .map_err(|e| Failure::new(format!("cannot open the store {}", location.shown()), e))?;
        Ok((loaded, store))
    }
}

/// Opens the configured store for writing through the one async API: the PostgreSQL server
/// (migrating it), or the SQLite file (created if needed).
pub(crate) async fn open_any(loaded: &LoadedConfig) -> Result<AnyStore, Failure> {
    let location = Location::of(loaded);
    let target = match &location {
        Location::Server(url) => url.clone(),
        Location::File(path) => path.display().to_string(),
    };
    AnyStore::open(&target, store_options(loaded))
        .await
        .map_err(|e| Failure::new(format!("cannot open the store {}", location.shown()), e))
}

/// The configured store path, if a store exists there.
fn existing_store(loaded: &LoadedConfig) -> Result<PathBuf, Failure> {
    let path = loaded.store_path();
    if !path.exists() {
        return Err(Failure::msg(format!(
            "no evidence store at {}; `synod run` or `synod submit` creates it (or pass --store PATH / --config FILE)",
            path.display()
        )));
    }
    Ok(path)
}

/// Store options from the config (`store.busy_timeout`).
fn store_options(loaded: &LoadedConfig) -> synod::store::Options {
    synod::store::Options {
        busy_timeout: loaded.config.store.busy_timeout.get(),
        ..synod::store::Options::default()
    }
}

/// Opens (creating if needed, with a 0700 directory and a 0600 file) the configured store
/// for writing. Fails before anything runs if the store is read-only, empty, not a database
/// or marked damaged.
pub(crate) fn open_store(loaded: &LoadedConfig) -> Result<Store, Failure> {
    let path = loaded.store_path();
    Store::open(&path, store_options(loaded))
        .map_err(|e| Failure::new(format!("cannot open the store {}", path.display()), e))
}

/// A command failure: what we were doing, and why.
pub(crate) struct Failure {
    context: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Failure {
    pub(crate) fn new(
        context: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn msg(context: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            source: None,
        }
    }

    /// Prints the failure on stderr (one line, or the whole chain when `verbose`) and returns
    /// exit code 2.
    pub(crate) fn report(&self, verbose: bool) -> ExitCode {
        errln!("{}", self.render(verbose));
        ExitCode::from(2)
    }

    /// One line: the context, then each cause that adds something (a cause whose text an
    /// earlier part already holds is skipped), joined by `: `, so the outermost context (the
    /// stage, the config file) and the specific one (the prompt file, the key) both stay.
    /// Verbose: the same parts, one per line.
    fn render(&self, verbose: bool) -> String {
        let mut parts: Vec<String> = vec![self.context.clone()];
        let mut next: Option<&(dyn StdError + 'static)> = self.source.as_deref().map(|e| e as _);
        while let Some(err) = next {
            let text = err.to_string();
            if !text.trim().is_empty() && !parts.iter().any(|p| p.contains(text.trim())) {
                parts.push(text);
            }
            next = err.source();
        }
        if verbose {
            let mut out = format!("error: {}", parts[0]);
            for cause in &parts[1..] {
                out.push_str("\n  caused by: ");
                out.push_str(cause);
            }
            out
        } else {
            format!("error: {}", parts.join(": ").replace('\n', " "))
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

/// Turns a command's result into its exit code, reporting a failure.
pub(crate) fn finish(result: Result<ExitCode, Failure>, verbose: bool) -> ExitCode {
    result.unwrap_or_else(|failure| failure.report(verbose))
}

/// The human report of a verdict (`Verdict::to_markdown`) for a run whose stored status is
/// `run_status`. A cancelled run's verdict covers only the agents that finished before the
/// interrupt, so its own status line (often `no_quorum`) is introduced as partial rather than
/// read as the run's outcome.
pub(crate) fn verdict_text(markdown: &str, run_status: &str) -> String {
    if run_status == synod::orchestrator::StageStatus::Cancelled.as_str() {
        format!(
            "**Run cancelled** before every agent finished. The partial verdict of those that did:\n\n{markdown}"
        )
    } else {
        markdown.to_owned()
    }
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Failure::new("cannot render JSON", e))?;
    outln!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Leaf;
    impl fmt::Display for Leaf {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("disk full")
        }
    }
    impl StdError for Leaf {}

    #[derive(Debug)]
    struct Mid(Leaf);
    impl fmt::Display for Mid {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("write failed")
        }
    }
    impl StdError for Mid {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn one_line_or_chain() {
        let f = Failure::new("cannot store the run", Mid(Leaf));
        let short = f.render(false);
        assert_eq!(
            short,
            "error: cannot store the run: write failed: disk full"
        );
        let long = f.render(true);
        assert_eq!(long.lines().count(), 3, "{long}");
        assert!(long.contains("caused by: write failed") && long.contains("caused by: disk full"));
        assert_eq!(Failure::msg("bad").render(false), "error: bad");
        // A cause already said by the context is not repeated.
        let f = Failure::new("cannot store the run: disk full", Leaf);
        assert_eq!(f.render(false), "error: cannot store the run: disk full");
        assert_eq!(f.render(true).lines().count(), 1);
    }

    /// A word a user can paste into a POSIX shell: left alone when every character is safe,
    /// else single-quoted (an empty word too).
    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("S-1"), "S-1");
        assert_eq!(
            shell_word("store.path=./x@2,y+1%:z"),
            "store.path=./x@2,y+1%:z"
        );
        assert_eq!(shell_word("-"), "-");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
