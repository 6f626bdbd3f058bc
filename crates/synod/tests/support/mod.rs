//! Fixtures of the end-to-end tests against the real agent CLIs (`real_clis.rs`):
//!
//! - [`clis`]: the pinned `claude`, `gemini` and `codex` npm packages, installed on first use
//!   into `<target>/agent-clis/` (`npm install --ignore-scripts
//!   --omit-lockfile-registry-resolved`, then claude's own postinstall, which puts its native
//!   binary in place), reused by later runs; a file lock makes parallel test binaries install
//!   once.
//! - [`standin`]: the stand-in of the three vendor APIs (`synod-agents/tests/standin.py`) on
//!   127.0.0.1, one per test binary; it exits when this process does (its stdin closes), and
//!   logs every model request with a timestamp, which is how the tests see the CLIs' requests
//!   and the waits between them.
//! - [`Sandbox`]: a private home per test (HOME, XDG dirs, `GEMINI_CLI_HOME`, `CODEX_HOME`),
//!   the agents' config pointing each CLI at the stand-in as its preset expects, the CLIs'
//!   own update checks, telemetry and plugin downloads off, every proxy variable pointing at
//!   the stand-in, which refuses and logs any request for another host
//!   ([`StandIn::escapes`]: nothing leaves 127.0.0.1), and a marker variable that finds
//!   every process the test started ([`Sandbox::leftovers`]).
#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The pinned CLIs: npm package, version, program.
pub const PINNED: [(&str, &str, &str); 3] = [
    ("@anthropic-ai/claude-code", "2.1.332", "claude"),
    ("@google/gemini-cli", "0.61.0", "gemini"),
    ("@openai/codex", "0.171.0", "codex"),
];

/// The model gemini is run with in the tests: a named model skips gemini's model router, whose
/// own retries of 429 and 503 no setting turns off.
pub const GEMINI_MODEL: &str = "gemini-2.5-pro";

/// `<target>/agent-clis`: where the CLIs are installed (outside the repository).
pub fn install_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("agent-clis")
}

/// The directory holding the installed `claude`, `gemini` and `codex` (npm's `.bin`),
/// installing them first when they are missing or not the pinned versions.
pub fn clis() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = install_dir();
        ensure_installed(&dir);
        dir.join("node_modules").join(".bin")
    })
}

/// The package.json the CLIs are installed from (exact versions).
fn package_json() -> String {
    let deps: Vec<String> = PINNED
        .iter()
        .map(|(package, version, _)| format!("    \"{package}\": \"{version}\""))
        .collect();
    format!(
        "{{\n  \"name\": \"synod-e2e-agent-clis\",\n  \"private\": true,\n  \"dependencies\": {{\n{}\n  }}\n}}\n",
        deps.join(",\n")
    )
}

/// Whether `dir` holds the pinned versions, installed completely (the stamp is written last).
fn installed(dir: &Path) -> bool {
    let modules = dir.join("node_modules");
    fs::read_to_string(dir.join("installed.stamp")).is_ok_and(|s| s == package_json())
        && PINNED.iter().all(|(package, version, program)| {
            let manifest = modules.join(package).join("package.json");
            let version_ok = fs::read_to_string(&manifest)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .is_some_and(|v| v["version"] == *version);
            version_ok && modules.join(".bin").join(program).exists()
        })
}

