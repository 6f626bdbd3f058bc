//! Find the one JSON value an agent CLI meant as its answer inside its raw output.
//!
//! Agent CLIs wrap their answer in prose, banners, timestamps and token counts. The rules,
//! in order:
//!
//! 1. ANSI escape sequences are removed and every line matching one of
//!    [`ExtractOptions::strip_line_prefixes`] is dropped (banners, footers).
//! 2. Nothing left → [`ExtractError::Empty`]; fewer than [`ExtractOptions::min_len`] bytes →
//!    [`ExtractError::TooShort`].
//! 3. If there is a fenced ```` ```json ```` block, the **last** one is the answer (an
//!    unterminated fence runs to the end of the output). If it does not parse →
//!    [`ExtractError::InvalidJson`] with the line and column inside the block. One exception:
//!    a valid JSON object found by rule 4 *after* the last fence wins over it, so
//!    an unfenced answer that follows an echoed prompt's fenced template is still found.
//! 4. Otherwise a scanner (not a regex) finds the balanced top-level `{...}` and `[...]`
//!    spans, respecting strings and escapes. The **last** span that is a valid object wins;
//!    if no object parses, the last valid array. A span that looks like JSON (`{` followed
//!    by `"` or `}`; `[` followed by `{`, `[`, `"` or `]`) but does not parse is reported as
//!    [`ExtractError::InvalidJson`] when it comes after every valid candidate of its kind —
//!    so a truncated answer is an error, never silently replaced by an earlier JSON
//!    fragment (such as an echoed prompt). Bracketed prose such as `[2025-01-01T10:00:00]`
//!    is skipped. Nothing found → [`ExtractError::NoJson`].
//! 5. A value whose leaves are mostly placeholders (`"string"`, `"<...>"`, `"..."`,
//!    `"pass|fail"`, ...) is an echoed schema template → [`ExtractError::SchemaTemplate`]
//!    (disable with [`ExtractOptions::reject_templates`]).
//!
//! The whole pass is linear in the size of the output and never panics.
//!
//! ```
//! use synod_consensus::{extract_json, extract_json_with, ExtractOptions};
//!
//! let raw = "Sure! Here is the audit:\n```json\n{\"audit_verdict\": \"pass\"}\n```\nDone.";
//! assert_eq!(extract_json(raw).unwrap()["audit_verdict"], "pass");
//!
//! let codex = "[2026-11-27T05:00:00] codex\n{\"ok\": true}\n[2026-11-27T05:00:01] tokens used: 1,234\n";
//! let options = ExtractOptions::cli_defaults();
//! assert_eq!(extract_json_with(codex, &options).unwrap()["ok"], true);
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ExtractError;

/// How [`extract_json_with`] cleans and checks an agent's output.
///
/// Deserializable, so it can live in a config file (every field is optional):
///
/// ```
/// # use synod_consensus::ExtractOptions;
/// let options: ExtractOptions =
///     serde_json::from_str(r#"{"min_len": 20, "strip_line_prefixes": ["tokens used"]}"#).unwrap();
/// assert_eq!(options.min_len, 20);
/// assert!(options.reject_templates);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ExtractOptions {
    /// Minimum length in bytes of the stripped, trimmed output; shorter →
    /// [`ExtractError::TooShort`]. `0` (the default) disables the check.
    pub min_len: usize,
    /// Lines to drop before anything else, matched as ASCII-case-insensitive prefixes of the
    /// line after leading whitespace and after an optional leading `[...]` group without
    /// spaces (a codex-style timestamp), so `"tokens used"` drops
    /// `[2026-11-27T05:00:01] tokens used: 1,234`. Empty patterns are ignored.
    pub strip_line_prefixes: Vec<String>,
    /// Remove ANSI escape sequences (colours, cursor moves). Default `true`.
    pub strip_ansi: bool,
    /// Reject values that look like an echoed schema template. Default `true`.
    pub reject_templates: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            min_len: 0,
            strip_line_prefixes: Vec::new(),
            strip_ansi: true,
            reject_templates: true,
        }
    }
}

