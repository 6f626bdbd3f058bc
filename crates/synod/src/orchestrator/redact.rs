//! Redaction of credentials in agent output before it is stored, shown or reported.
//!
//! Agents echo what they see: an `Authorization: Bearer …` line in a debug trace, an API key
//! in an error message, a `.env` file they were asked to read. A [`Redactor`] replaces such
//! values with [`REDACTED`] before the evidence reaches the store, a backup, `synod show`,
//! `history --json`, `run --json` or a progress event. It knows the common credential shapes
//! (bearer tokens and `Authorization` headers, `sk-…`/`sk-ant-…`, `AIza…`, `ghp_…`/
//! `github_pat_…`, `xox…`, `AKIA…`/`ASIA…`, PEM private keys, `password=`/`api_key=` pairs),
//! the exact values of secret environment variables (see [`is_secret_env_name`]), and extra
//! patterns from `[redact] patterns`.
//!
//! ```
//! use synod::orchestrator::Redactor;
//!
//! let redactor = Redactor::builder()
//!     .secret_value("hunter2-correct-horse")
//!     .pattern(r"corp-[0-9a-f]{8}")?
//!     .build()?;
//! let text = "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig' \
//!             password=hunter2-correct-horse id=corp-deadbeef";
//! assert_eq!(
//!     redactor.redact(text),
//!     "curl -H 'Authorization: Bearer [REDACTED]' password=[REDACTED] id=[REDACTED]"
//! );
//! // Text without a credential is returned as is, without a copy.
//! assert!(matches!(redactor.redact("all clear"), std::borrow::Cow::Borrowed(_)));
//! # Ok::<(), synod::orchestrator::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use regex::Regex;
use regex::bytes::Regex as BytesRegex;

use super::config::SynodConfig;
use super::error::{Error, Result};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Secret values shorter than this are not redacted by value: a 3-character "secret" would
/// blank out ordinary words all over the output.
pub const MIN_SECRET_VALUE_LEN: usize = 8;

/// The built-in credential shapes. A pattern with a `v` group keeps the text before that
/// group (the header or key name) and replaces only the group; otherwise the whole match is
/// replaced. Keys are spelled in their usual cases instead of `(?i)`, which keeps the literal
/// prefilter (and so the scan of clean output) fast. They are compiled in ASCII mode
/// (`(?-u:…)`): credentials are ASCII, and a Unicode `\b` or `\s` would make the DFA give up
/// on the first non-ASCII character of agent output (4–5× slower on real output).
const BUILTIN: &[&str] = &[
    // PEM private keys, up to their END line (or to the end of a truncated output).
    r"-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----(?:[A-Za-z0-9+/=\s\\:-]|\\n)*?(?:-----END[A-Z ]{0,20} PRIVATE KEY-----|\z)",
    // Authorization headers, whatever the scheme.
    r#"(?:Authorization|authorization|AUTHORIZATION)["']?\s*[:=]\s*["']?(?:(?:Bearer|bearer|BEARER|Basic|basic|BASIC|Token|token|Bot|bot)\s+)?(?P<v>[^\s"',;]{8,})"#,
    // A bearer token anywhere (`-H "Bearer …"`, logs).
    r"(?:Bearer|bearer|BEARER)\s+(?P<v>[A-Za-z0-9._~+/=-]{16,})",
    // Anthropic (`sk-ant-…`) and OpenAI (`sk-…`, `sk-proj-…`) keys.
    r"\bsk-[A-Za-z0-9_-]{20,}",
    // Google API keys.
    r"\bAIza[0-9A-Za-z_-]{35}",
    // GitHub tokens.
    r"\bgh[pousr]_[A-Za-z0-9]{36,}",
    r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    // Slack tokens.
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    // AWS access key ids.
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    // key=value and "key": "value" pairs.
    r#"(?:password|Password|PASSWORD|passwd|PASSWD|api_key|apikey|api-key|apiKey|API_KEY|APIKEY|secret_key|secretKey|SECRET_KEY|client_secret|clientSecret|CLIENT_SECRET|access_token|accessToken|ACCESS_TOKEN|auth_token|authToken|AUTH_TOKEN|refresh_token|refreshToken|REFRESH_TOKEN|private_key|privateKey|PRIVATE_KEY)["']?\s*[=:]\s*["']?(?P<v>[^\s"'&,;]{4,})"#,
];

