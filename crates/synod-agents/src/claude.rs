//! Claude Code: `claude -p --output-format json` prints one result envelope
//! (`{"type":"result","subtype":…,"is_error":…,"result":"…","session_id":…,"total_cost_usd":…,
//! "usage":{…},"modelUsage":{…},"api_error_status":…}`); `--output-format stream-json
//! --verbose` prints one JSON event per line (`system`/`init` with the model, `assistant`,
//! `rate_limit_event` with `rate_limit_info.resetsAt`, and the same `result` envelope last).
//! An API error is `is_error: true` in the envelope, whatever the exit code. Text mode prints
//! the answer (or "API Error: …") alone.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use synod_core::ErrorClass;

use crate::text::{self, count, str_field};
use crate::{Failure, Reply, Usage};

/// What the stream says: the last result envelope, the init event, a rejected rate limit.
#[derive(Default)]
struct Events {
    result: Option<Value>,
    init_model: Option<String>,
    init_session: Option<String>,
    reset: Option<Duration>,
    rejected: bool,
}

fn scan(stdout: &str, now: SystemTime) -> Events {
    let mut events = Events::default();
    for line in stdout.lines() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        // Only the three events read here are parsed; assistant and tool events are skipped
        // without parsing.
        let is_result = line.contains("\"type\":\"result\"");
        let is_limit = line.contains("\"rate_limit_event\"");
        let is_init = line.contains("\"subtype\":\"init\"");
        if !(is_result || is_limit || is_init) {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match value.get("type").and_then(Value::as_str) {
            Some("result") => events.result = Some(value),
            Some("rate_limit_event") => {
                let info = value.get("rate_limit_info").unwrap_or(&Value::Null);
                if str_field(info, "status") == Some("rejected") {
                    events.rejected = true;
                    events.reset = info
                        .get("resetsAt")
                        .and_then(Value::as_f64)
                        .and_then(|at| text::until(at, now));
                }
            }
            Some("system") if str_field(&value, "subtype") == Some("init") => {
                events.init_model = str_field(&value, "model").map(str::to_owned);
                events.init_session = str_field(&value, "session_id").map(str::to_owned);
            }
            _ => {}
        }
    }
    events
}

pub(crate) fn parse_success(stdout: &str, now: SystemTime) -> Result<Reply, Failure> {
    let events = scan(stdout, now);
    let Some(result) = &events.result else {
        if looks_like_envelope(stdout) {
            return Err(Failure::new(
                ErrorClass::Permanent,
                "claude: its JSON output ended without a result (cut short: raise the \
                 output cap, or see whether the CLI was interrupted)",
            ));
        }
        // Text mode: the output is the answer text.
        return Ok(Reply::text(stdout));
    };
    if let Some(failure) = failure_of(result, &events) {
        return Err(failure);
    }
    // With `--json-schema`, the validated answer is `structured_output` (JSON, not text).
    let answer = match result.get("structured_output") {
        Some(structured) if !structured.is_null() => structured.to_string(),
        _ => str_field(result, "result").unwrap_or_default().to_owned(),
    };
    Ok(Reply {
        answer,
        ..reported_in(Some(result), &events)
    })
}

/// Session, model, usage and cost of a run, failed or not (no answer).
pub(crate) fn reported(stdout: &str) -> Reply {
    let events = scan(stdout, SystemTime::now());
    reported_in(events.result.as_ref(), &events)
}

fn reported_in(result: Option<&Value>, events: &Events) -> Reply {
    let field = |name| result.and_then(|r| str_field(r, name)).map(str::to_owned);
    Reply {
        answer: String::new(),
        session_id: field("session_id").or_else(|| events.init_session.clone()),
        model: result
            .and_then(model_of)
            .or_else(|| events.init_model.clone()),
        usage: result
            .and_then(|r| r.get("usage"))
            .filter(|u| u.is_object())
            .map(usage_of),
        cost_usd: result
            .and_then(|r| r.get("total_cost_usd"))
            .and_then(Value::as_f64),
    }
}

