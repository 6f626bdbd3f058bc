//! Property tests: no parser panics on any input, every cause is one bounded line, and the
//! parsers stay linear on large inputs.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use synod_agents::{Preset, one_line};

/// Fragments of the CLIs' real output, so that arbitrary mixes reach deep into the parsers.
const FRAGMENTS: &[&str] = &[
    "{\"type\":\"result\",",
    "\"is_error\":true,",
    "\"is_error\":false,",
    "\"api_error_status\":429,",
    "\"api_error_status\":",
    "\"result\":\"",
    "\"session_id\":\"s\",",
    "\"modelUsage\":{\"m\":{\"outputTokens\":-1}},",
    "\"usage\":{\"input_tokens\":1e400,",
    "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"rejected\",\"resetsAt\":",
    "1e308}}",
    "-5}}",
    "{\"type\":\"system\",\"subtype\":\"init\",\"model\":",
    "{\"type\":\"thread.started\",\"thread_id\":1}",
    "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":",
    "{\"type\":\"turn.completed\",\"usage\":null}",
    "{\"type\":\"turn.failed\",\"error\":{\"message\":\"status 4",
    "{\"type\":\"error\",\"message\":\"try again in 99999999999999999999h\"}",
    "{\"type\":\"init\",\"session_id\":\"x\",\"model\":\"auto\"}",
    "{\"type\":\"message\",\"role\":\"assistant\",\"content\":\"",
    "\"delta\":true}",
    "{\"type\":\"result\",\"status\":\"error\",\"error\":{\"message\":\"[API Error: {\\\"error\\\":{\\\"code\\\":",
    "{\n  \"session_id\": \"x\",\n  \"error\": {\n    \"code\": ",
    "{\n  \"response\": ",
    "\"details\":[{\"retryDelay\":\"",
    "_ApiError: {\"error\":{\"code\":",
    "retryDelayMs: ",
    "status: ",
    "Attempt 1 failed: ",
    "Full report available at: /x.json FooError: ",
    "ERROR: ",
    "OpenAI Codex v0.171.0\n--------\n",
    "    at f (file:///bundle/gemini-X.js:1:2)\n",
    "\u{1b}[31m",
    "\u{1b}]",
    "\n",
    "}",
    "]",
    "\"",
    "\\",
    "429",
    "503",
    "é",
    "\u{0}",
];

fn cli_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            1 => any::<String>(),
            1 => "[0-9]{1,25}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn check_all(stdout: &str, stderr: &str, exit: Option<i32>) {
    for preset in Preset::ALL {
        for now in [UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)] {
            if let Err(f) = preset.parse_success_at(stdout, stderr, now) {
                assert!(!f.cause.contains('\n') && f.cause.chars().count() <= 501);
            }
            let f = preset.parse_failure_at(stdout, stderr, exit, now);
            assert!(!f.cause.contains('\n'), "{preset}: {:?}", f.cause);
            assert!(f.cause.chars().count() <= 501);
            assert!(!f.cause.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_parser_panics_on_arbitrary_text(stdout in any::<String>(), stderr in any::<String>(), exit in any::<Option<i32>>()) {
        check_all(&stdout, &stderr, exit);
    }

    #[test]
    fn no_parser_panics_on_mixes_of_real_fragments(stdout in cli_like(), stderr in cli_like(), exit in any::<Option<i32>>()) {
        check_all(&stdout, &stderr, exit);
    }

    #[test]
    fn one_line_is_one_bounded_line(text in any::<String>()) {
        let line = one_line(&text);
        prop_assert!(!line.chars().any(|c| c.is_control()));
        prop_assert!(line.chars().count() <= 501);
        prop_assert_eq!(line.trim(), line.as_str());
    }
}

/// Large adversarial inputs (many `{` lines, many error markers, many broken events): the
/// parsers try only the last few candidates of each kind, so these finish in one linear pass
/// (the benchmark `agents` measures the speed; this test checks the results).
#[test]
fn large_adversarial_inputs_are_parsed() {
    let many_braces = "{\n".repeat(200_000);
    let many_markers = "{\"error\":{\"code\":".repeat(100_000);
    let many_events = "{\"type\":\"result\",\"is_error\":tru\n".repeat(50_000);
    for input in [&many_braces, &many_markers, &many_events] {
        check_all(input, input, Some(1));
    }
    let f = Preset::Claude.parse_failure(&many_events, "", Some(1));
    assert_eq!(f.cause, "claude: {\"type\":\"result\",\"is_error\":tru");
}
