//! OpenAI Codex CLI: `codex exec --json` prints one JSON event per line: `thread.started`
//! (`thread_id`), `turn.started`, `item.completed` (an `agent_message` item holds the answer
//! text; an `error` item is a warning, such as missing model metadata), `turn.completed`
//! (`usage`: `input_tokens` including `cached_input_tokens`, `output_tokens`), and on
//! failure `error` (`message`) and `turn.failed` (`error.message`, e.g. "unexpected status
//! 401 Unauthorized: …" or "exceeded retry limit, last status: 429 Too Many Requests").
//! Text mode prints the answer to standard output and a banner, the prompt and `ERROR: …`
//! lines to standard error.

use serde_json::Value;
use synod_core::ErrorClass;

use crate::text::{self, count, str_field};
use crate::{Failure, Reply, Usage};

#[derive(Default)]
struct Events {
    thread_id: Option<String>,
    /// The last agent message of the current turn.
    answer: Option<String>,
    usage: Option<Usage>,
    /// The last `turn.failed` or `error` message since the last completed turn.
    error: Option<String>,
    failed: bool,
    any: bool,
}

fn scan(stdout: &str) -> Events {
    let mut events = Events::default();
    for line in stdout.lines() {
        let line = line.trim();
        // codex writes the event type first: the kind is read without parsing, and only the
        // events used here are parsed (command output, reasoning and started items, the bulk
        // of a long run, are skipped).
        let Some(kind) = line
            .strip_prefix("{\"type\":\"")
            .and_then(|rest| rest.split_once('"'))
            .map(|(kind, _)| kind)
        else {
            continue;
        };
        match kind {
            "thread.started" | "turn.completed" | "turn.failed" | "error" => {}
            "item.completed" if line.contains("\"agent_message\"") => {}
            "turn.started" => {
                events.any = true;
                events.answer = None;
                continue;
            }
            "item.started" | "item.updated" | "item.completed" => {
                events.any = true;
                continue;
            }
            _ => continue,
        }
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        events.any = true;
        match event.get("type").and_then(Value::as_str) {
            Some("thread.started") => {
                events.thread_id = str_field(&event, "thread_id").map(str::to_owned);
            }
            Some("turn.started") => events.answer = None,
            Some("item.completed") => {
                let item = event.get("item").unwrap_or(&Value::Null);
                if str_field(item, "type") == Some("agent_message") {
                    events.answer = Some(str_field(item, "text").unwrap_or_default().to_owned());
                }
            }
            Some("turn.completed") => {
                let u = event.get("usage").unwrap_or(&Value::Null);
                events.usage.get_or_insert_default().add(Usage::new(
                    count(u, "input_tokens"),
                    count(u, "output_tokens"),
                    count(u, "cached_input_tokens"),
                ));
                events.failed = false;
                events.error = None;
            }
            Some("turn.failed") => {
                events.failed = true;
                let e = event.get("error").unwrap_or(&Value::Null);
                if let Some(m) = str_field(e, "message") {
                    events.error = Some(m.to_owned());
                }
            }
            Some("error") => {
                if let Some(m) = str_field(&event, "message") {
                    events.error = Some(m.to_owned());
                }
            }
            _ => {}
        }
    }
    events
}

pub(crate) fn parse_success(stdout: &str) -> Result<Reply, Failure> {
    let events = scan(stdout);
    if !events.any {
        if stdout.trim_start().starts_with("{\"type\":\"") {
            return Err(cut_short());
        }
        return Ok(Reply::text(stdout));
    }
    if events.answer.is_none() && !events.failed && events.error.is_none() {
        return Err(cut_short());
    }
    if events.failed || (events.answer.is_none() && events.error.is_some()) {
        return Err(failure_of(events.error.as_deref().unwrap_or("turn failed")));
    }
    Ok(Reply {
        answer: events.answer.unwrap_or_default(),
        session_id: events.thread_id,
        model: None,
        usage: events.usage,
        cost_usd: None,
    })
}

pub(crate) fn parse_failure(stdout: &str, stderr: &str) -> Option<Failure> {
    let events = scan(stdout);
    if let Some(message) = events.error {
        return Some(failure_of(&message));
    }
    // Text mode: the last `ERROR: …` line of stderr.
    let message = text::tail(stderr)
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("ERROR: "))?;
    Some(failure_of(message))
}

fn failure_of(message: &str) -> Failure {
    let retry = text::retry_after_in(message);
    let class = match text::http_status_in(message) {
        Some(status) => text::status_class(status, retry),
        None => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("usage limit") || lower.contains("quota") {
                ErrorClass::RateLimited { retry_after: retry }
            } else if lower.contains("stream disconnected") || lower.contains("timed out") {
                ErrorClass::Transient
            } else {
                text::classify_text(message)
            }
        }
    };
    Failure::new(class, format!("codex: {message}"))
}

fn cut_short() -> Failure {
    Failure::new(
        ErrorClass::Permanent,
        "codex: its JSON events ended without an answer (cut short: raise the output cap, or \
         see whether the CLI was interrupted)",
    )
}