impl ExtractOptions {
    /// Defaults plus the banner and footer lines printed by common agent CLIs (codex exec's
    /// header block and token count, gemini's credential notice).
    pub fn cli_defaults() -> Self {
        let prefixes = [
            "OpenAI Codex",
            "--------",
            "workdir:",
            "model:",
            "provider:",
            "approval:",
            "sandbox:",
            "reasoning effort:",
            "reasoning summaries:",
            "session id:",
            "tokens used",
            "Loaded cached credentials",
        ];
        Self {
            strip_line_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Sets [`min_len`](Self::min_len).
    #[must_use]
    pub fn with_min_len(mut self, min_len: usize) -> Self {
        self.min_len = min_len;
        self
    }

    /// Adds one line prefix to [`strip_line_prefixes`](Self::strip_line_prefixes).
    #[must_use]
    pub fn strip_line_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.strip_line_prefixes.push(prefix.into());
        self
    }

    /// Sets [`reject_templates`](Self::reject_templates).
    #[must_use]
    pub fn with_reject_templates(mut self, reject: bool) -> Self {
        self.reject_templates = reject;
        self
    }
}

/// Extracts the answer JSON from an agent's raw output with [`ExtractOptions::default`].
/// See the [module docs](self) for the rules.
pub fn extract_json(raw: &str) -> Result<Value, ExtractError> {
    extract_json_with(raw, &ExtractOptions::default())
}

/// Extracts the answer JSON from an agent's raw output. See the [module docs](self) for the
/// rules.
pub fn extract_json_with(raw: &str, options: &ExtractOptions) -> Result<Value, ExtractError> {
    let text = clean(raw, options);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ExtractError::Empty);
    }
    if trimmed.len() < options.min_len {
        return Err(ExtractError::TooShort {
            len: trimmed.len(),
            min: options.min_len,
        });
    }
    let value = match last_fenced_json(&text) {
        Some((block, after)) => {
            let tail = &text[after..];
            match choose(tail, &scan(tail), b"{") {
                // Valid JSON after the last fence is the later answer (the fence was, say,
                // a template in an echoed prompt).
                Ok(value) => value,
                Err(_) => serde_json::from_str::<Value>(block).map_err(|err| invalid(&err))?,
            }
        }
        None => choose(&text, &scan(&text), b"{[")?,
    };
    if options.reject_templates {
        let (placeholders, leaves) = template_stats(&value);
        if leaves > 0 && placeholders * 2 > leaves {
            return Err(ExtractError::SchemaTemplate {
                placeholders,
                leaves,
            });
        }
    }
    Ok(value)
}

fn invalid(err: &serde_json::Error) -> ExtractError {
    let full = err.to_string();
    let message = match full.rfind(" at line ") {
        Some(at) => full[..at].to_owned(),
        None => full,
    };
    ExtractError::InvalidJson {
        line: err.line(),
        column: err.column(),
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Cleaning

fn clean<'a>(raw: &'a str, options: &ExtractOptions) -> Cow<'a, str> {
    let text: Cow<'a, str> = if options.strip_ansi && raw.contains('\u{1b}') {
        Cow::Owned(strip_ansi(raw))
    } else {
        Cow::Borrowed(raw)
    };
    let prefixes: Vec<&str> = options
        .strip_line_prefixes
        .iter()
        .map(|p| p.trim_start())
        .filter(|p| !p.trim_end().is_empty())
        .collect();
    if prefixes.is_empty() {
        return text;
    }
    // One pass; the copy starts only at the first dropped line.
    let mut out: Option<String> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let strip = strip_line(line, &prefixes);
        match &mut out {
            Some(out) if !strip => out.push_str(line),
            None if strip => {
                let mut kept = String::with_capacity(text.len());
                kept.push_str(&text[..offset]);
                out = Some(kept);
            }
            _ => {}
        }
        offset += line.len();
    }
    match out {
        Some(out) => Cow::Owned(out),
        None => text,
    }
}

fn strip_line(line: &str, prefixes: &[&str]) -> bool {
    let line = line.trim_start();
    let after_stamp = leading_stamp_len(line).map(|len| line[len..].trim_start());
    prefixes.iter().any(|p| {
        starts_with_ignore_case(line, p)
            || after_stamp.is_some_and(|r| starts_with_ignore_case(r, p))
    })
}

/// Length of a leading `[...]` group without whitespace, quotes or braces (a timestamp).
fn leading_stamp_len(line: &str) -> Option<usize> {
    let rest = line.strip_prefix('[')?;
    let close = rest.find(']')?;
    let inner = &rest[..close];
    if inner.is_empty()
        || inner
            .bytes()
            .any(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'{' | b'}' | b'['))
    {
        return None;
    }
    Some(close + 2)
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn strip_ansi(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            // CSI: ESC [ parameters... final byte in @..~
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: ESC ] ... BEL or ESC \
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Two-byte escape.
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Fenced blocks

