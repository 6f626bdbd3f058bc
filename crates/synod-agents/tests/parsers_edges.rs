//! Edge cases of the output parsers and invocations that the recorded transcripts do not
//! reach: claude's and gemini's error envelopes by API status / error type, gemini's exit
//! code as an HTTP status, RetryInfo delays, the model that did the most work, schemas and
//! settings files, and the one-line `Display` forms users see in logs.

use std::time::Duration;

use synod_agents::{Failure, Preset, codex_retry_overrides};
use synod_core::ErrorClass;

fn claude_result(fields: &str) -> String {
    format!("{{\"type\":\"result\",\"is_error\":true,\"duration_ms\":10,{fields}}}\n")
}

fn claude_failure(fields: &str) -> Failure {
    Preset::Claude.parse_failure(&claude_result(fields), "", Some(1))
}

#[test]
fn claude_api_status_decides_over_the_error_type() {
    let f = claude_failure(
        r#""subtype":"success","api_error_status":503,"api_error_type":"invalid_request_error","result":"upstream hiccup""#,
    );
    assert_eq!(f.class, ErrorClass::Transient, "{f}");
    assert_eq!(f.cause, "claude: API error 503: upstream hiccup");
    // The status, not the wording of the message, decides.
    let f =
        claude_failure(r#""subtype":"success","api_error_status":401,"result":"upstream hiccup""#);
    assert_eq!(f.class, ErrorClass::Permanent, "{f}");
    let f =
        claude_failure(r#""subtype":"success","api_error_status":429,"result":"invalid api key""#);
    assert_eq!(
        f.class,
        ErrorClass::RateLimited { retry_after: None },
        "{f}"
    );
}

#[test]
fn claude_error_types_without_a_status_classify() {
    let cases = [
        (
            "rate_limit_error",
            "request refused",
            ErrorClass::RateLimited { retry_after: None },
        ),
        ("overloaded_error", "invalid api key", ErrorClass::Transient),
        ("api_error", "invalid api key", ErrorClass::Transient),
        (
            "authentication_error",
            "server overloaded",
            ErrorClass::Permanent,
        ),
        (
            "invalid_request_error",
            "server overloaded",
            ErrorClass::Permanent,
        ),
    ];
    for (kind, message, class) in cases {
        let f = claude_failure(&format!(
            r#""subtype":"success","api_error_type":"{kind}","result":"{message}""#
        ));
        assert_eq!(f.class, class, "{kind}: {f}");
        assert_eq!(f.cause, format!("claude: {message}"));
    }
}

#[test]
fn claude_max_turns_is_permanent_and_names_the_errors() {
    let f = claude_failure(
        r#""subtype":"error_max_turns","errors":["server overloaded",{"message":"turn 8 of 8"}]"#,
    );
    assert_eq!(f.class, ErrorClass::Permanent, "{f}");
    assert_eq!(
        f.cause,
        "claude: error_max_turns: server overloaded; turn 8 of 8"
    );
    let f = claude_failure(r#""subtype":"error_max_budget_usd","errors":["server overloaded"]"#);
    assert_eq!(f.class, ErrorClass::Permanent, "{f}");
    assert_eq!(f.cause, "claude: error_max_budget_usd: server overloaded");
}

#[test]
fn claude_other_error_subtypes_classify_by_text() {
    let f = claude_failure(r#""subtype":"error_during_execution","errors":["invalid api key"]"#);
    assert_eq!(f.class, ErrorClass::Permanent, "{f}");
    assert_eq!(f.cause, "claude: error_during_execution: invalid api key");
    let f = claude_failure(r#""subtype":"error_during_execution","errors":["server overloaded"]"#);
    assert_eq!(f.class, ErrorClass::Transient, "{f}");
    // No errors at all: the subtype is the message.
    let f = claude_failure(r#""subtype":"error_during_execution","errors":[]"#);
    assert_eq!(
        f.cause,
        "claude: error_during_execution: error_during_execution"
    );
}

#[test]
fn claude_model_is_the_one_with_most_output() {
    let stdout = r#"{"type":"result","subtype":"success","is_error":false,"result":"hi","usage":{"input_tokens":1,"output_tokens":2},"modelUsage":{"a-small":{"outputTokens":5},"b-big":{"outputTokens":90},"c-mid":{"outputTokens":40},"d-tie":{"outputTokens":90}}}"#;
    let reply = Preset::Claude.parse_success(stdout, "").expect("success");
    assert_eq!(reply.model.as_deref(), Some("b-big"));
}

fn gemini_json_failure(error: &str, exit: Option<i32>) -> Failure {
    // gemini --output-format json prints its envelope pretty-printed.
    let error: serde_json::Value = serde_json::from_str(error).expect("error JSON");
    let doc = serde_json::json!({ "session_id": "s", "error": error });
    let stdout = format!("{}\n", serde_json::to_string_pretty(&doc).expect("print"));
    Preset::Gemini.parse_failure(&stdout, "", exit)
}

#[test]
fn gemini_api_status_words_classify_without_a_code() {
    // The status word decides, whatever the message's wording suggests.
    let cases = [
        (
            "RESOURCE_EXHAUSTED",
            "unauthorized",
            ErrorClass::RateLimited { retry_after: None },
        ),
        ("UNAVAILABLE", "unauthorized", ErrorClass::Transient),
        ("INTERNAL", "unauthorized", ErrorClass::Transient),
        ("DEADLINE_EXCEEDED", "unauthorized", ErrorClass::Transient),
        (
            "UNAUTHENTICATED",
            "server overloaded",
            ErrorClass::Permanent,
        ),
        (
            "INVALID_ARGUMENT",
            "server overloaded",
            ErrorClass::Permanent,
        ),
    ];
    for (status, message, class) in cases {
        let f = gemini_json_failure(
            &format!(r#"{{"message":"{message}","status":"{status}"}}"#),
            None,
        );
        assert_eq!(f.class, class, "{status}: {f}");
        assert_eq!(f.cause, format!("gemini: {status}: {message}"));
    }
}

#[test]
fn gemini_retry_info_delay_is_the_stated_wait() {
    let f = gemini_json_failure(
        r#"{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}"#,
        None,
    );
    assert_eq!(
        f.class,
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(17))
        },
        "{f}"
    );
    assert_eq!(f.cause, "gemini: API error 429 RESOURCE_EXHAUSTED: quota");
}

#[test]
fn gemini_exit_code_is_the_http_status_mod_256() {
    // 429 % 256 = 173, 503 % 256 = 247, 401 % 256 = 145.
    for (exit, status, class) in [
        (173, 429, ErrorClass::RateLimited { retry_after: None }),
        (247, 503, ErrorClass::Transient),
        (145, 401, ErrorClass::Permanent),
    ] {
        let f = gemini_json_failure(r#"{"type":"Error","message":"request failed"}"#, Some(exit));
        assert_eq!(f.class, class, "exit {exit}: {f}");
        assert_eq!(
            f.cause,
            format!("gemini: API error {status}: request failed")
        );
    }
    // An ordinary exit code is no status.
    let f = gemini_json_failure(r#"{"type":"Error","message":"request failed"}"#, Some(1));
    assert_eq!(f.cause, "gemini: request failed");
}

#[test]
fn gemini_status_from_a_node_error_dump() {
    // Text mode: the status and the retry delay come from the Node error dump on stderr.
    let stderr = "Error when talking to Gemini API\n    at foo (file.js:1:2)\n  status: 503,\n  retryDelayMs: 4000\n";
    let f = Preset::Gemini.parse_failure("", stderr, Some(1));
    assert_eq!(f.class, ErrorClass::Transient, "{f}");
    assert_eq!(
        f.cause,
        "gemini: API error 503: Error when talking to Gemini API"
    );
}

#[test]
fn gemini_text_mode_generic_cause_line() {
    let stderr = "Loaded cached credentials.\nFailed to connect: the sandbox is gone\n";
    let f = Preset::Gemini.parse_failure("", stderr, Some(1));
    assert!(f.cause.contains("the sandbox is gone"), "{f}");
}

#[test]
fn schema_goes_to_claude_and_codex_only() {
    let file = std::path::Path::new("/data/schema.json");
    let claude = Preset::Claude.invocation();
    assert!(claude.takes_schema());
    let with = claude.clone().with_schema("{\"type\":\"object\"}", file);
    assert_eq!(
        &with.args[claude.args.len()..],
        ["--json-schema", "{\"type\":\"object\"}"]
    );
    let codex = Preset::Codex.invocation();
    assert!(codex.takes_schema());
    let with = codex.clone().with_schema("{}", file);
    let at = with
        .args
        .iter()
        .position(|a| a == "--output-schema")
        .expect("flag");
    assert_eq!(with.args[at + 1], "/data/schema.json");
    assert_eq!(with.args.len(), codex.args.len() + 2);
    if codex.args.last().map(String::as_str) == Some("-") {
        assert_eq!(
            with.args.last().map(String::as_str),
            Some("-"),
            "stdin stays last"
        );
        assert_eq!(at, codex.args.len() - 1);
    } else {
        assert_eq!(at, codex.args.len());
    }
    for preset in [Preset::Gemini, Preset::Generic] {
        let inv = preset.invocation();
        assert!(!inv.takes_schema(), "{preset}");
        assert_eq!(inv.clone().with_schema("{}", file).args, inv.args);
    }
}

#[test]
fn write_settings_names_the_written_file() {
    let dir = std::env::temp_dir().join(format!("synod-agents-edges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let inv = Preset::Gemini.invocation();
    let file = inv
        .settings_file
        .clone()
        .expect("gemini has a settings file");
    let env = inv.write_settings(&dir).expect("written");
    let (name, path) = env
        .iter()
        .find(|(n, _)| n == file.env)
        .expect("names the file");
    assert_eq!(name, "GEMINI_CLI_SYSTEM_SETTINGS_PATH");
    assert_eq!(std::path::Path::new(path), dir.join(file.file_name));
    assert_eq!(std::fs::read_to_string(path).expect("read"), file.contents);
    for (k, v) in &inv.env {
        assert!(env.contains(&(k.clone(), v.clone())), "{k} kept");
    }
    assert_eq!(env.len(), inv.env.len() + 1);
    std::fs::remove_dir_all(&dir).expect("cleanup");
    // No settings file: only the preset's environment.
    let generic = Preset::Generic.invocation();
    assert_eq!(
        generic.write_settings(&dir).expect("nothing written"),
        generic.env
    );
}

#[test]
fn codex_retry_overrides_turn_off_the_providers_retries() {
    assert_eq!(
        codex_retry_overrides("local"),
        [
            "-c",
            "model_providers.local.request_max_retries=0",
            "-c",
            "model_providers.local.stream_max_retries=0"
        ]
    );
}

#[test]
fn display_forms() {
    assert_eq!(Preset::Claude.to_string(), "claude");
    assert_eq!(Preset::Codex.to_string(), "codex");
    let f = Failure::new(ErrorClass::Permanent, "claude: bad key");
    assert_eq!(
        f.to_string(),
        format!("claude: bad key ({})", ErrorClass::Permanent)
    );
}

#[test]
fn version_needs_two_numeric_parts() {
    assert_eq!(Preset::version("2.1.332 (Claude Code)\n"), Some("2.1.332"));
    assert_eq!(Preset::version("codex-cli 0.171.0"), Some("0.171.0"));
    assert_eq!(Preset::version("v0.61.0-nightly"), Some("0.61.0-nightly"));
    assert_eq!(
        Preset::version("tool .5 1. 3 x.2 2.x 4.-1 7.8"),
        Some("7.8")
    );
    assert_eq!(Preset::version("unknown 3"), None);
}

fn codex_events(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn codex_answer_is_the_last_turns() {
    // A later turn with no agent message: its answer is missing, not the earlier turn's.
    let stdout = codex_events(&[
        r#"{"type":"thread.started","thread_id":"t1"}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"first"}}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":2}}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":0}}"#,
    ]);
    let err = Preset::Codex
        .parse_success(&stdout, "")
        .expect_err("no answer in the last turn");
    assert!(err.cause.contains("ended without an answer"), "{err}");
}

#[test]
fn codex_item_events_after_a_preamble_are_a_cut_short_run() {
    let stdout = codex_events(&[
        "Reading prompt from stdin...",
        r#"{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"ls"}}"#,
    ]);
    assert!(Preset::Codex.parse_success(&stdout, "").is_err());
}

#[test]
fn codex_failed_turn_fails_even_after_an_answer() {
    let stdout = codex_events(&[
        r#"{"type":"thread.started","thread_id":"t1"}"#,
        r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"partial"}}"#,
        r#"{"type":"error","message":"stream disconnected before completion: connection reset"}"#,
        r#"{"type":"turn.failed","error":{}}"#,
    ]);
    let err = Preset::Codex
        .parse_success(&stdout, "")
        .expect_err("failed turn");
    assert_eq!(err.class, ErrorClass::Transient, "{err}");
    assert_eq!(
        err.cause,
        "codex: stream disconnected before completion: connection reset"
    );
    let f = Preset::Codex.parse_failure(&stdout, "", Some(1));
    assert_eq!(f, err);
}

#[test]
fn codex_answer_stands_despite_a_reconnect_notice() {
    let stdout = codex_events(&[
        r#"{"type":"thread.started","thread_id":"t1"}"#,
        r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"done"}}"#,
        r#"{"type":"error","message":"Reconnecting... 1/5"}"#,
    ]);
    let reply = Preset::Codex.parse_success(&stdout, "").expect("answer");
    assert_eq!(reply.answer, "done");
}

#[test]
fn codex_messages_classify() {
    let cases = [
        (
            "You've hit your usage limit. Try again later.",
            ErrorClass::RateLimited { retry_after: None },
        ),
        (
            "Quota exceeded. Check your plan and billing details.",
            ErrorClass::RateLimited { retry_after: None },
        ),
        (
            "stream disconnected before completion: invalid api key",
            ErrorClass::Transient,
        ),
        ("request timed out: invalid api key", ErrorClass::Transient),
        (
            "exceeded retry limit, last status: 409 Conflict",
            ErrorClass::Transient,
        ),
        (
            "exceeded retry limit, last status: 408 Request Timeout",
            ErrorClass::Transient,
        ),
    ];
    for (message, class) in cases {
        let f = Preset::Codex.parse_failure("", &format!("ERROR: {message}\n"), Some(1));
        assert_eq!(f.class, class, "{message}: {f}");
        assert_eq!(f.cause, format!("codex: {message}"));
    }
}

#[test]
fn causes_drop_terminal_hyperlinks() {
    let f = Failure::new(
        ErrorClass::Permanent,
        "see \u{1b}]8;;https://x.test/a\u{7}the docs\u{1b}]8;;\u{7} and \u{1b}]8;;https://x.test/b\u{1b}\\the faq\u{1b}]8;;\u{1b}\\ now",
    );
    assert_eq!(f.cause, "see the docs and the faq now");
}

#[test]
fn gemini_text_cause_skips_noise_lines() {
    // With no line naming an error, the cause is the last line that is not noise: banners,
    // warnings, stack frames with or without "at", punctuation.
    let stderr = "the sandbox is gone\nLoaded cached credentials.\nwarning: slow disk\n\
                  Security warning: sandbox disabled\nRipgrep is not available, falling back\n\
                  \x20   at Foo (file:///b/gemini-X.js:12198:26)\n    at Bar.baz\n\
                  /b/bundle/chunk-AB12.js:12198:26\n(file:///b/x.mjs:1:2)\n\
                  OpenAI Codex v0.171.0\n}\n\n";
    let f = Preset::Gemini.parse_failure("", stderr, Some(1));
    assert_eq!(f.cause, "gemini: the sandbox is gone", "{f}");
    // Lines that only look like source locations are causes.
    for line in [
        "Error: failed to load plugin.js:main:3",
        "Error: failed to load plugin.js:3:main",
        "Error: failed to load plugin.js::",
        "Error: failed to load plugin.js:3:",
        "Error: failed to load plugin.txt:3:4",
    ] {
        let f = Preset::Gemini.parse_failure("", &format!("{line}\n"), Some(1));
        assert!(
            f.cause.ends_with(line.trim_start_matches("Error: ")),
            "{line}: {f}"
        );
    }
}

#[test]
fn long_multibyte_stderr_is_cut_at_a_character_boundary() {
    let stderr = format!("{}\nError: quota gone\n", "é".repeat(20_000));
    let f = Preset::Gemini.parse_failure("", &stderr, Some(1));
    assert!(f.cause.ends_with("quota gone"), "{f}");
}

#[test]
fn fractional_token_counts_are_truncated() {
    let stdout = r#"{"type":"result","subtype":"success","is_error":false,"result":"hi","usage":{"input_tokens":12.0,"output_tokens":7.9}}"#;
    let reply = Preset::Claude.parse_success(stdout, "").expect("success");
    let usage = reply.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (12, 7));
}

#[test]
fn claude_rejected_rate_limit_states_the_wait_until_the_reset() {
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let event = |resets_at: u64| {
        format!(
            "{{\"type\":\"rate_limit_event\",\"rate_limit_info\":{{\"status\":\"rejected\",\"resetsAt\":{resets_at},\"rateLimitType\":\"five_hour\"}}}}\n"
        )
    };
    // Cut short after the event: no result.
    let f = Preset::Claude.parse_failure_at(&event(1_800_000_030), "", Some(1), now);
    assert_eq!(
        f.class,
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        },
        "{f}"
    );
    // A reset that is now states no wait.
    let f = Preset::Claude.parse_failure_at(&event(1_800_000_000), "", Some(1), now);
    assert_eq!(
        f.class,
        ErrorClass::RateLimited { retry_after: None },
        "{f}"
    );
    // With an error result that says nothing more, the rejection decides.
    let stdout =
        event(1_800_000_030) + &claude_result(r#""subtype":"success","result":"request ended""#);
    let f = Preset::Claude.parse_failure_at(&stdout, "", Some(1), now);
    assert_eq!(
        f.class,
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        },
        "{f}"
    );
}

#[test]
fn claude_reports_the_init_events_model_and_session() {
    let stdout = concat!(
        r#"{"type":"system","subtype":"init","session_id":"s-init","model":"claude-sonnet-9"}"#,
        "\n",
        r#"{"type":"system","subtype":"status","session_id":"s-other","model":"other"}"#,
        "\n",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"hal"}]}}"#,
        "\n",
    );
    let reply = Preset::Claude.reported(stdout, "");
    assert_eq!(reply.model.as_deref(), Some("claude-sonnet-9"));
    assert_eq!(reply.session_id.as_deref(), Some("s-init"));
}

