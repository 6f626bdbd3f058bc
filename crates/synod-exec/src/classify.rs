//! [`Classifier`]: an ordered, configurable list of patterns that turns the output tail of a
//! failed agent into an [`ErrorClass`].
//!
//! Matching is case-insensitive; `-` and `_` count as spaces (so "rate_limit" and
//! "Rate-Limit" both match "rate limit"); a pattern that starts or ends with a digit only
//! matches where no digit touches it (so "429" does not match "14290"). The first matching
//! rule wins. A `RateLimited` rule without a fixed `retry_after` takes it from "retry after
//! N", "retry in N" or "try again in N" when the text says so, read in synod's one duration
//! grammar (synod-core: `30` is seconds; `2.5s`, `500 microseconds`, `2 minutes`, `1h`).
//!
//! ```
//! use std::time::Duration;
//! use synod_exec::Classifier;
//! use synod_core::ErrorClass;
//!
//! let c = Classifier::default();
//! assert_eq!(
//!     c.classify("Error: 429 Too Many Requests. Retry after 12 seconds."),
//!     ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(12)) }
//! );
//! assert_eq!(c.classify("upstream said 503"), ErrorClass::Transient);
//! assert_eq!(c.classify("Invalid API key provided"), ErrorClass::Permanent);
//! assert_eq!(c.classify("something odd"), ErrorClass::Transient);
//!
//! // Configurable: your own rules first, then the defaults, and a different fallback.
//! let strict = Classifier::empty(ErrorClass::Permanent)
//!     .rule("usage:", ErrorClass::Permanent)
//!     .extend_with(&Classifier::default());
//! assert_eq!(strict.classify("something odd"), ErrorClass::Permanent);
//! ```

use std::sync::OnceLock;
use std::time::Duration;

use synod_core::ErrorClass;

use crate::output::{Output, tail_text};

/// How many bytes of each stream's end [`Classifier::classify_output`] looks at.
pub const CLASSIFY_TAIL_BYTES: usize = 8 * 1024;

/// One rule: when `pattern` occurs in the text, the failure has class `class`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pattern: String,
    class: ErrorClass,
}

impl Rule {
    /// The normalized (lowercase, `-`/`_` as spaces) pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The class this rule assigns.
    pub fn class(&self) -> ErrorClass {
        self.class
    }
}

/// Ordered patterns over an agent's output tail, and the class used when none matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classifier {
    rules: Vec<Rule>,
    fallback: ErrorClass,
}

/// Another name for [`Classifier`].
pub type ClassifyPatterns = Classifier;

const RATE_LIMITED: ErrorClass = ErrorClass::RateLimited { retry_after: None };

/// The default rules, in order.
const DEFAULT_RULES: &[(&str, ErrorClass)] = &[
    ("rate limit", RATE_LIMITED),
    ("429", RATE_LIMITED),
    ("quota", RATE_LIMITED),
    ("retry after", RATE_LIMITED),
    ("too many requests", RATE_LIMITED),
    ("resource exhausted", RATE_LIMITED),
    ("502", ErrorClass::Transient),
    ("503", ErrorClass::Transient),
    ("overloaded", ErrorClass::Transient),
    ("service unavailable", ErrorClass::Transient),
    ("connection reset", ErrorClass::Transient),
    ("connection refused", ErrorClass::Transient),
    ("invalid api key", ErrorClass::Permanent),
    ("unauthorized", ErrorClass::Permanent),
    ("401", ErrorClass::Permanent),
    ("403", ErrorClass::Permanent),
    ("model not found", ErrorClass::Permanent),
    ("404", ErrorClass::Permanent),
];

impl Default for Classifier {
    /// The defaults: "rate limit", "429", "quota", "retry after N", "too many requests",
    /// "resource exhausted" → `RateLimited`; "502", "503", "overloaded", "service
    /// unavailable", "connection reset", "connection refused" → `Transient`; "invalid api
    /// key", "unauthorized", "401", "403", "model not found", "404" → `Permanent`; anything
    /// else → `Transient`.
    fn default() -> Self {
        let mut c = Self::empty(ErrorClass::Transient);
        for (pattern, class) in DEFAULT_RULES {
            c = c.rule(pattern, *class);
        }
        c
    }
}

impl Classifier {
    /// No rules; everything gets `fallback`.
    pub fn empty(fallback: ErrorClass) -> Self {
        Self {
            rules: Vec::new(),
            fallback,
        }
    }