/// Words that make an environment variable's value a secret: `ANTHROPIC_API_KEY`,
/// `GITHUB_TOKEN`, `DB_PASSWORD`, `CLIENT_SECRET`, `AWS_SESSION_TOKEN`, `NPM_AUTH` …
const SECRET_NAME_WORDS: &[&str] = &[
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
];

/// Whether an environment variable called `name` holds a secret by its name: it contains
/// `KEY`, `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`, `CREDENTIAL` or `AUTH` (any case).
///
/// ```
/// use synod::orchestrator::is_secret_env_name;
/// assert!(is_secret_env_name("ANTHROPIC_API_KEY"));
/// assert!(is_secret_env_name("github_token"));
/// assert!(!is_secret_env_name("PATH"));
/// ```
#[must_use]
pub fn is_secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAME_WORDS.iter().any(|w| upper.contains(w))
}

/// Replaces credentials in text with [`REDACTED`]. Built once, shared by every agent of an
/// orchestrator; cheap to clone.
#[derive(Clone)]
pub struct Redactor {
    /// `None` when there is nothing to look for (redaction off). A bytes regex, so the
    /// built-in shapes can run in ASCII mode; user patterns keep Unicode semantics.
    regex: Option<BytesRegex>,
    /// For each alternative `a{i}`, the index of its value group `v{i}`, if any.
    groups: Vec<(usize, Option<usize>)>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The regex holds secret values: never print it.
        f.debug_struct("Redactor")
            .field("active", &self.is_active())
            .field("alternatives", &self.groups.len())
            .finish()
    }
}

impl Default for Redactor {
    /// The built-in patterns only.
    fn default() -> Self {
        Self::builder().build().unwrap_or_else(|_| Self::disabled())
    }
}

impl Redactor {
    /// A redactor with the built-in patterns, extra patterns and secret values to add.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder {
            builtin: true,
            patterns: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The redactor a config asks for (`[redact]`): the built-in patterns, the extra
    /// patterns, and the values of every secret environment variable an agent gets, set in
    /// its `env` or inherited from this process (by name, see [`is_secret_env_name`], or
    /// listed in the agent's `secret_env`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming `redact.patterns.N` when a pattern does not compile.
    pub fn for_config(config: &SynodConfig) -> Result<Self> {
        let settings = &config.redact;
        if !settings.enabled {
            return Ok(Self::disabled());
        }
        let mut builder = Self::builder().builtin(settings.builtin);
        for (i, pattern) in settings.patterns.iter().enumerate() {
            check_pattern(&format!("redact.patterns.{i}"), pattern)?;
            builder.patterns.push(pattern.clone());
        }
        let listed = |name: &str| {
            config
                .agents
                .iter()
                .any(|a| a.secret_env.iter().any(|n| n == name))
        };
        for (name, value) in std::env::vars_os() {
            if let (Some(name), Some(value)) = (name.to_str(), value.to_str())
                && (is_secret_env_name(name) || listed(name))
            {
                builder = builder.secret_value(value);
            }
        }
        for agent in &config.agents {
            for (name, value) in &agent.env {
                if is_secret_env_name(name) || agent.secret_env.contains(name) {
                    builder = builder.secret_value(value.clone());
                }
            }
        }
        builder.build()
    }

    /// A redactor that changes nothing (`[redact] enabled = false`).
    #[must_use]
    pub fn disabled() -> Self {
        Self {
            regex: None,
            groups: Vec::new(),
        }
    }

