//! Extraction over realistic mixed CLI output.

use serde_json::{Value, json};
use synod_consensus::{ExtractError, ExtractOptions, extract_json, extract_json_with};

fn ok(raw: &str) -> Value {
    extract_json(raw).unwrap_or_else(|e| panic!("expected JSON, got {e}\n---\n{raw}"))
}

#[test]
fn prose_around_a_fenced_block() {
    let raw = "I looked at the diff carefully.\n\nHere is my verdict:\n\n```json\n{\n  \"audit_verdict\": \"pass\",\n  \"notes\": \"ok\"\n}\n```\n\nLet me know if you need anything else!";
    assert_eq!(ok(raw), json!({"audit_verdict": "pass", "notes": "ok"}));
}

#[test]
fn fence_variants() {
    // Upper-case info string, indented fence, four backticks, unterminated fence.
    assert_eq!(ok("```JSON\n{\"a\": 1}\n```"), json!({"a": 1}));
    assert_eq!(ok("  ```json\n  {\"a\": 2}\n  ```\n"), json!({"a": 2}));
    assert_eq!(ok("````json\n{\"a\": 5}\n````"), json!({"a": 5}));
    assert_eq!(ok("```json\n{\"a\": 3}\n"), json!({"a": 3}));
    // A non-json fence is ignored, the scanner finds the object.
    assert_eq!(
        ok("```python\nx = {1: 2}\n```\n{\"a\": 4}"),
        json!({"a": 4})
    );
}

#[test]
fn unfenced_answer_after_an_echoed_fenced_template() {
    let raw = "[2026-11-27T05:10:00] User instructions:\nAnswer as:\n```json\n{\"audit_verdict\": \"pass|fail\"}\n```\n[2026-11-27T05:10:41] codex\n{\"audit_verdict\": \"fail\"}\n[2026-11-27T05:10:42] tokens used: 99\n";
    assert_eq!(ok(raw), json!({"audit_verdict": "fail"}));
    // Prose after the fence that is not JSON does not displace it.
    let raw = "```json\n{\"a\": 1}\n```\nUse {braces}, [brackets] and [1, 2] freely.";
    assert_eq!(ok(raw), json!({"a": 1}));
}

#[test]
fn two_fenced_blocks_take_the_last() {
    let raw = "First draft:\n```json\n{\"audit_verdict\": \"fail\"}\n```\nOn reflection:\n```json\n{\"audit_verdict\": \"pass\"}\n```\n";
    assert_eq!(ok(raw), json!({"audit_verdict": "pass"}));
}

