//! The adapters on real transcripts: `tests/transcripts/<cli>-<mode>.<scenario>.{stdout,
//! stderr,exit}` were recorded by `tests/standin.py record` running claude-code 2.1.332,
//! gemini-cli 0.61.0 and codex 0.171.0 against a stand-in of their APIs on 127.0.0.1
//! (scenarios: ok, e401, e429wait — a 429 stating a 17 s wait —, e429 — no wait stated —,
//! e503, e529 — Anthropic's overloaded —; gemini-json.noauth: no auth method configured;
//! claude-schema.ok: `--json-schema`, answered through claude's StructuredOutput tool).
//! Files named `*.synthetic.*` were written from the CLI's source instead, for what the
//! stand-in cannot make a CLI print (claude's `rate_limit_event` goes to subscription
//! users only).

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use synod_agents::{Failure, Preset, Reply, Usage};
use synod_core::ErrorClass;

struct Transcript {
    stdout: String,
    stderr: String,
    exit: Option<i32>,
}

fn transcript(name: &str) -> Transcript {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let read = |ext: &str| {
        let path = dir.join(format!("{name}.{ext}"));
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    Transcript {
        stdout: read("stdout"),
        stderr: read("stderr"),
        exit: read("exit").trim().parse().ok(),
    }
}

fn success(preset: Preset, name: &str) -> Reply {
    let t = transcript(name);
    assert_eq!(t.exit, Some(0), "{name} exited 0");
    preset
        .parse_success(&t.stdout, &t.stderr)
        .unwrap_or_else(|f| panic!("{name}: {f}"))
}

fn failure(preset: Preset, name: &str) -> Failure {
    let t = transcript(name);
    assert_ne!(t.exit, Some(0), "{name} failed");
    let f = preset.parse_failure(&t.stdout, &t.stderr, t.exit);
    assert_one_line_cause(&f);
    f
}

fn assert_one_line_cause(f: &Failure) {
    assert!(!f.cause.contains('\n'), "one line: {}", f.cause);
    assert!(
        !f.cause.contains("OpenAI Codex v"),
        "no banner: {}",
        f.cause
    );
    assert!(!f.cause.contains(".js:"), "no stack frame: {}", f.cause);
    assert!(!f.cause.contains("[object Object]"), "{}", f.cause);
}

const ANSWER: &str = r#"{"verdict": "approve", "score": 7}"#;
const RATE_LIMITED: ErrorClass = ErrorClass::RateLimited { retry_after: None };

fn rate_limited_after(secs: u64) -> ErrorClass {
    ErrorClass::RateLimited {
        retry_after: Some(Duration::from_secs(secs)),
    }
}

// ---------------------------------------------------------------- claude

#[test]
fn claude_json_and_stream_json_unwrap_the_answer_with_session_model_usage_and_cost() {
    for name in ["claude-json.ok", "claude-stream.ok"] {
        let reply = success(Preset::Claude, name);
        assert_eq!(reply.answer, ANSWER, "{name}");
        assert_eq!(
            reply.extract().unwrap(),
            json!({"verdict": "approve", "score": 7})
        );
        assert_eq!(reply.model.as_deref(), Some("claude-opus-5-5"), "{name}");
        assert_eq!(reply.session_id.as_ref().map(String::len), Some(36));
        // 120 uncached + 30 read from the cache; Anthropic counts them apart.
        assert_eq!(reply.usage, Some(Usage::new(150, 9, 30)), "{name}");
        assert_eq!(reply.cost_usd, Some(0.000666), "{name}");
    }
}

#[test]
fn claude_json_schema_answer_is_the_structured_output() {
    let reply = success(Preset::Claude, "claude-schema.ok");
    assert_eq!(
        reply.extract().unwrap(),
        json!({"verdict": "approve", "score": 7})
    );
    // One model call: the StructuredOutput tool call ends the turn.
    assert_eq!(reply.usage, Some(Usage::new(150, 9, 30)));
    assert_eq!(reply.cost_usd, Some(0.000666));
    // structured_output wins over a prose result.
    let t = transcript("claude-schema.ok");
    let prose = t.stdout.replacen(
        r#""result":"{\"verdict\":\"approve\",\"score\":7}""#,
        r#""result":"Done: see the structured output.""#,
        1,
    );
    assert_ne!(prose, t.stdout);
    let reply = Preset::Claude.parse_success(&prose, "").unwrap();
    assert_eq!(reply.extract().unwrap()["score"], 7);
}

#[test]
fn claude_text_mode_is_the_answer_as_printed() {
    let reply = success(Preset::Claude, "claude-text.ok");
    assert_eq!(reply.answer.trim(), ANSWER);
    assert_eq!(reply.usage, None);
    assert_eq!(reply.extract().unwrap()["score"], 7);
}

#[test]
fn claude_401_is_permanent_with_the_envelopes_cause_in_every_mode() {
    for name in ["claude-json.e401", "claude-stream.e401"] {
        let f = failure(Preset::Claude, name);
        assert_eq!(f.class, ErrorClass::Permanent, "{name}");
        assert_eq!(
            f.cause, "claude: API error 401: Invalid API key · Fix external API key",
            "{name}"
        );
    }
    let f = failure(Preset::Claude, "claude-text.e401");
    assert_eq!(f.class, ErrorClass::Permanent);
    assert_eq!(f.cause, "claude: Invalid API key · Fix external API key");
}

#[test]
fn a_failed_claude_run_still_reports_its_session_usage_and_cost() {
    for name in ["claude-json.e401", "claude-stream.e401", "claude-json.e529"] {
        let t = transcript(name);
        let reported = Preset::Claude.reported(&t.stdout, &t.stderr);
        assert_eq!(reported.answer, "", "{name}");
        assert_eq!(
            reported.session_id.as_ref().map(String::len),
            Some(36),
            "{name}"
        );
        assert_eq!(reported.usage, Some(Usage::new(0, 0, 0)), "{name}");
        assert_eq!(reported.cost_usd, Some(0.0), "{name}");
    }
    // A success reports what its reply carries; text mode reports nothing.
    let ok = transcript("claude-json.ok");
    let reported = Preset::Claude.reported(&ok.stdout, "");
    assert_eq!(reported.usage, Some(Usage::new(150, 9, 30)));
    assert_eq!(reported.model.as_deref(), Some("claude-opus-5-5"));
    let text = transcript("claude-text.e401");
    assert_eq!(
        Preset::Claude.reported(&text.stdout, &text.stderr),
        Reply::default()
    );
    let codex = transcript("codex-json.ok");
    let reported = Preset::Codex.reported(&codex.stdout, &codex.stderr);
    assert_eq!(
        reported.usage,
        success(Preset::Codex, "codex-json.ok").usage
    );
    assert!(reported.usage.is_some() && reported.answer.is_empty());
}

#[test]
fn claude_429_without_a_stated_wait_is_rate_limited_without_one() {
    for mode in ["json", "stream", "text"] {
        for scenario in ["e429", "e429wait"] {
            let name = format!("claude-{mode}.{scenario}");
            let f = failure(Preset::Claude, &name);
            assert_eq!(f.class, RATE_LIMITED, "{name}: {}", f.cause);
            assert!(f.cause.contains("429"), "{name}: {}", f.cause);
        }
    }
    let f = failure(Preset::Claude, "claude-json.e429");
    assert_eq!(
        f.cause,
        "claude: API error 429: API Error: Request rejected (429) · Rate limited. Please try again later."
    );
}

#[test]
fn claude_rate_limit_event_reset_time_is_the_wait() {
    // resetsAt 1800000000; 17 s before it.
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000 - 17);
    let t = transcript("claude-stream.e429.synthetic");
    let f = Preset::Claude.parse_failure_at(&t.stdout, &t.stderr, t.exit, now);
    assert_eq!(f.class, rate_limited_after(17));
    // With the same output and exit code 0, the same failure.
    let f0 = Preset::Claude
        .parse_success_at(&t.stdout, &t.stderr, now)
        .unwrap_err();
    assert_eq!(f0, f);
    // A reset time in the past states no wait.
    let later = UNIX_EPOCH + Duration::from_secs(1_800_000_100);
    let f = Preset::Claude.parse_failure_at(&t.stdout, &t.stderr, t.exit, later);
    assert_eq!(f.class, RATE_LIMITED);
}