    /// Whether this redactor looks for anything at all.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.regex.is_some()
    }

    /// `text` with every credential replaced by [`REDACTED`]; borrowed when nothing matched.
    #[must_use]
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(regex) = &self.regex else {
            return Cow::Borrowed(text);
        };
        let mut out: Option<String> = None;
        let mut copied = 0;
        for caps in regex.captures_iter(text.as_bytes()) {
            let Some(whole) = caps.get(0) else { continue };
            let value = self
                .groups
                .iter()
                .find(|(alt, _)| caps.get(*alt).is_some())
                .and_then(|(_, value)| value.and_then(|v| caps.get(v)));
            let (keep_until, keep_after) =
                value.map_or((whole.start(), whole.end()), |v| (v.start(), v.end()));
            // ASCII-mode shapes end at ASCII delimiters, so these are char boundaries; widen
            // to the enclosing characters should one ever not be.
            let keep_until = floor_char_boundary(text, keep_until.max(copied));
            let keep_after = ceil_char_boundary(text, keep_after);
            let end = ceil_char_boundary(text, whole.end()).max(keep_after);
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..keep_until]);
            buf.push_str(REDACTED);
            buf.push_str(&text[keep_after..end]);
            copied = end;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut buf) => {
                buf.push_str(&text[copied..]);
                Cow::Owned(buf)
            }
        }
    }

    /// Like [`redact`](Self::redact), in place.
    pub fn redact_in_place(&self, text: &mut String) {
        if let Cow::Owned(redacted) = self.redact(text) {
            *text = redacted;
        }
    }
}

/// Builds a [`Redactor`]; see [`Redactor::builder`].
#[derive(Clone)]
#[must_use]
pub struct RedactorBuilder {
    builtin: bool,
    patterns: Vec<String>,
    values: Vec<String>,
}

impl fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactorBuilder")
            .field("builtin", &self.builtin)
            .field("patterns", &self.patterns)
            .field("values", &self.values.len())
            .finish()
    }
}

impl RedactorBuilder {
    /// Whether the built-in credential patterns are used (default true).
    pub fn builtin(mut self, on: bool) -> Self {
        self.builtin = on;
        self
    }

    /// Adds a regular expression (Rust `regex` syntax) whose matches are redacted. A group
    /// named `v` limits the redaction to that group.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (key `redact.patterns`) when `pattern` does not compile.
    pub fn pattern(mut self, pattern: impl Into<String>) -> Result<Self> {
        let pattern = pattern.into();
        check_pattern("redact.patterns", &pattern)?;
        self.patterns.push(pattern);
        Ok(self)
    }

    /// Adds an exact secret value (an API key from the environment, say). Values shorter
    /// than [`MIN_SECRET_VALUE_LEN`] are ignored.
    pub fn secret_value(mut self, value: impl Into<String>) -> Self {
        let value = value.into();
        if value.trim().chars().count() >= MIN_SECRET_VALUE_LEN && !self.values.contains(&value) {
            self.values.push(value);
        }
        self
    }

