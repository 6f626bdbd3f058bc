//! Text helpers shared by the adapters: one-line causes, HTTP statuses, embedded JSON,
//! and picking the meaningful line of an output (never a banner or a stack frame).

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use synod_core::ErrorClass;
use synod_exec::Classifier;

/// The longest cause kept, in characters.
const MAX_CAUSE_CHARS: usize = 500;

/// How many bytes of an output's end are searched for a cause.
const TAIL_BYTES: usize = 16 * 1024;

/// `text` as one line: ANSI escapes removed, every run of whitespace (newlines included) one
/// space, trimmed, at most 500 characters (cut with `…`).
///
/// ```
/// assert_eq!(synod_agents::one_line("  \x1b[31mAPI key\n   not valid\x1b[0m "), "API key not valid");
/// ```
#[must_use]
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CAUSE_CHARS + 4));
    let mut chars = text.chars().peekable();
    let mut count = 0;
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte; OSC: ESC ] ... BEL or ESC \; others: ESC + one char.
            match chars.next() {
                Some('[') => {
                    for d in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&d) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' || (d == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if count + 1 + usize::from(pending_space) > MAX_CAUSE_CHARS {
            out.push('…');
            break;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// The class of an HTTP status: 429 rate-limited (with `retry_after`), 408, 409, 5xx and
/// 529 transient, any other 4xx permanent; anything else transient.
pub(crate) fn status_class(status: u64, retry_after: Option<Duration>) -> ErrorClass {
    match status {
        429 => ErrorClass::RateLimited { retry_after },
        408 | 409 => ErrorClass::Transient,
        400..=499 => ErrorClass::Permanent,
        _ => ErrorClass::Transient,
    }
}

/// synod-exec's default classification of a text ("429", "overloaded", "invalid api key",
/// "retry after 12s", ...).
pub(crate) fn classify_text(text: &str) -> ErrorClass {
    match classify_raw(text) {
        ErrorClass::RateLimited { .. } => ErrorClass::RateLimited {
            retry_after: retry_after_in(text),
        },
        other => other,
    }
}

fn classify_raw(text: &str) -> ErrorClass {
    static DEFAULT: LazyLock<Classifier> = LazyLock::new(Classifier::default);
    DEFAULT.classify(text)
}

/// The wait a text states ("retry after 12s", "try again in 17s"), if any.
pub(crate) fn retry_after_in(text: &str) -> Option<Duration> {
    // A sentence's full stop is no part of the number: "try again in 20s." reads as 20s.
    let text = text.replace(". ", " ").replace(".\n", " ");
    let text = text.trim_end().trim_end_matches('.');
    match classify_raw(&format!("rate limit {text}")) {
        ErrorClass::RateLimited { retry_after } => retry_after,
        _ => None,
    }
}

/// The seconds until `reset_epoch_secs` (a Unix time), `None` when it has passed.
pub(crate) fn until(reset_epoch_secs: f64, now: SystemTime) -> Option<Duration> {
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    let wait = reset_epoch_secs - now;
    (wait.is_finite() && wait > 0.0 && wait < 1e9).then(|| Duration::from_secs_f64(wait))
}

/// An HTTP status stated in a message: "status 401", "status: 429", "last status: 429",
/// "API Error: 503", "Request rejected (429)", "code 429", "HTTP 503".
pub(crate) fn http_status_in(text: &str) -> Option<u64> {
    const MARKERS: [&str; 7] = [
        "status ",
        "status: ",
        "api error: ",
        "rejected (",
        "code ",
        "http ",
        "code: ",
    ];
    let lower = text.to_ascii_lowercase();
    MARKERS.iter().find_map(|marker| {
        lower.match_indices(marker).find_map(|(at, m)| {
            let rest = &lower.as_bytes()[at + m.len()..];
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits != 3 {
                return None;
            }
            let n = std::str::from_utf8(&rest[..3]).ok()?.parse::<u64>().ok()?;
            (400..=599).contains(&n).then_some(n)
        })
    })
}

/// The last JSON object in `text` that starts with `marker` (e.g. `{"error":`), parsed.
/// Only the last few occurrences are tried, so the search stays linear.
pub(crate) fn embedded_json(text: &str, marker: &str) -> Option<Value> {
    text.rmatch_indices(marker)
        .take(4)
        .find_map(|(at, _)| first_value(&text[at..]).filter(Value::is_object))
}

/// The first JSON value at the start of `text` (trailing text ignored).
pub(crate) fn first_value(text: &str) -> Option<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// The last pretty-printed top-level JSON object in `text`: from the last few lines that are
/// exactly `{` (as `JSON.stringify(value, null, 2)` writes one) to its end.
pub(crate) fn last_block_object(text: &str) -> Option<Value> {
    let mut starts = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "{" {
            starts.push(at);
        }
        at += line.len();
    }
    starts
        .iter()
        .rev()
        .take(4)
        .find_map(|&at| first_value(&text[at..]).filter(Value::is_object))
}

/// The end of `text`, at most `TAIL_BYTES`, cut at a character boundary.
pub(crate) fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Whether a line is noise for a cause: blank, punctuation only, a stack frame, a banner,
/// a progress rule, a warning.
fn is_noise(line: &str) -> bool {
    let t = line.trim();
    let lower = t.to_ascii_lowercase();
    t.is_empty()
        || t.chars().all(|c| c.is_ascii_punctuation())
        || lower.starts_with("at ")
        || is_source_location(t)
        || lower.starts_with("openai codex v")
        || lower.starts_with("warning")
        || lower.starts_with("security warning")
        || lower.starts_with("ripgrep is not available")
        || lower.starts_with("loaded cached credentials")
}