fn ensure_installed(dir: &Path) {
    if installed(dir) {
        return;
    }
    fs::create_dir_all(dir).unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
    let lock_path = dir.join("install.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap_or_else(|err| panic!("cannot open {}: {err}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|err| panic!("cannot lock {}: {err}", lock_path.display()));
    if installed(dir) {
        return;
    }
    let node = Command::new("node").arg("--version").output();
    let node_ok = node.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        node_ok,
        "the real-CLI tests need Node.js 20+ and npm on PATH (`node --version` failed: {node:?}); \
         install Node.js, then run the tests again: they install the CLIs themselves"
    );
    let _ = fs::remove_file(dir.join("installed.stamp"));
    fs::write(dir.join("package.json"), package_json())
        .unwrap_or_else(|err| panic!("cannot write {}/package.json: {err}", dir.display()));
    let versions: Vec<String> = PINNED
        .iter()
        .map(|(package, version, _)| format!("{package}@{version}"))
        .collect();
    eprintln!(
        "installing the agent CLIs {} into {} (first use; later runs reuse them)",
        versions.join(", "),
        dir.display()
    );
    // Scripts off: their effect differs between npm versions (npm 11 asks for an allow
    // list); the one that matters, claude's postinstall, runs below.
    run_checked(
        Command::new("npm")
            .args([
                "install",
                "--ignore-scripts",
                "--omit-lockfile-registry-resolved",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(dir),
        "npm install (network access to the npm registry is needed once)",
    );
    run_checked(
        Command::new("node")
            .arg("install.cjs")
            .current_dir(dir.join("node_modules/@anthropic-ai/claude-code")),
        "claude-code's postinstall (`node install.cjs`: puts the native claude binary in place)",
    );
    let claude = dir.join("node_modules/.bin/claude");
    let out = run_checked(Command::new(&claude).arg("--version"), "claude --version");
    assert!(
        out.contains(PINNED[0].1),
        "{} --version printed {out:?}, not {}: delete {} and run the tests again",
        claude.display(),
        PINNED[0].1,
        dir.display()
    );
    fs::write(dir.join("installed.stamp"), package_json())
        .unwrap_or_else(|err| panic!("cannot write {}/installed.stamp: {err}", dir.display()));
    drop(lock);
}

/// Runs `command` to completion; its stdout, or a panic naming `what` with its stderr's tail.
fn run_checked(command: &mut Command, what: &str) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {what}: {err} (are node and npm on PATH?)"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        panic!(
            "{what} failed ({}); its stderr ends:\n{}",
            output.status,
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One model request the stand-in received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Seconds since the epoch, when it arrived.
    pub t: f64,
    /// `anthropic`, `gemini` or `openai`.
    pub api: String,
    /// The scenario (without its tag).
    pub scenario: String,
    /// The scenario's tag.
    pub tag: String,
    /// HTTP status answered, or `"hang"`.
    pub status: String,
    /// Whether it carried an answer schema (claude's StructuredOutput tool, the Responses
    /// API's `json_schema` format).
    pub schema: bool,
}

/// The stand-in API server of this test binary.
pub struct StandIn {
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
    // Kept open: the server exits when it closes, that is when this process ends.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

/// The stand-in, started on first use.
pub fn standin() -> &'static StandIn {
    static STANDIN: OnceLock<StandIn> = OnceLock::new();
    STANDIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../synod-agents/tests/standin.py");
        let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("standin-requests-{}.jsonl", std::process::id()));
        let _ = fs::remove_file(&log);
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["serve", "0"])
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start python3 {}: {err} (python3 3.8+ is needed)",
                    script.display()
                )
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|err| panic!("the stand-in printed no port: {err}"));
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|err| panic!("the stand-in printed {line:?}, not its port: {err}"));
        StandIn {
            port,
            log,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        }
    })
}

impl StandIn {
    /// The base URL of `scenario` tagged `tag` (`http://127.0.0.1:PORT/e429once~tag`).
    pub fn url(&self, scenario: &str, tag: &str) -> String {
        format!("http://127.0.0.1:{}/{scenario}~{tag}", self.port)
    }