#[test]
fn claude_503_and_529_are_transient() {
    for mode in ["json", "stream", "text"] {
        for scenario in ["e503", "e529"] {
            let name = format!("claude-{mode}.{scenario}");
            let f = failure(Preset::Claude, &name);
            assert_eq!(f.class, ErrorClass::Transient, "{name}: {}", f.cause);
        }
    }
    assert!(
        failure(Preset::Claude, "claude-json.e529")
            .cause
            .starts_with("claude: API error 529: API Error: 529 Overloaded.")
    );
}

#[test]
fn claude_is_error_with_exit_code_0_is_a_failure() {
    for (name, class) in [
        ("claude-json.e401", ErrorClass::Permanent),
        ("claude-stream.e429", RATE_LIMITED),
        ("claude-json.e529", ErrorClass::Transient),
    ] {
        let t = transcript(name);
        let f = Preset::Claude.parse_success(&t.stdout, "").unwrap_err();
        assert_eq!(f.class, class, "{name}");
        assert_eq!(f, Preset::Claude.parse_failure(&t.stdout, "", t.exit));
    }
}

#[test]
fn claude_truncated_or_garbage_output() {
    let t = transcript("claude-json.ok");
    let cut = &t.stdout[..t.stdout.len() / 2];
    let f = Preset::Claude.parse_success(cut, "").unwrap_err();
    assert_eq!(f.class, ErrorClass::Permanent);
    assert!(f.cause.contains("cut short"), "{}", f.cause);
    let t = transcript("claude-stream.ok");
    let first_two: String = t.stdout.lines().take(2).collect::<Vec<_>>().join("\n");
    assert!(Preset::Claude.parse_success(&first_two, "").is_err());
    // Not claude's JSON: text, whose extraction then says what is wrong.
    let reply = Preset::Claude.parse_success("\u{0}garbage{{[", "").unwrap();
    assert!(reply.extract().is_err());
    let f = Preset::Claude.parse_failure("", "", Some(1));
    assert_eq!(f.cause, "claude exited with code 1 without saying why");
}