    pub(crate) fn default_ref() -> &'static Classifier {
        static DEFAULT: OnceLock<Classifier> = OnceLock::new();
        DEFAULT.get_or_init(Classifier::default)
    }

    /// Appends a rule (checked after the ones before it). An empty pattern is ignored.
    #[must_use]
    pub fn rule(mut self, pattern: impl AsRef<str>, class: ErrorClass) -> Self {
        let pattern = normalize(pattern.as_ref()).trim().to_owned();
        if !pattern.is_empty() {
            self.rules.push(Rule { pattern, class });
        }
        self
    }

    /// Appends every rule of `other` (its fallback is not taken).
    #[must_use]
    pub fn extend_with(mut self, other: &Classifier) -> Self {
        self.rules.extend(other.rules.iter().cloned());
        self
    }

    /// Sets the class used when no rule matches.
    #[must_use]
    pub fn fallback(mut self, class: ErrorClass) -> Self {
        self.fallback = class;
        self
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The class used when no rule matches.
    pub fn get_fallback(&self) -> ErrorClass {
        self.fallback
    }

    /// The class of a failure whose output says `text`.
    pub fn classify(&self, text: &str) -> ErrorClass {
        let text = normalize(text);
        let class = self
            .rules
            .iter()
            .find(|r| contains_pattern(&text, &r.pattern))
            .map_or(self.fallback, |r| r.class);
        match class {
            ErrorClass::RateLimited { retry_after: None } => ErrorClass::RateLimited {
                retry_after: parse_retry_after(&text),
            },
            other => other,
        }
    }

    /// The class of a failed run: the rules over the last 8 KiB of stderr and of stdout.
    pub fn classify_output(&self, output: &Output) -> ErrorClass {
        let mut text = tail_text(&output.stderr, CLASSIFY_TAIL_BYTES);
        text.push('\n');
        text.push_str(&tail_text(&output.stdout, CLASSIFY_TAIL_BYTES));
        self.classify(&text)
    }
}

/// Lowercase, with `-` and `_` as spaces.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '-' | '_' => ' ',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn contains_pattern(text: &str, pattern: &str) -> bool {
    let starts_digit = pattern.as_bytes().first().is_some_and(u8::is_ascii_digit);
    let ends_digit = pattern.as_bytes().last().is_some_and(u8::is_ascii_digit);
    if !starts_digit && !ends_digit {
        return text.contains(pattern);
    }
    let bytes = text.as_bytes();
    text.match_indices(pattern).any(|(at, m)| {
        let before_ok = !starts_digit || at == 0 || !bytes[at - 1].is_ascii_digit();
        let end = at + m.len();
        let after_ok = !ends_digit || end >= bytes.len() || !bytes[end].is_ascii_digit();
        before_ok && after_ok
    })
}

/// Finds "retry after N", "retry in N" or "try again in N" (with an optional unit) in
/// normalized text.
fn parse_retry_after(text: &str) -> Option<Duration> {
    const PHRASES: [&str; 3] = ["retry after", "retry in", "try again in"];
    PHRASES.iter().find_map(|phrase| {
        text.match_indices(phrase)
            .find_map(|(at, p)| parse_duration_prefix(&text[at + p.len()..]))
    })
}