/// The content of the last ```json fenced block (to the end of the text when unterminated)
/// and the offset just after its closing fence line.
fn last_fenced_json(text: &str) -> Option<(&str, usize)> {
    // (is_json, fence length, content start)
    let mut open: Option<(bool, usize, usize)> = None;
    // (content start, content end, after the closing fence)
    let mut last: Option<(usize, usize, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim();
        let ticks = t.bytes().take_while(|&b| b == b'`').count();
        match open {
            None if ticks >= 3 => {
                let info = t[ticks..].trim();
                let is_json = info
                    .split(|c: char| c.is_whitespace() || c == '{')
                    .next()
                    .is_some_and(|word| word.eq_ignore_ascii_case("json"));
                open = Some((is_json, ticks, offset));
            }
            Some((is_json, fence, content)) if ticks >= fence && ticks == t.len() => {
                if is_json {
                    last = Some((content, start, offset));
                }
                open = None;
            }
            _ => {}
        }
    }
    if let Some((true, _, content)) = open {
        last = Some((content, text.len(), text.len()));
    }
    last.map(|(from, to, after)| (&text[from..to], after))
}

// ---------------------------------------------------------------------------------------------
// Scanner

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

struct Frame {
    start: usize,
    children: Vec<Span>,
}

/// Top-level candidate spans in text order. A span starts at `{` or `[` and ends after the
/// closer that brings the depth back to zero (a mismatched closer still counts; the span then
/// fails to parse); an unclosed span that looks like JSON runs to the
/// end of the text, and one that does not (a stray bracket in prose) is replaced by the
/// balanced spans inside it.
fn scan(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        if stack.is_empty() {
            // Prose: jump to the next opener.
            match text[i..].find(['{', '[']) {
                Some(rel) => {
                    i += rel;
                    stack.push(Frame {
                        start: i,
                        children: Vec::new(),
                    });
                    in_string = false;
                    escaped = false;
                    i += 1;
                    continue;
                }
                None => break,
            }
        }
        let c = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' || c == b'\n' {
                // A raw newline cannot be inside a JSON string: the quote was prose.
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => stack.push(Frame {
                    start: i,
                    children: Vec::new(),
                }),
                b'}' | b']' => {
                    if let Some(frame) = stack.pop() {
                        let span = Span {
                            start: frame.start,
                            end: i + 1,
                        };
                        match stack.last_mut() {
                            Some(parent) => parent.children.push(span),
                            None => out.push(span),
                        }
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    for frame in stack {
        if looks_like_json(&text[frame.start..]) {
            out.push(Span {
                start: frame.start,
                end: text.len(),
            });
            break;
        }
        out.extend(frame.children);
    }
    out
}

/// `{` followed by `"` or `}`; `[` followed by `{`, `[`, `"` or `]` (whitespace allowed).
fn looks_like_json(s: &str) -> bool {
    let mut rest = s.chars();
    let open = rest.next();
    let next = rest.as_str().trim_start().chars().next();
    matches!(
        (open, next),
        (Some('{'), Some('"' | '}')) | (Some('['), Some('{' | '[' | '"' | ']'))
    )
}

/// The last valid span of the first kind in `kinds` (`{` and/or `[`) that has one.
fn choose(text: &str, spans: &[Span], kinds: &[u8]) -> Result<Value, ExtractError> {
    for &kind in kinds {
        for span in spans
            .iter()
            .rev()
            .filter(|s| text.as_bytes().get(s.start) == Some(&kind))
        {
            let s = &text[span.start..span.end];
            match serde_json::from_str::<Value>(s) {
                Ok(value) => return Ok(value),
                Err(err) if looks_like_json(s) => return Err(invalid(&err)),
                Err(_) => {}
            }
        }
    }
    Err(ExtractError::NoJson)
}

// ---------------------------------------------------------------------------------------------
// Template detection

fn template_stats(value: &Value) -> (usize, usize) {
    let mut placeholders = 0;
    let mut leaves = 0;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            // Empty strings and nulls are how real answers say "nothing": neither evidence.
            Value::Null => {}
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) => {
                leaves += 1;
                if is_placeholder(s) {
                    placeholders += 1;
                }
            }
            _ => leaves += 1,
        }
    }
    (placeholders, leaves)
}