    /// Every model request with tag `tag` so far, in arrival order.
    pub fn requests(&self, tag: &str) -> Vec<Request> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|v| v["tag"] == tag)
            .map(|v| Request {
                t: v["t"].as_f64().unwrap_or_default(),
                api: v["api"].as_str().unwrap_or_default().to_owned(),
                scenario: v["scenario"].as_str().unwrap_or_default().to_owned(),
                tag: tag.to_owned(),
                status: match &v["status"] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                schema: v["schema"] == true,
            })
            .collect()
    }

    /// Requests for other hosts than the stand-in made by the processes of the sandbox
    /// tagged `tag`, and those no tag could be told for (`CONNECT host:443`, ...).
    pub fn escapes(&self, tag: &str) -> Vec<String> {
        let mut found = self.requests_of(tag, "escape");
        found.extend(self.requests_of("", "escape"));
        found.into_iter().map(|r| r.scenario).collect()
    }

    /// Requests of `api` with tag `tag`.
    pub fn requests_of(&self, tag: &str, api: &str) -> Vec<Request> {
        self.requests(tag)
            .into_iter()
            .filter(|r| r.api == api)
            .collect()
    }
}

/// The API a CLI talks to, as the stand-in logs it.
pub fn api_of(cli: &str) -> &'static str {
    match cli {
        "claude" => "anthropic",
        "gemini" => "gemini",
        _ => "openai",
    }
}

/// A TOML string literal.
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// One test's private world: a directory under the target dir (not world-writable: gemini
/// ignores settings there), a home per agent, and the marker its processes carry.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// A unique tag: the stand-in scenarios' tag and the marker's value.
    pub tag: String,
}

/// The variable every agent process of a sandbox carries (see [`Sandbox::leftovers`]).
pub const MARKER: &str = "SYNOD_E2E_SANDBOX";

impl Sandbox {
    /// A sandbox for the test `name`.
    pub fn new(name: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix(&format!("real-clis-{name}-"))
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let tag = format!("{name}-{}", std::process::id());
        Sandbox { dir, tag }
    }

    /// The `[[agents]]` entry of agent `name` running `cli` (`claude`, `gemini`, `codex`)
    /// against the stand-in's `scenario`: its environment and home, and `extra` TOML lines
    /// (`timeout = ...`, `args = [...]`). With `command` false the entry names only the
    /// preset and finds the program through `PATH`.
    pub fn agent(&self, name: &str, cli: &str, scenario: &str, extra: &str) -> String {
        self.entry(name, cli, scenario, true, extra)
    }

    /// As [`Sandbox::agent`], with `preset = CLI` and no `command`, `args` or `prompt_via`.
    pub fn preset_only(&self, name: &str, cli: &str, scenario: &str) -> String {
        self.entry(name, cli, scenario, false, "")
    }

