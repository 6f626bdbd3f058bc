//! Gemini CLI: `gemini --output-format json` prints one pretty-printed object,
//! `{"session_id", "response": "…", "stats": {"models": {name: {"tokens": {…}, "roles": {…}}}}}`,
//! on success; on failure it writes `{"session_id", "error": {"type", "message", "code"}}` to
//! standard error (after warnings and stack traces) and exits with the HTTP status modulo 256
//! (401 → 145, 429 → 173, 503 → 247), or 41 (authentication), 42 (input), 53 (turn limit).
//! `--output-format stream-json` prints JSON lines: `init` (session id, model), `message`
//! (assistant chunks, `delta: true`), `result` (`status` `success|error`, `error`, `stats`).
//! The error message is often the API's own error as JSON text
//! (`{"error":{"code":401,"message":…,"status":"UNAUTHENTICATED"}}`); a 429 says "Please
//! retry in 17s" and the text mode's dump adds `retryDelayMs: 17000`.

use std::time::Duration;

use serde_json::Value;
use synod_core::ErrorClass;

use crate::text::{self, count, str_field};
use crate::{Failure, Reply, Usage};

pub(crate) fn parse_success(stdout: &str, stderr: &str) -> Result<Reply, Failure> {
    let trimmed = stdout.trim_start();
    if trimmed.starts_with("{\"type\":") {
        return stream(stdout, stderr);
    }
    // The envelope is the whole output, or its last pretty-printed object when something
    // (a warning) was printed before it.
    let doc = if trimmed.starts_with('{') {
        text::first_value(trimmed)
    } else {
        text::last_block_object(stdout)
    };
    if let Some(doc) = doc.filter(Value::is_object)
        && (doc.get("response").is_some() || doc.get("error").is_some())
    {
        if let Some(error) = doc.get("error").filter(|e| e.is_object()) {
            return Err(failure_of(error, stderr, None));
        }
        let stats = doc.get("stats").unwrap_or(&Value::Null);
        return Ok(Reply {
            answer: str_field(&doc, "response").unwrap_or_default().to_owned(),
            session_id: str_field(&doc, "session_id").map(str::to_owned),
            model: main_model(stats),
            usage: stats
                .get("models")
                .and_then(Value::as_object)
                .map(|models| {
                    let mut usage = Usage::default();
                    for m in models.values() {
                        let t = m.get("tokens").unwrap_or(&Value::Null);
                        usage.add(Usage::new(
                            count(t, "prompt"),
                            count(t, "candidates").saturating_add(count(t, "thoughts")),
                            count(t, "cached"),
                        ));
                    }
                    usage
                }),
            cost_usd: None,
        });
    }
    if trimmed.starts_with("{\n") && trimmed.contains("\"session_id\": \"") {
        return Err(Failure::new(
            ErrorClass::Permanent,
            "gemini: its JSON output is cut short (raise the output cap, or see whether the \
             CLI was interrupted)",
        ));
    }
    Ok(Reply::text(stdout))
}

/// stream-json: assistant chunks joined; the `result` event decides.
fn stream(stdout: &str, stderr: &str) -> Result<Reply, Failure> {
    let mut answer = String::new();
    let mut session_id = None;
    let mut init_model = None;
    let mut result = None;
    for line in stdout.lines() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match event.get("type").and_then(Value::as_str) {
            Some("init") => {
                session_id = str_field(&event, "session_id").map(str::to_owned);
                init_model = str_field(&event, "model")
                    .filter(|m| *m != "auto")
                    .map(str::to_owned);
            }
            Some("message") if str_field(&event, "role") == Some("assistant") => {
                if event.get("delta").and_then(Value::as_bool) != Some(true) {
                    answer.clear();
                }
                answer.push_str(str_field(&event, "content").unwrap_or_default());
            }
            Some("result") => result = Some(event),
            _ => {}
        }
    }
    let Some(result) = result else {
        return Err(Failure::new(
            ErrorClass::Permanent,
            "gemini: its stream-json output ended without a result (cut short: raise the \
             output cap, or see whether the CLI was interrupted)",
        ));
    };
    if str_field(&result, "status") == Some("error") {
        let error = result.get("error").unwrap_or(&Value::Null);
        return Err(failure_of(error, stderr, None));
    }
    let stats = result.get("stats").unwrap_or(&Value::Null);
    let usage = stats
        .get("models")
        .and_then(Value::as_object)
        .map(|models| {
            let mut usage = Usage::default();
            for m in models.values() {
                usage.add(Usage::new(
                    count(m, "input_tokens"),
                    count(m, "output_tokens"),
                    count(m, "cached"),
                ));
            }
            usage
        });
    let model = init_model.or_else(|| {
        let models = stats.get("models")?.as_object()?;
        most(models.iter().map(|(k, v)| (k, count(v, "output_tokens"))))
    });
    Ok(Reply {
        answer,
        session_id,
        model,
        usage,
        cost_usd: None,
    })
}

