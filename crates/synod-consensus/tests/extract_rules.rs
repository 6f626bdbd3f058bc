//! The extraction rules at their edges: inputs on which a wrong rule gives a different
//! answer than the right one (each test fails if its rule is broken; see docs/TESTING.md).

use serde_json::json;
use synod_consensus::{ExtractError, ExtractOptions, extract_json, extract_json_with};

#[test]
fn the_last_fenced_block_is_the_answer_even_when_prose_holds_other_json() {
    // The scanner alone would pick the echoed object (objects beat arrays); the fence says
    // the answer is the array.
    let raw = "Example: {\"audit_verdict\": \"fail\"}\nAnswer:\n```json\n[\"a\", \"b\"]\n```\n";
    assert_eq!(extract_json(raw), Ok(json!(["a", "b"])));
    // A later bare array does not displace the fenced block (only a later object does).
    let raw = "```json\n[1]\n```\nsee also [2]\n";
    assert_eq!(extract_json(raw), Ok(json!([1])));
    // An invalid fenced block is an error, not silently replaced by earlier prose JSON.
    let raw = "Template: {\"a\": 1}\n```json\n{\"a\": oops}\n```\n";
    assert!(matches!(
        extract_json(raw),
        Err(ExtractError::InvalidJson { line: 1, .. })
    ));
    // The last of two fenced blocks wins, even when the first is the scanner's favourite.
    let raw = "```json\n{\"a\": 1}\n```\n```json\n[2]\n```\n";
    assert_eq!(extract_json(raw), Ok(json!([2])));
}

#[test]
fn a_fence_needs_three_backticks_and_a_closing_line_of_only_backticks() {
    // Two backticks are no fence: the scanner's last array is the answer.
    let raw = "``json\n[1]\n``\nlater [2]\n";
    assert_eq!(extract_json(raw), Ok(json!([2])));
    // Exactly three open a fence.
    let raw = "```json\n[1]\n```\nlater [2]\n";
    assert_eq!(extract_json(raw), Ok(json!([1])));
    // A closing fence shorter than the opening one does not close it; nor does a line that
    // only starts with backticks.
    let raw = "````json\n[1]\n```\n````\nlater [2]\n";
    assert!(matches!(
        extract_json(raw),
        Err(ExtractError::InvalidJson { .. })
    ));
    let raw = "```json\n[1]\n```not a close\n```\nlater [2]\n";
    assert!(matches!(
        extract_json(raw),
        Err(ExtractError::InvalidJson { .. })
    ));
    // A non-json fence (info string `jsonc` is not `json`) is ignored.
    let raw = "```jsonc\n[1]\n```\nlater [2]\n";
    assert_eq!(extract_json(raw), Ok(json!([2])));
    // `json{` counts as a json info string.
    let raw = "```json{class=x}\n[1]\n```\nlater [2]\n";
    assert_eq!(extract_json(raw), Ok(json!([1])));
}