#[test]
fn claude_null_structured_output_falls_back_to_the_text() {
    let stdout = r#"{"type":"result","subtype":"success","is_error":false,"result":"plain answer","structured_output":null}"#;
    let reply = Preset::Claude.parse_success(stdout, "").expect("success");
    assert_eq!(reply.answer, "plain answer");
}

#[test]
fn gemini_text_answer_that_is_json_is_an_answer() {
    let stdout = "{\n  \"verdict\": \"approve\",\n  \"score\": 7\n}\n";
    let reply = Preset::Gemini
        .parse_success(stdout, "")
        .expect("text answer");
    assert_eq!(reply.answer, stdout);
}

#[test]
fn gemini_stream_joins_deltas_and_replaces_on_a_full_message() {
    let stdout = concat!(
        r#"{"type":"init","session_id":"s1","model":"gemini-3.1-pro-preview"}"#,
        "\n",
        r#"{"type":"message","role":"assistant","content":"draft","delta":false}"#,
        "\n",
        r#"{"type":"message","role":"assistant","content":"Hel"}"#,
        "\n",
        r#"{"type":"message","role":"assistant","content":"lo","delta":true}"#,
        "\n",
        r#"{"type":"message","role":"assistant","content":", world","delta":true}"#,
        "\n",
        r#"{"type":"result","status":"success","stats":{"total_tokens":3,"input_tokens":2,"output_tokens":1}}"#,
        "\n",
    );
    let reply = Preset::Gemini.parse_success(stdout, "").expect("success");
    assert_eq!(reply.answer, "Hello, world");
}

#[test]
fn gemini_model_without_a_main_role_is_the_one_with_most_output() {
    let model = |candidates: u64| serde_json::json!({ "tokens": { "prompt": 10, "candidates": candidates, "cached": 0, "thoughts": 0 } });
    let doc = serde_json::json!({
        "session_id": "s",
        "response": "ok",
        "stats": { "models": {
            "a-small": model(3), "b-big": model(50), "c-mid": model(20), "d-tie": model(50)
        } }
    });
    let stdout = serde_json::to_string_pretty(&doc).expect("print") + "\n";
    let reply = Preset::Gemini.parse_success(&stdout, "").expect("success");
    assert_eq!(reply.model.as_deref(), Some("b-big"));
}