// ---------------------------------------------------------------- gemini

#[test]
fn gemini_json_and_stream_json_unwrap_the_answer_with_session_model_and_usage() {
    for name in ["gemini-json.ok", "gemini-stream.ok"] {
        let reply = success(Preset::Gemini, name);
        assert_eq!(reply.answer, ANSWER, "{name}");
        assert_eq!(reply.extract().unwrap()["verdict"], "approve");
        assert_eq!(
            reply.model.as_deref(),
            Some("gemini-3.1-pro-preview"),
            "{name}"
        );
        assert_eq!(reply.session_id.as_ref().map(String::len), Some(36));
        // The router call and the main call, 120 prompt tokens (30 cached) and 9 out each.
        assert_eq!(reply.usage, Some(Usage::new(240, 18, 60)), "{name}");
        assert_eq!(reply.cost_usd, None);
    }
    // A line printed before the envelope does not hide it.
    let t = transcript("gemini-json.ok");
    let reply = Preset::Gemini
        .parse_success(&format!("Loaded cached credentials.\n{}", t.stdout), "")
        .unwrap();
    assert_eq!(reply.answer, ANSWER);
    let reply = success(Preset::Gemini, "gemini-text.ok");
    assert_eq!(reply.answer.trim(), ANSWER);
}

#[test]
fn gemini_401_is_permanent_with_the_apis_message_not_a_stack_frame() {
    for mode in ["json", "stream", "text"] {
        let name = format!("gemini-{mode}.e401");
        let f = failure(Preset::Gemini, &name);
        assert_eq!(f.class, ErrorClass::Permanent, "{name}");
        assert_eq!(
            f.cause,
            "gemini: API error 401 UNAUTHENTICATED: API key not valid. Please pass a valid API key.",
            "{name}"
        );
    }
    assert_eq!(transcript("gemini-json.e401").exit, Some(401 % 256));
}