pub(crate) fn parse_failure(stdout: &str, now: SystemTime) -> Option<Failure> {
    let events = scan(stdout, now);
    match &events.result {
        Some(result) => failure_of(result, &events).or_else(|| {
            // A success envelope but a non-zero exit: say so with what the envelope had.
            Some(Failure::new(
                ErrorClass::Transient,
                "claude: exited non-zero after a successful result",
            ))
        }),
        None if events.rejected => Some(Failure::new(
            ErrorClass::RateLimited {
                retry_after: events.reset,
            },
            "claude: rate limit reached (rate_limit_event rejected)",
        )),
        None => None,
    }
}

/// The failure a result envelope reports: `is_error: true`, or an `error_*` subtype.
fn failure_of(result: &Value, events: &Events) -> Option<Failure> {
    let subtype = str_field(result, "subtype").unwrap_or("");
    let is_error = result.get("is_error").and_then(Value::as_bool) == Some(true);
    if !is_error && !subtype.starts_with("error") {
        return None;
    }
    let status = result.get("api_error_status").and_then(Value::as_u64);
    let error_type = str_field(result, "api_error_type");
    let message = str_field(result, "result")
        .map(str::to_owned)
        .or_else(|| errors_text(result))
        .unwrap_or_else(|| subtype.to_owned());
    let stated = events.reset.or_else(|| text::retry_after_in(&message));
    let class = match (status, error_type) {
        (Some(status), _) => text::status_class(status, stated),
        (None, Some("rate_limit_error")) => ErrorClass::RateLimited {
            retry_after: stated,
        },
        (None, Some("overloaded_error" | "api_error")) => ErrorClass::Transient,
        (
            None,
            Some(
                "authentication_error"
                | "permission_error"
                | "not_found_error"
                | "invalid_request_error",
            ),
        ) => ErrorClass::Permanent,
        _ if events.rejected => ErrorClass::RateLimited {
            retry_after: stated,
        },
        // A turn or budget limit repeats on a retry.
        _ if subtype == "error_max_turns" || subtype.starts_with("error_max_") => {
            ErrorClass::Permanent
        }
        _ => text::classify_text(&message),
    };
    let cause = match status {
        Some(status) => format!("claude: API error {status}: {message}"),
        None if subtype.starts_with("error") => format!("claude: {subtype}: {message}"),
        None => format!("claude: {message}"),
    };
    Some(Failure::new(class, cause))
}

/// The `errors` array of an `error_*` result, joined.
fn errors_text(result: &Value) -> Option<String> {
    let errors = result.get("errors")?.as_array()?;
    let texts: Vec<String> = errors
        .iter()
        .take(8)
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => str_field(other, "message").map_or_else(|| other.to_string(), str::to_owned),
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// The model that did the most output (`modelUsage`), ties to the first by name.
fn model_of(result: &Value) -> Option<String> {
    let models = result.get("modelUsage")?.as_object()?;
    let mut best: Option<(&String, u64)> = None;
    for (name, usage) in models {
        let out = count(usage, "outputTokens");
        if best.is_none_or(|(_, most)| out > most) {
            best = Some((name, out));
        }
    }
    best.map(|(name, _)| name.clone())
}

/// Anthropic counts cached prompt tokens apart from `input_tokens`: they are added back.
fn usage_of(usage: &Value) -> Usage {
    let cache_read = count(usage, "cache_read_input_tokens");
    let cache_write = count(usage, "cache_creation_input_tokens");
    Usage::new(
        count(usage, "input_tokens")
            .saturating_add(cache_read)
            .saturating_add(cache_write),
        count(usage, "output_tokens"),
        cache_read,
    )
}

/// Whether the output is claude's JSON (an envelope or an event stream) rather than text:
/// its first line opens an object naming a session, or a `system` event. A text-mode
/// answer that is itself JSON names no session.
fn looks_like_envelope(stdout: &str) -> bool {
    let first = stdout.trim_start().lines().next().unwrap_or("");
    first.starts_with("{\"type\":\"system\"")
        || (first.starts_with("{\"") && first.contains("\"session_id\":\""))
}