pub(crate) fn parse_failure(stdout: &str, stderr: &str, exit_code: Option<i32>) -> Option<Failure> {
    // stream-json: the result event on stdout.
    if stdout.trim_start().starts_with("{\"type\":")
        && stdout.contains("\"type\":\"result\"")
        && let Err(failure) = stream(stdout, stderr)
    {
        return Some(failure);
    }
    // json: the error object, last on stderr (or on stdout).
    for out in [stderr, stdout] {
        if let Some(doc) = text::last_block_object(text::tail(out))
            && let Some(error) = doc.get("error").filter(|e| e.is_object())
        {
            return Some(failure_of(error, stderr, exit_code));
        }
    }
    // text: the API's error JSON in a dump, "Attempt 1 failed: …", "…Error: message".
    let tail = text::tail(stderr);
    if let Some(api) = text::embedded_json(tail, "{\"error\":{") {
        let error = api.get("error").unwrap_or(&Value::Null);
        return Some(failure_of(error, stderr, exit_code));
    }
    let message = text_cause(tail)?;
    let status = dump_status(tail).or_else(|| exit_status(exit_code));
    let retry = retry_delay(tail);
    let class = match status {
        Some(s) => text::status_class(s, retry),
        None => text::classify_text(&message),
    };
    Some(Failure::new(class, cause(status, None, &message)))
}

/// A gemini error object: `{"type", "message", "code"}` (the CLI's) or `{"code", "message",
/// "status", "details"}` (the API's). A message that holds the API's error (as JSON, or as
/// `[API Error: …]`) is unwrapped.
fn failure_of(error: &Value, stderr: &str, exit_code: Option<i32>) -> Failure {
    let raw = str_field(error, "message").unwrap_or_default();
    let api = raw
        .find('{')
        .and_then(|at| text::first_value(&raw[at..]))
        .and_then(|v| v.get("error").cloned().filter(Value::is_object));
    let inner = api.as_ref().unwrap_or(error);
    let message = str_field(inner, "message").map_or_else(
        || {
            raw.trim_start_matches("[API Error: ")
                .split("]\n")
                .next()
                .unwrap_or(raw)
                .to_owned()
        },
        str::to_owned,
    );
    let api_status = str_field(inner, "status");
    let code = inner
        .get("code")
        .and_then(Value::as_u64)
        .or_else(|| error.get("code").and_then(Value::as_u64));
    let status = code
        .filter(|c| (100..=599).contains(c))
        .or_else(|| text::http_status_in(&message))
        .or_else(|| exit_status(exit_code))
        .or_else(|| dump_status(text::tail(stderr)));
    let retry = details_delay(inner)
        .or_else(|| text::retry_after_in(&message))
        .or_else(|| retry_delay(text::tail(stderr)));
    let class = match (status, code, api_status) {
        (Some(s), _, _) => text::status_class(s, retry),
        (None, _, Some("RESOURCE_EXHAUSTED")) => ErrorClass::RateLimited { retry_after: retry },
        (None, _, Some("UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED")) => ErrorClass::Transient,
        (
            None,
            _,
            Some("UNAUTHENTICATED" | "PERMISSION_DENIED" | "NOT_FOUND" | "INVALID_ARGUMENT"),
        ) => ErrorClass::Permanent,
        // The CLI's own fatal codes: 41 authentication, 42 input, 44 sandbox, 52 config,
        // 53 turn limit: a retry meets them again.
        (None, Some(41..=53), _) => ErrorClass::Permanent,
        _ => text::classify_text(&message),
    };
    let status_word = api_status
        .or_else(|| str_field(error, "type").filter(|t| !matches!(*t, "Error" | "unknown")));
    Failure::new(class, cause(status.or(code), status_word, &message))
}