#[test]
fn ansi_escapes_are_stripped_around_and_inside_json() {
    // CSI with parameters, around keys and values.
    let raw = "\u{1b}[1;32m{\"verdict\":\u{1b}[0m \"pass\"}\u{1b}[0m";
    assert_eq!(extract_json(raw), Ok(json!({"verdict": "pass"})));
    // OSC 8 hyperlink terminated by ST (ESC \): only the link text is kept.
    let raw = "{\"link\": \"\u{1b}]8;;https://x.test/a\u{1b}\\docs\u{1b}]8;;\u{1b}\\\"}";
    assert_eq!(extract_json(raw), Ok(json!({"link": "docs"})));
    // OSC terminated by BEL inside a value.
    let raw = "{\"t\": \"a\u{1b}]0;ti}tle\u{7}b\"}";
    assert_eq!(extract_json(raw), Ok(json!({"t": "ab"})));
    // A backslash inside an OSC (a window title with a Windows path) does not end it; only
    // ESC \ or BEL does.
    let raw = "{\"t\": \"a\u{1b}]0;C:\\dir\u{7}b\"}";
    assert_eq!(extract_json(raw), Ok(json!({"t": "ab"})));
    // A two-byte escape (ESC =) between tokens.
    let raw = "{\"n\":\u{1b}= 3}";
    assert_eq!(extract_json(raw), Ok(json!({"n": 3})));
    // Without stripping, the escapes stay in the text and the value is not clean JSON.
    let options: ExtractOptions = serde_json::from_str(r#"{"strip_ansi": false}"#).unwrap();
    assert!(extract_json_with("{\"n\":\u{1b}= 3}", &options).is_err());
}

#[test]
fn min_len_accepts_exactly_the_minimum_and_rejects_one_byte_less() {
    // Seven bytes once trimmed (surrounding whitespace does not count).
    let raw = "  {\"a\":1}\n";
    assert_eq!(
        extract_json_with(raw, &ExtractOptions::default().with_min_len(7)),
        Ok(json!({"a": 1}))
    );
    assert_eq!(
        extract_json_with(raw, &ExtractOptions::default().with_min_len(8)),
        Err(ExtractError::TooShort { len: 7, min: 8 })
    );
    assert_eq!(
        extract_json_with(raw, &ExtractOptions::default().with_min_len(6)),
        Ok(json!({"a": 1}))
    );
}

#[test]
fn a_template_needs_more_than_half_placeholder_leaves() {
    // Exactly half: a real answer.
    let half = json!({"verdict": "pass", "notes": "<notes>"});
    assert_eq!(extract_json(&half.to_string()), Ok(half));
    // Two of three: a template.
    assert_eq!(
        extract_json(r#"{"verdict": "pass|fail", "notes": "<notes>", "score": 3}"#),
        Err(ExtractError::SchemaTemplate {
            placeholders: 2,
            leaves: 3
        })
    );
    // One of one.
    assert_eq!(
        extract_json(r#"{"verdict": "string"}"#),
        Err(ExtractError::SchemaTemplate {
            placeholders: 1,
            leaves: 1
        })
    );
    // Angle brackets only count as a placeholder when they wrap the whole value.
    for text in ["<b>bold</b> text", "see <docs>", "a -> b"] {
        let answer = json!({ "note": text });
        assert_eq!(extract_json(&answer.to_string()), Ok(answer), "{text}");
    }
    // No leaves at all (only empties and nulls) is an answer, not a template.
    assert_eq!(
        extract_json(r#"{"notes": "", "owner": null}"#),
        Ok(json!({"notes": "", "owner": null}))
    );
}

#[test]
fn only_a_bracket_group_without_spaces_quotes_or_braces_is_a_timestamp() {
    let options = ExtractOptions::default().strip_line_prefix("tokens used");
    // A timestamp before the prefix: the line is dropped.
    assert_eq!(
        extract_json_with("[05:00:01] tokens used: 5\n", &options),
        Err(ExtractError::Empty)
    );
    // Bracketed prose (spaces), an empty group, a quoted group: not timestamps, so the line
    // stays (and is then judged as text).
    assert_eq!(
        extract_json_with("[see below] tokens used: 5\n", &options),
        Err(ExtractError::NoJson)
    );
    assert_eq!(
        extract_json_with("[] tokens used: 5\n", &options),
        Ok(json!([]))
    );
    assert_eq!(
        extract_json_with("[\"a\"] tokens used: 5\n", &options),
        Ok(json!(["a"]))
    );
}

#[test]
fn an_agent_report_holds_the_extracted_value_or_none() {
    use synod_consensus::AgentReport;
    let options = ExtractOptions::default();
    let ok = AgentReport::from_output("claude", "answer: {\"v\": 1}", &options);
    assert_eq!(ok.value(), Some(&json!({"v": 1})));
    let rejected = AgentReport::from_output("codex", "no json here", &options);
    assert_eq!(rejected.value(), None);
}