    fn entry(&self, name: &str, cli: &str, scenario: &str, command: bool, extra: &str) -> String {
        let home = self.dir.path().join(name);
        let url = standin().url(scenario, &self.tag);
        // Anything but the stand-in goes to the stand-in as a proxy, which logs it as an
        // "escape" (the user name is the tag) and refuses it.
        let proxy = format!("http://{}:x@127.0.0.1:{}", self.tag, standin().port);
        let mut env: Vec<(&str, String)> = vec![
            ("HOME", home.display().to_string()),
            (
                "XDG_CONFIG_HOME",
                home.join(".config").display().to_string(),
            ),
            ("XDG_CACHE_HOME", home.join(".cache").display().to_string()),
            (
                "XDG_DATA_HOME",
                home.join(".local/share").display().to_string(),
            ),
            (
                "XDG_STATE_HOME",
                home.join(".local/state").display().to_string(),
            ),
            ("HTTP_PROXY", proxy.clone()),
            ("HTTPS_PROXY", proxy.clone()),
            ("ALL_PROXY", proxy.clone()),
            ("http_proxy", proxy.clone()),
            ("https_proxy", proxy.clone()),
            ("all_proxy", proxy),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            ("no_proxy", "127.0.0.1,localhost".to_owned()),
            ("NO_COLOR", "1".to_owned()),
        ];
        match cli {
            "claude" => {
                env.extend([
                    ("ANTHROPIC_BASE_URL", url),
                    ("ANTHROPIC_API_KEY", "sk-ant-standin".to_owned()),
                    ("ANTHROPIC_AUTH_TOKEN", String::new()),
                    ("CLAUDE_CODE_OAUTH_TOKEN", String::new()),
                    (
                        "CLAUDE_CONFIG_DIR",
                        home.join(".claude").display().to_string(),
                    ),
                    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
                    ("DISABLE_AUTOUPDATER", "1".to_owned()),
                    ("DISABLE_TELEMETRY", "1".to_owned()),
                    ("DISABLE_ERROR_REPORTING", "1".to_owned()),
                ]);
            }
            "gemini" => {
                let gemini_home = home.join("gemini");
                write(
                    &gemini_home.join(".gemini/settings.json"),
                    r#"{"security": {"auth": {"selectedType": "gemini-api-key"}},
 "privacy": {"usageStatisticsEnabled": false},
 "telemetry": {"enabled": false},
 "general": {"disableAutoUpdate": true}}
"#,
                );
                env.extend([
                    ("GOOGLE_GEMINI_BASE_URL", url),
                    ("GEMINI_API_KEY", "standin-key".to_owned()),
                    ("GOOGLE_API_KEY", String::new()),
                    ("GOOGLE_GENAI_USE_VERTEXAI", String::new()),
                    ("GOOGLE_CLOUD_PROJECT", String::new()),
                    ("GEMINI_CLI_HOME", gemini_home.display().to_string()),
                ]);
            }
            "codex" => {
                let codex_home = home.join("codex");
                write(
                    &codex_home.join("config.toml"),
                    &format!(
                        "model = \"gpt-5\"\nmodel_provider = \"standin\"\ncheck_for_update_on_startup = false\n\n[analytics]\nenabled = false\n\n[features]\nplugins = false\nremote_plugin = false\napps = false\napi_key_model_discovery = false\n\n[model_providers.standin]\nname = \"standin\"\nbase_url = {}\nenv_key = \"STANDIN_API_KEY\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n",
                        quote(&format!("{url}/v1"))
                    ),
                );
                env.extend([
                    ("CODEX_HOME", codex_home.display().to_string()),
                    ("STANDIN_API_KEY", "sk-standin".to_owned()),
                    ("OPENAI_API_KEY", String::new()),
                ]);
            }
            other => panic!("no such CLI in these tests: {other}"),
        }
        fs::create_dir_all(&home)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", home.display()));
        let mut toml = format!("[[agents]]\nname = {}\n", quote(name));
        if command {
            let program = clis().join(cli);
            let _ = writeln!(toml, "command = {}", quote(&program.display().to_string()));
        } else {
            let path = std::env::var("PATH").unwrap_or_default();
            let _ = writeln!(toml, "preset = {}", quote(cli));
            env.push(("PATH", format!("{}:{path}", clis().display())));
        }
        toml.push_str(extra);
        if !extra.is_empty() && !extra.ends_with('\n') {
            toml.push('\n');
        }
        toml.push_str("[agents.env]\n");
        for (key, value) in env {
            let _ = writeln!(toml, "{key} = {}", quote(&value));
        }
        toml.push('\n');
        toml
    }

    /// Processes still alive that carry this sandbox's marker (pid and command line),
    /// waiting up to `within` for them to go (a killed process may take a moment to be
    /// reaped by its parent).
    pub fn leftovers(&self, within: Duration) -> Vec<(u32, String)> {
        let deadline = Instant::now() + within;
        loop {
            let found = marked_processes(&format!("{MARKER}={}", self.tag));
            if found.is_empty() || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Live (not zombie) processes whose environment holds `needle` (`NAME=value`).
fn marked_processes(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            continue;
        }
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        if state == Some('Z') || state.is_none() {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        found.push((pid, cmdline.trim().to_owned()));
    }
    found
}

fn write(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", parent.display()));
    }
    fs::write(path, contents)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
}