fn cause(code: Option<u64>, status: Option<&str>, message: &str) -> String {
    match (code, status) {
        (Some(code), Some(status)) => format!("gemini: API error {code} {status}: {message}"),
        (Some(code), None) if code >= 100 => format!("gemini: API error {code}: {message}"),
        (Some(code), None) => format!("gemini: error {code}: {message}"),
        (None, Some(status)) => format!("gemini: {status}: {message}"),
        (None, None) => format!("gemini: {message}"),
    }
}

/// `google.rpc.RetryInfo.retryDelay` ("17s") in an API error's `details`.
fn details_delay(error: &Value) -> Option<Duration> {
    error.get("details")?.as_array()?.iter().find_map(|d| {
        let delay = str_field(d, "retryDelay")?;
        synod_core::duration::parse_duration(delay).ok()
    })
}

/// `retryDelayMs: 17000` in a Node error dump.
fn retry_delay(tail: &str) -> Option<Duration> {
    let at = tail.rfind("retryDelayMs: ")?;
    let digits: String = tail[at + 14..]
        .chars()
        .take_while(char::is_ascii_digit)
        .take(12)
        .collect();
    digits.parse().ok().map(Duration::from_millis)
}

/// `status: 429` in a Node error dump.
fn dump_status(tail: &str) -> Option<u64> {
    tail.lines().rev().find_map(|l| {
        let n = l.trim().strip_prefix("status: ")?.trim_end_matches(',');
        n.parse::<u64>().ok().filter(|n| (400..=599).contains(n))
    })
}

/// The HTTP status an exit code stands for (gemini exits with the status modulo 256).
fn exit_status(exit_code: Option<i32>) -> Option<u64> {
    let code = u64::try_from(exit_code?).ok()?;
    let status = code + 256;
    (400..=599).contains(&status).then_some(status)
}

/// The cause in gemini's text-mode stderr: the last "Attempt N failed: …", else the message
/// after an error name ("RetryableQuotaError: …"), else the generic cause line.
fn text_cause(tail: &str) -> Option<String> {
    let lines = || tail.lines().rev();
    if let Some(msg) = lines().find_map(|l| {
        let (_, rest) = l.split_once("Attempt ")?;
        rest.split_once(" failed: ").map(|(_, m)| m)
    }) {
        return Some(msg.to_owned());
    }
    if let Some(msg) = lines().find_map(|l| {
        let at = l.find("Full report available at: ")?;
        let rest = &l[at..];
        let (_, m) = rest.split_once("Error: ")?;
        Some(m)
    }) {
        return Some(msg.to_owned());
    }
    text::cause_line(tail)
        .filter(|l| !l.contains("[object Object]"))
        .map(str::to_owned)
}

/// The model with the `main` role, else the one with the most output.
fn main_model(stats: &Value) -> Option<String> {
    let models = stats.get("models")?.as_object()?;
    models
        .iter()
        .find(|(_, m)| m.get("roles").and_then(|r| r.get("main")).is_some())
        .map(|(name, _)| name.clone())
        .or_else(|| {
            most(
                models
                    .iter()
                    .map(|(k, m)| (k, m.get("tokens").map_or(0, |t| count(t, "candidates")))),
            )
        })
}

/// The name with the largest count, ties to the first.
fn most<'a>(items: impl Iterator<Item = (&'a String, u64)>) -> Option<String> {
    let mut best: Option<(&String, u64)> = None;
    for (name, n) in items {
        if best.is_none_or(|(_, most)| n > most) {
            best = Some((name, n));
        }
    }
    best.map(|(name, _)| name.clone())
}