fn is_placeholder(s: &str) -> bool {
    let t = s.trim();
    if (t.starts_with('<') && t.ends_with('>')) || t == "..." || t == "\u{2026}" {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "string"
            | "str"
            | "text"
            | "number"
            | "integer"
            | "int"
            | "float"
            | "boolean"
            | "bool"
            | "array"
            | "object"
            | "null"
            | "todo"
            | "tbd"
            | "xxx"
    ) {
        return true;
    }
    // An enum written as alternatives: "pass|fail", "string | null", "low|medium|high".
    t.contains('|')
        && t.split('|').all(|part| {
            let part = part.trim();
            !part.is_empty()
                && part.len() <= 32
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(raw: &str) -> Value {
        match extract_json(raw) {
            Ok(v) => v,
            Err(e) => panic!("expected JSON from {raw:?}, got {e}"),
        }
    }

    #[test]
    fn scanner_respects_strings_and_escapes() {
        let raw = r#"note {"a": "}{ \" ]", "b": [1, {"c": "x"}]} end"#;
        assert_eq!(ok(raw), json!({"a": "}{ \" ]", "b": [1, {"c": "x"}]}));
    }

    #[test]
    fn last_object_wins_and_objects_beat_arrays() {
        let raw = "{\"n\": 1}\nthen {\"n\": 2}\nsee [1] and - [ ] todo";
        assert_eq!(ok(raw), json!({"n": 2}));
        assert_eq!(ok("only [1, 2] here"), json!([1, 2]));
    }

    #[test]
    fn timestamps_and_stray_brackets_are_skipped() {
        let raw =
            "[2026-11-27T05:00:00] codex\n[see below\n{\"ok\": true}\n[2026-11-27T05:00:01] done";
        assert_eq!(ok(raw), json!({"ok": true}));
    }

    #[test]
    fn truncated_object_is_invalid_not_an_earlier_fragment() {
        let raw = "prompt echo {\"x\": 1}\nanswer:\n{\"a\": {\"b\": 1}, \"c\": [1, 2";
        match extract_json(raw) {
            Err(ExtractError::InvalidJson { line, message, .. }) => {
                assert_eq!(line, 1);
                assert!(message.contains("EOF"), "{message}");
            }
            other => panic!("expected InvalidJson, got {other:?}"),
        }
    }

    #[test]
    fn fenced_block_line_and_column_are_inside_the_block() {
        let raw = "intro\n```json\n{\n  \"a\": 1,\n  \"b\": oops\n}\n```\n";
        assert_eq!(
            extract_json(raw),
            Err(ExtractError::InvalidJson {
                line: 3,
                column: 8,
                message: "expected value".into()
            })
        );
    }

    #[test]
    fn stripping_handles_stamps_case_and_empty_patterns() {
        let options = ExtractOptions::default()
            .strip_line_prefix("TOKENS USED")
            .strip_line_prefix("");
        assert_eq!(
            extract_json_with("[2026-11-27T05:00:01] tokens used: 12\n", &options),
            Err(ExtractError::Empty)
        );
        assert_eq!(
            extract_json_with("tokens used: 12\n{\"a\": 1}", &options),
            Ok(json!({"a": 1}))
        );
    }

    #[test]
    fn clean_keeps_everything_but_matching_lines() {
        let options = ExtractOptions::default()
            .strip_line_prefix("  tokens used")
            .strip_line_prefix("model:");
        let raw = "keep 1\n  Tokens used: 5\nkeep 2\n[12:00] model: x\nkeep 3";
        assert_eq!(clean(raw, &options), "keep 1\nkeep 2\nkeep 3");
        assert!(matches!(
            clean("nothing to drop", &options),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn ansi_sequences_are_removed() {
        let raw = "\u{1b}[32m{\"a\":\u{1b}[0m 1}\u{1b}]0;title\u{7}";
        assert_eq!(ok(raw), json!({"a": 1}));
    }

    #[test]
    fn placeholders() {
        for p in [
            "string",
            " <risk> ",
            "...",
            "pass|fail",
            "string | null",
            "Number",
        ] {
            assert!(is_placeholder(p), "{p:?}");
        }
        for p in [
            "pass",
            "SQL injection",
            "a | b c",
            "use <b>bold</b> text",
            "",
            "a|",
        ] {
            assert!(!is_placeholder(p), "{p:?}");
        }
    }

    #[test]
    fn empty_strings_and_nulls_do_not_make_a_template() {
        let answer = json!({"audit_verdict": "pass", "notes": "", "blockers": "", "owner": null});
        assert_eq!(template_stats(&answer), (0, 1));
        assert_eq!(template_stats(&json!({"a": "string", "b": ""})), (1, 1));
    }

    #[test]
    fn looks_like_json_cases() {
        assert!(looks_like_json("{ \"a\""));
        assert!(looks_like_json("{}"));
        assert!(looks_like_json("[ {"));
        assert!(!looks_like_json("[2026-11-27]"));
        assert!(!looks_like_json("{see below}"));
        assert!(!looks_like_json("{"));
    }
}