#[test]
fn gemini_429_with_a_stated_wait_waits_that_long_and_without_one_states_none() {
    for mode in ["json", "stream", "text"] {
        let name = format!("gemini-{mode}.e429wait");
        let f = failure(Preset::Gemini, &name);
        assert_eq!(f.class, rate_limited_after(17), "{name}: {}", f.cause);
        assert!(
            f.cause
                .contains("You exceeded your current quota. Please retry in 17s."),
            "{name}: {}",
            f.cause
        );
        let name = format!("gemini-{mode}.e429");
        let f = failure(Preset::Gemini, &name);
        assert_eq!(f.class, RATE_LIMITED, "{name}: {}", f.cause);
    }
    assert_eq!(
        failure(Preset::Gemini, "gemini-json.e429").cause,
        "gemini: API error 429: Resource has been exhausted (e.g. check quota)."
    );
}

#[test]
fn gemini_503_is_transient() {
    for mode in ["json", "stream", "text"] {
        let name = format!("gemini-{mode}.e503");
        let f = failure(Preset::Gemini, &name);
        assert_eq!(f.class, ErrorClass::Transient, "{name}: {}", f.cause);
        assert!(f.cause.contains("overloaded"), "{name}: {}", f.cause);
    }
}

#[test]
fn gemini_without_an_auth_method_is_permanent() {
    let f = failure(Preset::Gemini, "gemini-json.noauth");
    assert_eq!(f.class, ErrorClass::Permanent);
    assert_eq!(f.cause, "gemini: error 41: Invalid auth method selected.");
}

#[test]
fn gemini_error_json_with_exit_code_0_and_truncated_output() {
    let t = transcript("gemini-json.e401");
    // The error object on stdout of a run that exited 0.
    let block = &t.stderr[t.stderr.rfind("\n{\n").unwrap()..];
    let f = Preset::Gemini.parse_success(block, "").unwrap_err();
    assert_eq!(f.class, ErrorClass::Permanent);
    let t = transcript("gemini-json.ok");
    let cut = &t.stdout[..t.stdout.len() / 3];
    let f = Preset::Gemini.parse_success(cut, "").unwrap_err();
    assert!(f.cause.contains("cut short"), "{}", f.cause);
    let t = transcript("gemini-stream.ok");
    let first_two: String = t.stdout.lines().take(2).collect::<Vec<_>>().join("\n");
    assert!(Preset::Gemini.parse_success(&first_two, "").is_err());
    // An exit code that stands for an HTTP status, and nothing else said.
    let f = Preset::Gemini.parse_failure("", "", Some(173));
    assert_eq!(f.class, ErrorClass::Transient);
}

// ---------------------------------------------------------------- codex

#[test]
fn codex_json_events_unwrap_the_last_agent_message_with_thread_and_usage() {
    let reply = success(Preset::Codex, "codex-json.ok");
    assert_eq!(reply.answer, ANSWER);
    assert_eq!(reply.session_id.as_ref().map(String::len), Some(36));
    assert_eq!(reply.usage, Some(Usage::new(120, 9, 30)));
    assert_eq!(reply.model, None);
    // The "Model metadata not found" error item is a warning, not the answer or a failure.
    let reply = success(Preset::Codex, "codex-text.ok");
    assert_eq!(reply.answer.trim(), ANSWER);
}

#[test]
fn codex_401_is_permanent_and_its_cause_is_the_error_not_the_banner() {
    for name in ["codex-json.e401", "codex-text.e401"] {
        let f = failure(Preset::Codex, name);
        assert_eq!(f.class, ErrorClass::Permanent, "{name}");
        assert_eq!(
            f.cause,
            "codex: unexpected status 401 Unauthorized: Incorrect API key provided: \
             sk-stand***in., url: http://127.0.0.1:PORT/e401/v1/responses",
            "{name}"
        );
    }
}