#[test]
fn codex_style_headers_and_token_counts() {
    let raw = "\
[2026-11-27T05:10:00] OpenAI Codex v0.63.0 (research preview)
--------
workdir: /repo
model: gpt-5-codex
provider: openai
approval: never
sandbox: read-only
reasoning effort: medium
--------
[2026-11-27T05:10:00] User instructions:
Audit the change and answer with {\"audit_verdict\": \"pass|fail\"}.
[2026-11-27T05:10:31] thinking
**Checking the tests**
[2026-11-27T05:10:41] codex
{\"audit_verdict\": \"pass\", \"reasons\": [\"tests pass\", \"no new deps\"]}
[2026-11-27T05:10:42] tokens used: 4,812
";
    let expected = json!({"audit_verdict": "pass", "reasons": ["tests pass", "no new deps"]});
    assert_eq!(ok(raw), expected);
    assert_eq!(
        extract_json_with(raw, &ExtractOptions::cli_defaults()),
        Ok(expected)
    );
    // Only banners and the footer: empty once stripped.
    let banner_only = "[2026-11-27T05:10:00] OpenAI Codex v0.63.0\n--------\nworkdir: /repo\n--------\n[2026-11-27T05:10:42] tokens used: 12\n";
    assert_eq!(
        extract_json_with(banner_only, &ExtractOptions::cli_defaults()),
        Err(ExtractError::Empty)
    );
}

#[test]
fn trailing_token_counts_and_stats() {
    let raw = "{\"summary\": \"done\", \"count\": 3}\n\nTokens: 1,234 in / 567 out [cost $0.01]\n";
    assert_eq!(ok(raw), json!({"summary": "done", "count": 3}));
}

#[test]
fn nested_braces_and_quotes_inside_strings() {
    let raw = r#"Result: {"code": "fn main() { println!(\"{}\", [1, 2][0]); }", "regex": "\\{[a-z]+\\}", "nested": {"deep": [{"x": "}]"}]}} -- end"#;
    assert_eq!(
        ok(raw),
        json!({
            "code": "fn main() { println!(\"{}\", [1, 2][0]); }",
            "regex": "\\{[a-z]+\\}",
            "nested": {"deep": [{"x": "}]"}]}
        })
    );
}

#[test]
fn truncated_json_is_reported_with_position() {
    let raw = "Here you go:\n{\n  \"work_breakdown\": [\n    {\"id\": \"T1\", \"title\": \"Schema\"},\n    {\"id\": \"T2\", \"ti";
    match extract_json(raw) {
        Err(ExtractError::InvalidJson {
            line,
            column,
            message,
        }) => {
            assert_eq!(line, 4, "{message}");
            assert!(column > 0);
            assert!(message.contains("EOF"), "{message}");
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
    // A truncated fenced block, too.
    let raw = "```json\n{\"a\": [1, 2,\n";
    assert!(matches!(
        extract_json(raw),
        Err(ExtractError::InvalidJson { line: 2, .. })
    ));
}

#[test]
fn malformed_last_object_is_not_replaced_by_an_earlier_one() {
    let raw = "Template: {\"audit_verdict\": \"pass\"}\nAnswer: {\"audit_verdict\": \"fail\",}";
    match extract_json(raw) {
        Err(ExtractError::InvalidJson { line, message, .. }) => {
            assert_eq!(line, 1);
            assert!(message.contains("trailing comma"), "{message}");
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
}

#[test]
fn distinct_rejections() {
    assert_eq!(extract_json(""), Err(ExtractError::Empty));
    assert_eq!(extract_json(" \n\t "), Err(ExtractError::Empty));
    assert_eq!(
        extract_json("I could not complete the task."),
        Err(ExtractError::NoJson)
    );
    assert_eq!(
        extract_json("see [the docs] and {this}"),
        Err(ExtractError::NoJson)
    );
    assert_eq!(
        extract_json_with("{\"a\":1}", &ExtractOptions::default().with_min_len(20)),
        Err(ExtractError::TooShort { len: 7, min: 20 })
    );
    let template = r#"```json
{"audit_verdict": "pass | fail | needs_changes", "summary": "<one paragraph>", "risks": [{"risk": "string", "severity": "low|medium|high"}], "score": 0}
```"#;
    assert_eq!(
        extract_json(template),
        Err(ExtractError::SchemaTemplate {
            placeholders: 4,
            leaves: 5
        })
    );
    assert!(
        extract_json_with(
            template,
            &ExtractOptions::default().with_reject_templates(false)
        )
        .is_ok()
    );
    // An echoed JSON Schema is a template too.
    let schema = r#"{"type": "object", "properties": {"audit_verdict": {"type": "string"}}}"#;
    assert!(matches!(
        extract_json(schema),
        Err(ExtractError::SchemaTemplate { .. })
    ));
    // A real answer with one placeholder-looking value is fine.
    assert!(extract_json(r#"{"audit_verdict": "pass", "notes": "...", "risk": "low"}"#).is_ok());
}

#[test]
fn error_messages_say_what_to_do() {
    let text = ExtractError::InvalidJson {
        line: 3,
        column: 7,
        message: "EOF while parsing".into(),
    }
    .to_string();
    assert!(text.contains("line 3, column 7"), "{text}");
    assert!(text.contains("truncated"), "{text}");
    assert!(ExtractError::NoJson.to_string().contains("```json"));
}

#[test]
fn one_megabyte_of_noise_then_the_answer() {
    let mut raw = String::new();
    while raw.len() < 1_000_000 {
        raw.push_str("[2026-11-27T05:10:00] exec ls -la {\"cmd\": \"ls\"} in /repo succeeded\n");
        raw.push_str("prose with a stray [ bracket and \"quotes\n");
    }
    raw.push_str("```json\n{\"final\": true}\n```\n");
    assert_eq!(ok(&raw), json!({"final": true}));
    // Without the fence the scanner still finds the last object.
    let unfenced = raw.replace("```json\n", "").replace("```\n", "");
    assert_eq!(ok(&unfenced), json!({"final": true}));
}