/// `…/bundle/chunk-XXXX.js:12198:26`, `(file:///x.js:1:2)`: a stack frame without "at".
fn is_source_location(t: &str) -> bool {
    let t = t.trim_end_matches(')');
    let mut parts = t.rsplitn(3, ':');
    let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !col.is_empty()
        && !line.is_empty()
        && col.bytes().all(|b| b.is_ascii_digit())
        && line.bytes().all(|b| b.is_ascii_digit())
        && [".js", ".mjs", ".cjs", ".ts", ".rs"]
            .iter()
            .any(|ext| file.ends_with(ext))
}

/// The line of `text` that says what went wrong: the last one mentioning an error (or a
/// status, a rate limit, a key), else the last meaningful one; noise never.
pub(crate) fn cause_line(text: &str) -> Option<&str> {
    let text = tail(text);
    let lines = || text.lines().rev().filter(|l| !is_noise(l));
    const WORDS: [&str; 6] = [
        "error",
        "fail",
        "denied",
        "invalid",
        "rate limit",
        "too many requests",
    ];
    lines()
        .find(|l| {
            let lower = l.to_ascii_lowercase();
            WORDS.iter().any(|w| lower.contains(w))
        })
        .or_else(|| lines().next())
        .map(|l| {
            let t = l.trim();
            ["ERROR: ", "Error: ", "error: "]
                .iter()
                .find_map(|p| t.strip_prefix(p))
                .unwrap_or(t)
        })
}

/// The text of a JSON string field, if it is a non-empty string.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A JSON number field as a non-negative integer (floats truncated, anything else 0).
pub(crate) fn count(value: &Value, key: &str) -> u64 {
    match value.get(key) {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strips_ansi_collapses_whitespace_and_caps_the_length() {
        assert_eq!(one_line("\x1b[1;31ma\r\n\tb\x1b]x  "), "a b");
        let long = "x".repeat(2000);
        assert_eq!(one_line(&long).chars().count(), MAX_CAUSE_CHARS + 1);
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn statuses_are_found_in_the_cli_phrasings() {
        assert_eq!(
            http_status_in("unexpected status 401 Unauthorized: x"),
            Some(401)
        );
        assert_eq!(
            http_status_in("exceeded retry limit, last status: 429 Too Many Requests"),
            Some(429)
        );
        assert_eq!(http_status_in("API Error: 529 Overloaded."), Some(529));
        assert_eq!(
            http_status_in("API Error: Request rejected (429) · later"),
            Some(429)
        );
        assert_eq!(http_status_in("status 4290"), None);
        assert_eq!(http_status_in("status 200"), None);
        assert_eq!(http_status_in("nothing"), None);
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(401, None), ErrorClass::Permanent);
        assert_eq!(status_class(404, None), ErrorClass::Permanent);
        assert_eq!(
            status_class(429, Some(Duration::from_secs(3))),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(status_class(503, None), ErrorClass::Transient);
        assert_eq!(status_class(529, None), ErrorClass::Transient);
    }

    #[test]
    fn cause_lines_skip_banners_stack_frames_and_warnings() {
        let gemini = "Error when talking to Gemini API\n    at Foo (file:///b/gemini-X.js:12198:26)\n\
                      file:///b/gemini-X.js:12198:26\n}\n";
        assert_eq!(cause_line(gemini), Some("Error when talking to Gemini API"));
        let codex = "OpenAI Codex v0.171.0\n--------\nmodel: gpt-5\n--------\n\
                     warning: no bubblewrap\nERROR: unexpected status 401 Unauthorized: bad key\n";
        assert_eq!(
            cause_line(codex),
            Some("unexpected status 401 Unauthorized: bad key")
        );
        assert_eq!(cause_line("OpenAI Codex v0.171.0\n--------\n"), None);
        assert_eq!(cause_line("just this\n\n"), Some("just this"));
    }

    #[test]
    fn embedded_and_block_json_are_found_at_the_end() {
        let text = "x _ApiError: {\"error\":{\"code\":401}} y\nz {\"error\":{\"code\":429}}";
        assert_eq!(
            embedded_json(text, "{\"error\":").unwrap()["error"]["code"],
            429
        );
        let block = "noise {\n{\n  \"a\": 1\n}\ntrailing\n{\n  \"b\": 2\n}\n";
        assert_eq!(last_block_object(block).unwrap()["b"], 2);
        assert_eq!(last_block_object("{\n  \"truncated\": "), None);
    }

    #[test]
    fn waits_and_reset_times() {
        assert_eq!(
            retry_after_in("Please retry in 17s."),
            Some(Duration::from_secs(17))
        );
        assert_eq!(retry_after_in("Please try again later."), None);
        assert_eq!(
            retry_after_in("Please try again in 20s. Or 2.5s."),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            retry_after_in("retry after 2.5s."),
            Some(Duration::from_millis(2500))
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(until(1_017.0, now), Some(Duration::from_secs(17)));
        assert_eq!(until(999.0, now), None);
        assert_eq!(until(f64::NAN, now), None);
    }
}