    /// Builds the redactor: one regular expression for all patterns and values.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the combined expression is too large to compile.
    pub fn build(self) -> Result<Redactor> {
        let mut alternatives: Vec<String> = Vec::new();
        if self.builtin {
            alternatives.extend(BUILTIN.iter().map(|p| format!("(?-u:{p})")));
        }
        alternatives.extend(self.patterns);
        let mut values = self.values;
        // Longest first, so a value that contains another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        if !values.is_empty() {
            let escaped: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
            alternatives.push(escaped.join("|"));
        }
        if alternatives.is_empty() {
            return Ok(Redactor::disabled());
        }
        // Each alternative becomes group `a{i}`; its `v` group (if any) becomes `v{i}`.
        let combined = alternatives
            .iter()
            .enumerate()
            .map(|(i, p)| format!("(?P<a{i}>{})", p.replace("(?P<v>", &format!("(?P<v{i}>"))))
            .collect::<Vec<_>>()
            .join("|");
        let regex = regex::bytes::RegexBuilder::new(&combined)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| Error::InvalidConfig {
                key: "redact".into(),
                message: format!(
                    "the redaction patterns do not compile together ({e}); remove or simplify a pattern"
                ),
            })?;
        let names: Vec<Option<&str>> = regex.capture_names().collect();
        let index = |name: &str| names.iter().position(|n| *n == Some(name));
        let groups = (0..alternatives.len())
            .filter_map(|i| index(&format!("a{i}")).map(|a| (a, index(&format!("v{i}")))))
            .collect();
        Ok(Redactor {
            regex: Some(regex),
            groups,
        })
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Checks that `pattern` compiles on its own and does not match the empty string (which
/// would redact between every character).
pub(crate) fn check_pattern(key: &str, pattern: &str) -> Result<()> {
    let invalid = |message: String| Error::InvalidConfig {
        key: key.to_owned(),
        message,
    };
    let regex = Regex::new(pattern).map_err(|e| {
        invalid(format!(
            "{pattern:?} is not a valid regular expression: {}",
            first_line(&e.to_string())
        ))
    })?;
    if regex.is_match("") {
        return Err(invalid(format!(
            "{pattern:?} matches the empty string, which would redact everything; make it match at least one character"
        )));
    }
    Ok(())
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Redactor {
        Redactor::builder().build().unwrap()
    }

    #[test]
    fn keeps_the_key_and_replaces_the_value() {
        let r = builtin();
        assert_eq!(
            r.redact("Authorization: Bearer abcdefghijklmnopqrstuvwx"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            r.redact(r#"{"api_key": "abcd1234", "n": 1}"#),
            r#"{"api_key": "[REDACTED]", "n": 1}"#
        );
        assert_eq!(r.redact("PASSWORD=swordfish x"), "PASSWORD=[REDACTED] x");
    }

    #[test]
    fn ordinary_prose_is_untouched() {
        let r = builtin();
        for text in [
            "The bearer of this letter is a friend.",
            "Basic usage: run the task-list and ask for a password reset.",
            "use sk-learn for that; AKIA is a prefix",
            "",
        ] {
            assert_eq!(r.redact(text), text);
            assert!(matches!(r.redact(text), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn non_ascii_output_around_credentials_stays_intact() {
        let r = Redactor::builder()
            .secret_value("clé-secrète-élevée")
            .pattern(r"jeton-[a-zé]{4,}")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            r.redact(
                "réponse — Bearer abcdefghijklmnopqrstuvwx… µ clé-secrète-élevée jeton-étéété fin"
            ),
            "réponse — Bearer [REDACTED]… µ [REDACTED] [REDACTED] fin"
        );
        assert_eq!(
            r.redact("password=naïve-pässword ok"),
            "password=[REDACTED] ok"
        );
    }

    #[test]
    fn values_longest_first_and_short_values_ignored() {
        let r = Redactor::builder()
            .builtin(false)
            .secret_value("abcdefgh")
            .secret_value("abcdefgh-longer")
            .secret_value("short")
            .build()
            .unwrap();
        assert_eq!(
            r.redact("abcdefgh-longer abcdefgh short"),
            "[REDACTED] [REDACTED] short"
        );
    }

    #[test]
    fn disabled_and_empty_change_nothing() {
        let text = "Authorization: Bearer abcdefghijklmnopqrstuvwx";
        assert_eq!(Redactor::disabled().redact(text), text);
        let empty = Redactor::builder().builtin(false).build().unwrap();
        assert!(!empty.is_active());
        assert_eq!(empty.redact(text), text);
        assert!(builtin().is_active());
    }

    #[test]
    fn bad_patterns_name_the_key() {
        let err = Redactor::builder().pattern("(unclosed").unwrap_err();
        assert!(err.to_string().contains("redact.patterns"), "{err}");
        assert!(err.to_string().contains("(unclosed"), "{err}");
        // The regex crate's multi-line message, on one line.
        let text = err.to_string();
        assert!(
            !text.contains('\n') && text.contains("unclosed group"),
            "{text}"
        );
        let err = Redactor::builder().pattern("x*").unwrap_err();
        assert!(err.to_string().contains("empty string"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn a_credential_anywhere_in_any_text_is_gone(
            before in "\\PC{0,60}",
            after in "\\PC{0,60}",
        ) {
            let r = builtin();
            let key = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
            let text = format!("{before} {key} {after}");
            let out = r.redact(&text);
            proptest::prop_assert!(!out.contains(key), "{out}");
        }

        #[test]
        fn never_panics_and_changes_nothing_without_a_match(text in "\\PC{0,200}") {
            let r = builtin();
            let out = r.redact(&text);
            if !out.contains(REDACTED) {
                proptest::prop_assert_eq!(out.as_ref(), text.as_str());
            }
        }
    }

    #[test]
    fn debug_never_shows_values() {
        let r = Redactor::builder()
            .secret_value("super-secret-value")
            .build()
            .unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(
            shown.starts_with("Redactor { active: true, alternatives: "),
            "{shown}"
        );
        let builder = Redactor::builder()
            .builtin(false)
            .secret_value("super-secret-value");
        assert_eq!(
            format!("{builder:?}"),
            "RedactorBuilder { builtin: false, patterns: [], values: 1 }"
        );
    }

    #[test]
    fn redacting_in_place_replaces_the_text_only_when_something_matched() {
        let r = Redactor::builder()
            .secret_value("super-secret-value")
            .build()
            .unwrap();
        let mut text = "got super-secret-value back".to_owned();
        r.redact_in_place(&mut text);
        assert_eq!(text, format!("got {REDACTED} back"));
        let mut clean = "nothing here".to_owned();
        r.redact_in_place(&mut clean);
        assert_eq!(clean, "nothing here");
    }

    #[test]
    fn secret_names_are_recognised_by_their_words_in_any_case() {
        for name in [
            "ANTHROPIC_API_KEY",
            "github_token",
            "DB_PASSWORD",
            "MY_SECRET",
        ] {
            assert!(is_secret_env_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "MODE"] {
            assert!(!is_secret_env_name(name), "{name}");
        }
    }

    fn config(text: &str) -> SynodConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_config_redacts_its_agents_secret_values_and_the_variables_it_lists() {
        let path = std::env::var("PATH").expect("tests run with a PATH");
        assert!(path.len() >= MIN_SECRET_VALUE_LEN, "{path}");
        // An inherited variable that is neither named like a secret nor listed.
        let (_, other) = std::env::vars()
            .find(|(name, value)| {
                name != "PATH"
                    && !is_secret_env_name(name)
                    && value.trim().chars().count() >= MIN_SECRET_VALUE_LEN
                    && !path.contains(value.as_str())
                    && !value.contains(&path)
            })
            .expect("cargo sets CARGO_MANIFEST_DIR for tests");
        let text = format!(
            "key sk-live-00000000 pass hunter2hunter2 mode slowslow path {path} other {other}"
        );
        let agents = r#"
[[agents]]
name = "a"
command = "true"
env = { ANTHROPIC_API_KEY = "sk-live-00000000", DB_PASS = "hunter2hunter2", MODE = "slowslow" }
"#;
        let plain = Redactor::for_config(&config(agents))
            .unwrap()
            .redact(&text)
            .into_owned();
        assert_eq!(
            plain,
            format!("key {REDACTED} pass hunter2hunter2 mode slowslow path {path} other {other}"),
            "only the value of a variable named like a secret"
        );
        let listed = format!("{agents}secret_env = [\"DB_PASS\", \"PATH\"]\n");
        let redacted = Redactor::for_config(&config(&listed))
            .unwrap()
            .redact(&text)
            .into_owned();
        assert_eq!(
            redacted,
            format!("key {REDACTED} pass {REDACTED} mode slowslow path {REDACTED} other {other}"),
            "`secret_env` adds values set in `env` and inherited ones"
        );
        let off = format!("[redact]\nenabled = false\n{listed}");
        let redactor = Redactor::for_config(&config(&off)).unwrap();
        assert!(!redactor.is_active());
        assert_eq!(redactor.redact(&text), text);
    }
}