#[test]
fn codex_429_and_503() {
    for mode in ["json", "text"] {
        for scenario in ["e429", "e429wait"] {
            let name = format!("codex-{mode}.{scenario}");
            let f = failure(Preset::Codex, &name);
            assert_eq!(f.class, RATE_LIMITED, "{name}");
            assert_eq!(
                f.cause,
                "codex: exceeded retry limit, last status: 429 Too Many Requests"
            );
        }
        let name = format!("codex-{mode}.e503");
        assert_eq!(
            failure(Preset::Codex, &name).class,
            ErrorClass::Transient,
            "{name}"
        );
    }
}

#[test]
fn codex_turn_failed_with_exit_code_0_and_truncated_events() {
    let t = transcript("codex-json.e401");
    let f = Preset::Codex.parse_success(&t.stdout, "").unwrap_err();
    assert_eq!(f.class, ErrorClass::Permanent);
    let t = transcript("codex-json.ok");
    let cut = &t.stdout[..t.stdout.find("agent_message").unwrap()];
    let f = Preset::Codex.parse_success(cut, "").unwrap_err();
    assert!(f.cause.contains("cut short"), "{}", f.cause);
    let f = Preset::Codex
        .parse_success("{\"type\":\"thread.sta", "")
        .unwrap_err();
    assert!(f.cause.contains("cut short"), "{}", f.cause);
    // A stated wait in the message is honoured.
    let line = r#"{"type":"turn.failed","error":{"message":"Rate limit reached for gpt-5. Please try again in 20s."}}"#;
    assert_eq!(
        Preset::Codex.parse_success(line, "").unwrap_err().class,
        rate_limited_after(20)
    );
}

// ---------------------------------------------------------------- generic

#[test]
fn generic_output_is_the_answer_and_failures_use_the_default_rules() {
    let reply = Preset::Generic
        .parse_success("Sure.\n```json\n{\"a\": 1}\n```\n", "")
        .unwrap();
    assert_eq!(reply.extract().unwrap(), json!({"a": 1}));
    let f = Preset::Generic.parse_failure(
        "",
        "Traceback\n  at x (file:///a.js:1:2)\nError: 429 Too Many Requests. Retry after 12 seconds.\n",
        Some(1),
    );
    assert_eq!(f.class, rate_limited_after(12));
    assert_eq!(
        f.cause,
        "exited with code 1: 429 Too Many Requests. Retry after 12 seconds."
    );
    // Without an exit code (stopped), the line stands for the agent.
    let f = Preset::Generic.parse_failure("", "Error: quota used up\n", None);
    assert_eq!(f.cause, "agent: quota used up");
    let f = Preset::Generic.parse_failure("", "", None);
    assert_eq!(f.cause, "agent was stopped without saying why");
}

#[test]
fn presets_are_inferred_from_the_program_and_named_in_config() {
    for (program, preset) in [
        ("claude", Preset::Claude),
        ("/usr/bin/gemini", Preset::Gemini),
        ("codex.cmd", Preset::Codex),
        (r"C:\npm\CODEX.CMD", Preset::Codex),
        ("node_modules/.bin/claude", Preset::Claude),
        ("claude-wrapper", Preset::Generic),
        ("", Preset::Generic),
    ] {
        assert_eq!(Preset::infer(program), preset, "{program}");
    }
    for preset in Preset::ALL {
        assert_eq!(preset.name().parse::<Preset>(), Ok(preset));
        let toml_like = serde_json::to_string(&preset).unwrap();
        assert_eq!(toml_like, format!("\"{}\"", preset.name()));
        assert_eq!(serde_json::from_str::<Preset>(&toml_like).unwrap(), preset);
    }
    // `--version` of the pinned CLIs, as they print it.
    for (preset, out, version) in [
        (Preset::Claude, "2.1.332 (Claude Code)\n", "2.1.332"),
        (Preset::Gemini, "0.61.0\n", "0.61.0"),
        (Preset::Codex, "codex-cli 0.171.0\n", "0.171.0"),
    ] {
        assert_eq!(Preset::infer(preset.program().unwrap()), preset);
        assert_eq!(Preset::version(out), Some(version));
    }
    assert_eq!(Preset::Generic.program(), None);
    let err = "copilot".parse::<Preset>().unwrap_err();
    assert!(err.to_string().contains("`copilot`"), "{err}");
    assert!(err.to_string().contains("\"claude\""), "{err}");
}