/// Parses "[: =]* NUMBER [unit]" at the start of `rest` in synod's one duration grammar
/// (synod-core): `30`, `2.5s`, `500 microseconds`, `2 minutes`, `1h`. A number followed by
/// a word that is no unit ("retry after 5 to 10 seconds") is seconds.
fn parse_duration_prefix(rest: &str) -> Option<Duration> {
    use synod_core::duration::parse_duration;
    let is_unit = |word: &str| parse_duration(&format!("1{word}")).is_ok();
    let rest = rest.trim_start_matches([' ', ':', '=', '\t']);
    let token_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '.'))
        .unwrap_or(rest.len());
    // A point that ends the token ends the sentence ("retry after 30s."), not the number.
    let token = rest[..token_len].trim_end_matches('.');
    let token_len = token.len();
    let number_len = token
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(token.len());
    if number_len == token.len() {
        // "30", or "500 microseconds": a number, then maybe a unit word after a space.
        let after = rest[token_len..].trim_start();
        let word_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let word = &after[..word_len];
        return if !word.is_empty() && is_unit(word) {
            parse_duration(&format!("{token}{word}")).ok()
        } else {
            parse_duration(token).ok()
        };
    }
    // "2.5s", "1m30s"; a word that is no unit ("3months") leaves the number as seconds.
    match parse_duration(token) {
        Ok(d) => Some(d),
        Err(_) => {
            let unit_len = token[number_len..]
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(token.len() - number_len);
            let unit = &token[number_len..number_len + unit_len];
            if is_unit(unit) {
                None
            } else {
                parse_duration(&token[..number_len]).ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rl(secs: Option<u64>) -> ErrorClass {
        ErrorClass::RateLimited {
            retry_after: secs.map(Duration::from_secs),
        }
    }

    #[test]
    fn every_default_pattern() {
        let c = Classifier::default();
        let cases: &[(&str, ErrorClass)] = &[
            ("Error: Rate limit reached for requests", rl(None)),
            ("rate_limit_error", rl(None)),
            ("HTTP 429", rl(None)),
            ("You exceeded your current quota", rl(None)),
            ("please retry after 7", rl(Some(7))),
            ("Retry-After: 30", rl(Some(30))),
            ("Too Many Requests", rl(None)),
            ("RESOURCE_EXHAUSTED", rl(None)),
            ("bad gateway (502)", ErrorClass::Transient),
            ("status 503", ErrorClass::Transient),
            ("Overloaded", ErrorClass::Transient),
            ("Service Unavailable", ErrorClass::Transient),
            ("read: connection reset by peer", ErrorClass::Transient),
            ("connect: Connection refused", ErrorClass::Transient),
            ("Invalid API key", ErrorClass::Permanent),
            ("invalid_api_key", ErrorClass::Permanent),
            ("401 Unauthorized", ErrorClass::Permanent),
            ("Unauthorized", ErrorClass::Permanent),
            ("status=401", ErrorClass::Permanent),
            ("403 forbidden", ErrorClass::Permanent),
            ("model not found: gpt-9", ErrorClass::Permanent),
            ("404", ErrorClass::Permanent),
            ("segfault somewhere", ErrorClass::Transient),
            ("", ErrorClass::Transient),
        ];
        for (text, want) in cases {
            assert_eq!(c.classify(text), *want, "{text:?}");
        }
    }

    #[test]
    fn rate_limits_take_retry_after_from_anywhere() {
        let c = Classifier::default();
        assert_eq!(
            c.classify("429; retry in 2.5s"),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_millis(2500))
            }
        );
        assert_eq!(
            c.classify("quota hit, try again in 500ms"),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_millis(500))
            }
        );
        assert_eq!(
            c.classify("rate limit; retry after 2 minutes"),
            rl(Some(120))
        );
        assert_eq!(c.classify("rate limit; retry after 1h"), rl(Some(3600)));
        assert_eq!(c.classify("retry after later"), rl(None));
    }

    #[test]
    fn numbers_only_match_whole() {
        let c = Classifier::default();
        assert_eq!(c.classify("processed 14290 rows"), ErrorClass::Transient);
        assert_eq!(c.classify("id 4011 missing"), ErrorClass::Transient);
        assert_eq!(c.classify("code:429."), rl(None));
    }

    #[test]
    fn order_decides() {
        let c = Classifier::default();
        // Both a rate-limit and a permanent pattern: the earlier rule wins.
        assert_eq!(c.classify("401 then 429"), rl(None));
        let custom = Classifier::empty(ErrorClass::Permanent)
            .rule("401", ErrorClass::Transient)
            .extend_with(&c);
        assert_eq!(custom.classify("401 then 429"), ErrorClass::Transient);
        assert_eq!(custom.classify("nothing"), ErrorClass::Permanent);
        assert_eq!(custom.get_fallback(), ErrorClass::Permanent);
        assert_eq!(custom.rules()[0].pattern(), "401");
    }

    #[test]
    fn huge_retry_after_does_not_panic() {
        let c = Classifier::default();
        assert_eq!(
            c.classify("retry after 99999999999999999999999999999999999999999"),
            rl(None)
        );
        assert_eq!(c.classify("retry after ....."), rl(None));
        // Beyond synod's 3650-day bound: no usable retry time.
        assert_eq!(c.classify("rate limit; retry after 4000 days"), rl(None));
    }

    #[test]
    fn retry_times_use_the_one_duration_grammar() {
        let c = Classifier::default();
        let rl_exact = |d: Duration| ErrorClass::RateLimited {
            retry_after: Some(d),
        };
        for (text, want) in [
            ("429; retry in 500 microseconds", Duration::from_micros(500)),
            ("429; retry in 500 milliseconds", Duration::from_millis(500)),
            ("429; retry in 500ms", Duration::from_millis(500)),
            ("429; retry in 2.5 minutes", Duration::from_secs(150)),
            ("429. Please retry after 30s.", Duration::from_secs(30)),
            ("429: retry after 1.5s.", Duration::from_millis(1500)),
            ("429; retry after 30segundos", Duration::from_secs(30)),
            ("429; retry after 1m30s", Duration::from_secs(90)),
            ("429; retry after 5 to 10 seconds", Duration::from_secs(5)),
            ("429; try again in 2 hours.", Duration::from_secs(7200)),
        ] {
            assert_eq!(c.classify(text), rl_exact(want), "{text}");
        }
    }
}
