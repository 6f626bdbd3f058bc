//! Commit message rules in the style of commitlint's `@commitlint/config-conventional`.
//!
//! [`CommitRules::default()`] equals config-conventional 20.x: `type-enum` (build chore ci
//! docs feat fix perf refactor revert style test), `type-case` lower, `type-empty`,
//! `subject-empty`, `subject-full-stop` `.`, `subject-case` (never sentence, start, pascal or
//! upper case), `header-max-length` 100, `header-trim` (errors) and `body-leading-blank`,
//! `footer-leading-blank` (warnings), `body-max-line-length` and `footer-max-line-length` 100
//! (errors; lines holding a URL are exempt). `scope-case` exists but is off by default, as in
//! config-conventional; `forbidden-words` is on as soon as the list is not empty.
//!
//! Merge commits, git's reverts (`Revert "..."`, `Reapply ...`), `fixup!`/`squash!`/`amend!`
//! and release headers (a bare semver) are ignored by default, like commitlint.
//!
//! ```
//! use synod_policy::rules::CommitRules;
//! use synod_policy::report::Severity;
//!
//! let rules = CommitRules { forbidden_words: vec!["AI".into()], ..CommitRules::default() };
//! let report = rules.check_text("Feat: Add AI-generated docs.");
//! assert_eq!(
//!     report.rules(Severity::Error),
//!     ["type-enum", "type-case", "subject-case", "subject-full-stop", "forbidden-words"]
//! );
//! assert!(rules.check_text("fix(parser): accept empty scopes").passed());
//! assert!(rules.check_text("Merge branch 'main' into dev").ignored.is_some());
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::message::{self, Cleanup, Commit};
use crate::report::{Report, Severity, Violation};
use crate::words::WordList;
use crate::{Error, Result};

/// Every rule name this crate knows, in the order rules run.
pub const RULE_NAMES: &[&str] = &[
    "header-trim",
    "type-empty",
    "type-enum",
    "type-case",
    "scope-case",
    "subject-empty",
    "subject-case",
    "subject-full-stop",
    "header-max-length",
    "body-leading-blank",
    "body-max-line-length",
    "footer-leading-blank",
    "footer-max-line-length",
    "forbidden-words",
];

/// Letter case for `type-case` and `scope-case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// `feat`, `api-v2`.
    LowerCase,
    /// `FEAT`.
    UpperCase,
    /// `api-client`.
    KebabCase,
    /// `api_client`.
    SnakeCase,
}

impl Case {
    fn holds(self, s: &str) -> bool {
        if s.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return true;
        }
        match self {
            Case::LowerCase => s.to_lowercase() == s,
            Case::UpperCase => s.to_uppercase() == s,
            Case::KebabCase => s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            Case::SnakeCase => s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Case::LowerCase => "lower-case",
            Case::UpperCase => "upper-case",
            Case::KebabCase => "kebab-case",
            Case::SnakeCase => "snake-case",
        }
    }
}

/// Which kinds of messages are skipped without checking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Ignores {
    /// `Merge branch ...`, `Merge pull request ...`, `Merge tag ...`, `Merge remote-tracking
    /// branch ...`, `Merge X into Y`, `Merged ...`, `Automatic merge ...`, `Auto-merged ...`.
    pub merges: bool,
    /// `Revert ...`, `revert ...`, `Reapply ...` (git's own revert messages; `revert: x` is a
    /// Conventional Commit and is checked).
    pub reverts: bool,
    /// `fixup!`, `squash!`, `amend!` (autosquash commits).
    pub autosquash: bool,
    /// A header that is a bare semantic version (`v1.2.3`, `chore(release): 1.2.3 [skip ci]`).
    pub releases: bool,
    /// Extra header prefixes to ignore.
    pub prefixes: Vec<String>,
}

impl Default for Ignores {
    fn default() -> Self {
        Self {
            merges: true,
            reverts: true,
            autosquash: true,
            releases: true,
            prefixes: Vec::new(),
        }
    }
}

impl Ignores {
    /// Why the header is ignored, if it is.
    #[must_use]
    pub fn reason(&self, header: &str) -> Option<String> {
        if self.merges && is_merge(header) {
            return Some("merge commit".into());
        }
        if self.reverts
            && ["Revert ", "revert ", "Reapply ", "reapply "]
                .iter()
                .any(|p| header.starts_with(p))
        {
            return Some("revert commit".into());
        }
        if self.autosquash
            && ["fixup!", "squash!", "amend!"]
                .iter()
                .any(|p| header.starts_with(p))
        {
            return Some("autosquash commit".into());
        }
        if self.releases && is_release(header) {
            return Some("release commit".into());
        }
        self.prefixes
            .iter()
            .find(|p| !p.is_empty() && header.starts_with(p.as_str()))
            .map(|p| format!("header starts with {p:?}"))
    }
}

fn is_merge(h: &str) -> bool {
    h.starts_with("Merge pull request")
        || h.starts_with("Merge branch ")
        || h.starts_with("Merge tag ")
        || h.starts_with("Merge remote-tracking branch")
        || h.starts_with("Automatic merge")
        || (h.starts_with("Merged ") && (h.contains(" in ") || h.contains(" into ")))
        || h.starts_with("Merged PR ")
        || (h.starts_with("Auto-merged ") && h.contains(" into "))
        || (h.starts_with("Merge ") && h.contains(" into "))
}

fn is_release(header: &str) -> bool {
    let mut s = header;
    if let Some(rest) = s.strip_prefix("chore") {
        let rest = match rest.strip_prefix('(') {
            Some(r) => r.find(')').map_or(rest, |i| &r[i + 1..]),
            None => rest,
        };
        if let Some(rest) = rest.strip_prefix(':') {
            s = rest;
        }
    }
    let lower = s.to_ascii_lowercase();
    let mut owned = s.to_owned();
    for tag in [
        "[skip ci]",
        "[ci skip]",
        "[skip-ci]",
        "[ci-skip]",
        "(skip ci)",
        "(ci skip)",
    ] {
        if let Some(i) = lower.find(tag) {
            owned = format!("{}{}", &s[..i], &s[i + tag.len()..]);
            break;
        }
    }
    is_semver(owned.trim())
}

/// `[v=]MAJOR.MINOR.PATCH[-pre][+build]`, numbers without leading zeros.
fn is_semver(s: &str) -> bool {
    let s = s.trim_start_matches(['v', '=']).trim();
    let (core, build) = match s.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (s, None),
    };
    let (version, pre) = match core.split_once('-') {
        Some((v, p)) => (v, Some(p)),
        None => (core, None),
    };
    let numeric = |n: &str| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
    };
    let ident =
        |i: &str| !i.is_empty() && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|i| ident(i) && (!i.bytes().all(|b| b.is_ascii_digit()) || numeric(i)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

/// The configurable commit message rules. Deserializes from JSON with kebab-case keys; every
/// key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommitRules {
    /// Allowed types (`type-enum`).
    pub types: Vec<String>,
    /// Case the type must have (`type-case`).
    pub type_case: Case,
    /// Case the scope must have (`scope-case`, off by default).
    pub scope_case: Case,
    /// Maximum header length in characters (`header-max-length`).
    pub header_max_length: usize,
    /// Maximum body line length (`body-max-line-length`).
    pub body_max_line_length: usize,
    /// Maximum footer line length (`footer-max-line-length`).
    pub footer_max_line_length: usize,
    /// Whole words or phrases that must not appear anywhere in the message
    /// (`forbidden-words`, case-insensitive).
    pub forbidden_words: Vec<String>,
    /// Severity per rule name, overriding the defaults; `"off"` disables a rule.
    pub severity: BTreeMap<String, Severity>,
    /// What is skipped without checking.
    pub ignores: Ignores,
    /// The comment character; when unset the CLI uses git's `core.commentChar` (default `#`).
    pub comment_char: Option<char>,
}

impl Default for CommitRules {
    fn default() -> Self {
        Self {
            types: [
                "build", "chore", "ci", "docs", "feat", "fix", "perf", "refactor", "revert",
                "style", "test",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            type_case: Case::LowerCase,
            scope_case: Case::LowerCase,
            header_max_length: 100,
            body_max_line_length: 100,
            footer_max_line_length: 100,
            forbidden_words: Vec::new(),
            severity: BTreeMap::new(),
            ignores: Ignores::default(),
            comment_char: None,
        }
    }
}

fn default_severity(rule: &str) -> Severity {
    match rule {
        "body-leading-blank" | "footer-leading-blank" => Severity::Warning,
        "scope-case" => Severity::Off,
        _ => Severity::Error,
    }
}

fn has_url(line: &str) -> bool {
    // commitlint: /\bhttps?:\/\/\S+/
    let bytes = line.as_bytes();
    line.match_indices("http").any(|(i, _)| {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &line[i + 4..];
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        boundary
            && rest
                .strip_prefix("://")
                .is_some_and(|r| r.chars().next().is_some_and(|c| !c.is_whitespace()))
    })
}

/// Strips `` `...` ``, `"..."` and `'...'` segments like commitlint's case check does.
fn strip_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['`', '"', '\'']) {
        let quote = rest[i..].chars().next().unwrap_or('"');
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(quote) {
            Some(j) => rest = &after[j + 1..],
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// commitlint's subject-case with `never [sentence-case, start-case, pascal-case, upper-case]`:
/// the subject starts with a cased letter that is upper case.
fn starts_upper(subject: &str) -> bool {
    let Some(first) = subject.chars().next() else {
        return false;
    };
    if !(first.is_lowercase() || first.is_uppercase()) {
        return false;
    }
    let input = strip_quoted(subject);
    let input = input.trim();
    let Some(c) = input.chars().next() else {
        return true;
    };
    if c.is_ascii_digit() {
        return true;
    }
    let mut upper = c.to_uppercase();
    upper.next() == Some(c) && upper.next().is_none()
}

impl CommitRules {
    /// Parses rules from JSON; unknown keys and unknown rule names are errors.
    ///
    /// # Errors
    /// [`Error::Config`] naming the offending key.
    pub fn from_json(text: &str) -> Result<Self> {
        let rules: Self = serde_json::from_str(text).map_err(|e| Error::Config {
            source_name: "commit rules".into(),
            message: e.to_string(),
        })?;
        rules.validate()?;
        Ok(rules)
    }

    /// Checks that every key in `severity` names a known rule.
    ///
    /// # Errors
    /// [`Error::Config`] naming the unknown rule.
    pub fn validate(&self) -> Result<()> {
        for name in self.severity.keys() {
            if !RULE_NAMES.contains(&name.as_str()) {
                return Err(Error::Config {
                    source_name: "commit rules".into(),
                    message: format!(
                        "unknown rule {name:?} in `severity`; known rules: {}",
                        RULE_NAMES.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// The effective severity of `rule`.
    #[must_use]
    pub fn severity_of(&self, rule: &str) -> Severity {
        self.severity
            .get(rule)
            .copied()
            .unwrap_or_else(|| default_severity(rule))
    }

    /// Cleans, parses and checks raw message text with `#` (or the configured comment char)
    /// as the comment character.
    #[must_use]
    pub fn check_text(&self, raw: &str) -> Report {
        let cleanup = Cleanup {
            comment_char: Some(self.comment_char.unwrap_or('#')),
        };
        self.check(&message::parse(raw, &cleanup))
    }

    /// Checks a parsed message.
    #[must_use]
    pub fn check(&self, commit: &Commit) -> Report {
        let mut report = Report::default();
        let Some(header_line) = commit.header_line() else {
            self.add(
                &mut report,
                "subject-empty",
                1,
                1,
                "the message is empty".into(),
                "write a header like `fix(scope): what changed`".into(),
            );
            self.add(
                &mut report,
                "type-empty",
                1,
                1,
                "the message is empty".into(),
                "start the header with a type such as `feat` or `fix`".into(),
            );
            return report;
        };
        if let Some(reason) = self.ignores.reason(&header_line.text) {
            report.ignored = Some(reason);
            return report;
        }
        let header = &header_line.text;
        let hl = header_line.number;
        let parts = commit.header();

        // header-trim (trailing whitespace never survives cleanup); JavaScript's `trim`, which
        // commitlint uses, also removes a byte-order mark.
        if header.starts_with(message::BOM) {
            self.add(
                &mut report,
                "header-trim",
                hl,
                1,
                "header starts with a byte-order mark (U+FEFF), which git would keep in the commit"
                    .into(),
                "save the message as UTF-8 without a BOM (the editor's encoding setting)".into(),
            );
        } else if header.trim_start().len() != header.len() {
            self.add(
                &mut report,
                "header-trim",
                hl,
                1,
                "header must not start with whitespace".into(),
                "remove the leading spaces".into(),
            );
        }

        // type-empty, type-enum, type-case
        match parts {
            Some(p) if !p.kind.is_empty() => {
                if !self.types.contains(&p.kind) {
                    self.add(
                        &mut report,
                        "type-enum",
                        hl,
                        1,
                        format!(
                            "type {:?} is not one of [{}]",
                            p.kind,
                            self.types.join(", ")
                        ),
                        suggest_type(&p.kind, &self.types),
                    );
                }
                if !self.type_case.holds(&p.kind) {
                    self.add(
                        &mut report,
                        "type-case",
                        hl,
                        1,
                        format!("type {:?} must be {}", p.kind, self.type_case.name()),
                        format!("write the type as {:?}", p.kind.to_lowercase()),
                    );
                }
            }
            _ => self.add(
                &mut report,
                "type-empty",
                hl,
                1,
                format!("header {header:?} has no type"),
                "use the form `type(scope): description`, e.g. `fix(parser): handle empty input`"
                    .into(),
            ),
        }

        // scope-case
        if let Some(p) = parts
            && let Some(scope) = &p.scope
            && !scope.is_empty()
            && !self.scope_case.holds(scope)
        {
            self.add(
                &mut report,
                "scope-case",
                hl,
                p.scope_column + 1,
                format!("scope {scope:?} must be {}", self.scope_case.name()),
                format!("write the scope as {:?}", scope.to_lowercase()),
            );
        }

        // subject-empty, subject-case
        match parts {
            Some(p) if !p.description.is_empty() => {
                if starts_upper(&p.description) {
                    self.add(
                        &mut report,
                        "subject-case",
                        hl,
                        p.description_column + 1,
                        format!(
                            "subject {:?} must not be sentence-case, start-case, pascal-case or upper-case",
                            p.description
                        ),
                        "start the description with a lower-case letter (imperative mood: `add`, not `Added`)".into(),
                    );
                }
            }
            _ => self.add(
                &mut report,
                "subject-empty",
                hl,
                parts.map_or(1, |p| p.description_column + 1),
                format!("header {header:?} has no description"),
                "add a short description after `type: `".into(),
            ),
        }

        // subject-full-stop (on the whole header, like commitlint)
        if header.ends_with('.') && !header.ends_with("...") {
            self.add(
                &mut report,
                "subject-full-stop",
                hl,
                header.chars().count(),
                "subject must not end with a full stop".into(),
                "remove the trailing `.`".into(),
            );
        }

        // header-max-length
        let len = header.chars().count();
        if len > self.header_max_length {
            self.add(
                &mut report,
                "header-max-length",
                hl,
                self.header_max_length + 1,
                format!(
                    "header is {len} characters, longer than {}",
                    self.header_max_length
                ),
                "shorten the header; put details in the body".into(),
            );
        }

        // body-leading-blank, body-max-line-length
        if let Some((start, _)) = commit.body_range() {
            if let Some(second) = commit.lines().get(1).filter(|l| !l.text.is_empty()) {
                self.add(
                    &mut report,
                    "body-leading-blank",
                    second.number,
                    1,
                    "body must have a leading blank line".into(),
                    "leave the second line of the message empty".into(),
                );
            }
            let _ = start;
            for line in commit.body_lines() {
                self.check_line_length(
                    &mut report,
                    "body-max-line-length",
                    line,
                    self.body_max_line_length,
                );
            }
        }

        // footer-leading-blank, footer-max-line-length
        if let Some(start) = commit.footer_start() {
            let lines = commit.lines();
            let before = start.checked_sub(1).and_then(|i| lines.get(i));
            if before.is_some_and(|l| !l.text.is_empty()) {
                let number = lines.get(start).map_or(hl, |l| l.number);
                self.add(
                    &mut report,
                    "footer-leading-blank",
                    number,
                    1,
                    "footer must have a leading blank line".into(),
                    "leave an empty line before the first footer".into(),
                );
            }
            for line in commit.footer_lines() {
                self.check_line_length(
                    &mut report,
                    "footer-max-line-length",
                    line,
                    self.footer_max_line_length,
                );
            }
        }

        // forbidden-words
        // (`add` drops the hits when the rule is off.)
        if !self.forbidden_words.is_empty() {
            let list = WordList::new(&self.forbidden_words);
            for line in commit.lines() {
                for hit in list.find(&line.text) {
                    self.add(
                        &mut report,
                        "forbidden-words",
                        line.number,
                        hit.column,
                        format!("{:?} is a forbidden word", hit.text),
                        format!(
                            "reword without {:?} (forbidden-words: {})",
                            hit.word,
                            self.forbidden_words.join(", ")
                        ),
                    );
                }
            }
        }
        report
    }

    fn check_line_length(&self, report: &mut Report, rule: &str, line: &message::Line, max: usize) {
        let len = line.text.chars().count();
        if len > max && !has_url(&line.text) {
            self.add(
                report,
                rule,
                line.number,
                max + 1,
                format!("line is {len} characters, longer than {max}"),
                "wrap the line".into(),
            );
        }
    }

    fn add(
        &self,
        report: &mut Report,
        rule: &str,
        line: usize,
        column: usize,
        message: String,
        hint: String,
    ) {
        let severity = self.severity_of(rule);
        if severity != Severity::Off {
            report.push(Violation::new(rule, severity, line, column, message, hint));
        }
    }
}

fn suggest_type(kind: &str, types: &[String]) -> String {
    let lower = kind.to_lowercase();
    let aliases: &[(&str, &str)] = &[
        ("feature", "feat"),
        ("bugfix", "fix"),
        ("hotfix", "fix"),
        ("doc", "docs"),
        ("tests", "test"),
        ("refactoring", "refactor"),
        ("performance", "perf"),
    ];
    let guess = types.iter().find(|t| **t == lower).cloned().or_else(|| {
        aliases
            .iter()
            .find(|(a, _)| *a == lower)
            .map(|(_, t)| (*t).to_owned())
            .filter(|t| types.contains(t))
    });
    match guess {
        Some(t) => format!("did you mean `{t}`?"),
        None => format!("use one of: {}", types.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(msg: &str) -> Vec<String> {
        CommitRules::default()
            .check_text(msg)
            .rules(Severity::Error)
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn subject_case() {
        assert!(starts_upper("Add x"));
        assert!(starts_upper("ADD"));
        assert!(!starts_upper("add X"));
        assert!(!starts_upper("`Foo` bar"));
        assert!(!starts_upper("123"));
        assert!(starts_upper("Élan"));
        assert!(!starts_upper("élan"));
        assert_eq!(strip_quoted("a \"B\" 'c' `d` e"), "a    e");
        assert_eq!(strip_quoted("don't"), "don't");
    }

    #[test]
    fn semver_headers() {
        for h in [
            "1.2.3",
            "v1.2.3",
            "chore(release): 1.2.3",
            "chore: v2.0.0-rc.1 [skip ci]",
            "1.0.0+build.5",
        ] {
            assert!(is_release(h), "{h}");
        }
        for h in ["1.2", "01.2.3", "chore: release 1.2.3", "v1.2.3.4"] {
            assert!(!is_release(h), "{h}");
        }
    }

    #[test]
    fn url_lines() {
        assert!(has_url("see https://example.invalid/x"));
        assert!(has_url("http://a"));
        assert!(!has_url("xhttp://a"));
        assert!(!has_url("https:// a"));
    }

    #[test]
    fn rule_examples() {
        assert!(errors("feat: add x").is_empty());
        assert_eq!(errors("foo: add x"), ["type-enum"]);
        assert_eq!(errors("not conventional"), ["type-empty", "subject-empty"]);
        assert_eq!(errors(": no type"), ["type-empty"]);
        assert_eq!(
            errors(" feat: x"),
            ["header-trim", "type-empty", "subject-empty"]
        );
        assert_eq!(errors("feat: x..."), Vec::<String>::new());
        let long = format!("feat: {}", "a".repeat(95));
        assert_eq!(errors(&long), ["header-max-length"]);
    }

    #[test]
    fn documented_differences_4_and_5() {
        // 4: a merge-looking body line does not switch checking off.
        let report =
            CommitRules::default().check_text("Bad header\n\nMerge branch 'main' into dev\n");
        assert!(report.ignored.is_none());
        assert!(!report.passed());
        // 5: an empty message is reported, not refused.
        assert_eq!(
            errors("# only a comment\n\n"),
            ["subject-empty", "type-empty"]
        );
        assert_eq!(errors(""), ["subject-empty", "type-empty"]);
    }

    #[test]
    fn positions_point_into_the_file() {
        let report = CommitRules::default().check_text("# comment\nfix(x): Add y\nbody\n");
        let v = &report.violations;
        assert_eq!(
            (v[0].rule.as_str(), v[0].line, v[0].column),
            ("subject-case", 2, 9)
        );
        assert_eq!((v[1].rule.as_str(), v[1].line), ("body-leading-blank", 3));
    }

    #[test]
    fn severity_overrides_and_validation() {
        let rules = CommitRules::from_json(r#"{"severity": {"type-enum": "warning", "subject-case": "off"}, "scope-case": "kebab-case"}"#).expect("valid");
        let report = rules.check_text("Foo(My_Scope): Bar");
        assert_eq!(report.rules(Severity::Warning), ["type-enum"]);
        assert_eq!(report.rules(Severity::Error), ["type-case"]);
        let rules = CommitRules::from_json(
            r#"{"severity": {"scope-case": "error"}, "scope-case": "kebab-case"}"#,
        )
        .expect("valid");
        assert_eq!(
            rules.check_text("fix(My_Scope): x").rules(Severity::Error),
            ["scope-case"]
        );
        let err = CommitRules::from_json(r#"{"severity": {"no-such-rule": "error"}}"#)
            .expect_err("unknown");
        assert!(err.to_string().contains("no-such-rule"));
        let err = CommitRules::from_json(r#"{"header-max": 3}"#).expect_err("unknown key");
        assert!(err.to_string().contains("header-max"));
    }

    fn with(json: &str) -> CommitRules {
        CommitRules::from_json(json).expect("valid rules")
    }

    fn violation_messages(rules: &CommitRules, msg: &str) -> Vec<String> {
        rules
            .check_text(msg)
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.rule, v.message))
            .collect()
    }

    #[test]
    fn configured_cases_accept_and_reject_what_they_name() {
        let upper = with(r#"{"type-case": "upper-case", "types": ["FEAT", "feat"]}"#);
        assert!(upper.check_text("FEAT: x").passed());
        assert_eq!(
            violation_messages(&upper, "feat: x"),
            ["type-case: type \"feat\" must be upper-case"]
        );
        assert_eq!(
            violation_messages(&CommitRules::default(), "Feat: x"),
            [
                "type-enum: type \"Feat\" is not one of [build, chore, ci, docs, feat, fix, perf, refactor, revert, style, test]",
                "type-case: type \"Feat\" must be lower-case"
            ]
        );
        let kebab = with(r#"{"scope-case": "kebab-case", "severity": {"scope-case": "error"}}"#);
        assert!(kebab.check_text("fix(api-client2): x").passed());
        assert_eq!(
            violation_messages(&kebab, "fix(api_client): x"),
            ["scope-case: scope \"api_client\" must be kebab-case"]
        );
        assert!(!kebab.check_text("fix(Api): x").passed());
        let snake = with(r#"{"scope-case": "snake-case", "severity": {"scope-case": "error"}}"#);
        assert!(snake.check_text("fix(api_client2): x").passed());
        assert_eq!(
            violation_messages(&snake, "fix(api-client): x"),
            ["scope-case: scope \"api-client\" must be snake-case"]
        );
        assert!(!snake.check_text("fix(Api): x").passed());
    }

    #[test]
    fn only_real_merges_and_releases_are_ignored() {
        let rules = CommitRules::default();
        for msg in [
            "Merged feature in main",
            "Merged x into y",
            "Auto-merged a into b",
            "1.2.3-rc-1",
            "1.2.3-rc.1+build-5",
        ] {
            assert!(rules.check_text(msg).ignored.is_some(), "{msg}");
        }
        for msg in [
            "fix bug in parser",
            "Put x into y",
            "Merged stuff",
            "Auto-merged stuff",
            "1.2.3-rc_1",
            "1.2.3-01",
            "1.2.3-",
            "1.2.3+",
        ] {
            let report = rules.check_text(msg);
            assert!(report.ignored.is_none(), "{msg}");
            assert!(!report.passed(), "{msg}");
        }
        // An empty extra prefix ignores nothing; a real one only its own headers.
        let custom = with(r#"{"ignores": {"prefixes": ["", "WIP"]}}"#);
        assert!(custom.check_text("Not conventional").ignored.is_none());
        assert!(custom.check_text("WIP: later").ignored.is_some());
    }

    #[test]
    fn long_url_lines_are_exempt_only_at_a_word_boundary() {
        let rules = CommitRules::default();
        let tail = "x".repeat(100);
        let url = format!("feat: x\n\nsee https://example.invalid/{tail}\n");
        assert!(rules.check_text(&url).passed(), "{url}");
        let glued = format!("feat: x\n\nsee_https://example.invalid/{tail}\n");
        assert_eq!(
            rules.check_text(&glued).rules(Severity::Error),
            ["body-max-line-length"]
        );
    }

    #[test]
    fn a_byte_order_mark_is_one_header_trim_error_that_names_it() {
        let rules = CommitRules::default();
        let report = rules.check_text("\u{feff}feat(cli): add x\r\n\r\nbody\r\n");
        assert_eq!(report.rules(Severity::Error), ["header-trim"]);
        assert_eq!(
            report.violations[0].message,
            "header starts with a byte-order mark (U+FEFF), which git would keep in the commit"
        );
        assert_eq!(
            placed(&rules, "\u{feff}feat: x"),
            [
                "header-trim@1:1 save the message as UTF-8 without a BOM (the editor's encoding setting)"
            ]
        );
        // The header behind it is judged as written.
        assert_eq!(
            errors("\u{feff}Feat: x"),
            ["header-trim", "type-enum", "type-case"]
        );
        // Leading spaces keep their own message.
        assert_eq!(
            rules.check_text(" feat: x").violations[0].message,
            "header must not start with whitespace"
        );
    }

    /// `rule@line:column hint` for every violation.
    fn placed(rules: &CommitRules, msg: &str) -> Vec<String> {
        rules
            .check_text(msg)
            .violations
            .iter()
            .map(|v| format!("{}@{}:{} {}", v.rule, v.line, v.column, v.hint))
            .collect()
    }

    #[test]
    fn columns_and_hints_point_at_the_problem() {
        let rules = CommitRules::default();
        let long = format!("feat: {}", "a".repeat(95));
        assert_eq!(
            placed(&rules, &long),
            ["header-max-length@1:101 shorten the header; put details in the body"]
        );
        let body = format!("fix: x\n\n{}\n", "b".repeat(101));
        assert_eq!(
            placed(&rules, &body),
            ["body-max-line-length@3:101 wrap the line"]
        );
        let footer = format!("fix: x\n\nbody\n\nRefs: {}\n", "1".repeat(101));
        assert_eq!(
            placed(&rules, &footer),
            ["footer-max-line-length@5:101 wrap the line"]
        );
        assert_eq!(
            placed(&rules, "fix: x\nbody\n"),
            ["body-leading-blank@2:1 leave the second line of the message empty"]
        );
        assert_eq!(
            placed(&rules, "# c\nfix: x\n\nbody\nRefs: #1\n"),
            ["footer-leading-blank@5:1 leave an empty line before the first footer"]
        );
        let kebab = with(r#"{"scope-case": "kebab-case", "severity": {"scope-case": "error"}}"#);
        assert_eq!(
            placed(&kebab, "fix(api_client): x"),
            ["scope-case@1:5 write the scope as \"api_client\""]
        );
        assert_eq!(
            placed(&rules, "Feat: x")[0],
            "type-enum@1:1 did you mean `feat`?"
        );
        assert_eq!(
            placed(&rules, "feature: x")[0],
            "type-enum@1:1 did you mean `feat`?"
        );
        assert_eq!(
            placed(&rules, "hotfix: x")[0],
            "type-enum@1:1 did you mean `fix`?"
        );
        assert_eq!(
            placed(&rules, "foo: x")[0],
            "type-enum@1:1 use one of: build, chore, ci, docs, feat, fix, perf, refactor, revert, style, test"
        );
        // An alias whose target is not an allowed type is not suggested.
        let narrow = with(r#"{"types": ["fix", "chore"]}"#);
        assert_eq!(
            placed(&narrow, "feature: x")[0],
            "type-enum@1:1 use one of: fix, chore"
        );
    }

    #[test]
    fn an_uncleaned_header_with_an_empty_description_is_subject_empty() {
        // `parse_lines` takes lines as given: a trailing `: ` survives, the description is "".
        let commit = message::parse_lines(vec![message::Line {
            number: 3,
            text: "feat: ".into(),
        }]);
        let report = CommitRules::default().check(&commit);
        let placed: Vec<String> = report
            .violations
            .iter()
            .map(|v| format!("{}@{}:{}", v.rule, v.line, v.column))
            .collect();
        assert_eq!(placed, ["subject-empty@3:7"]);
    }

    #[test]
    fn forbidden_words_are_reported_unless_the_rule_is_off() {
        let rules = with(r#"{"forbidden-words": ["AI"]}"#);
        assert_eq!(
            placed(&rules, "feat: x\n\nwritten with AI help\n"),
            ["forbidden-words@3:14 reword without \"AI\" (forbidden-words: AI)"]
        );
        let off = with(r#"{"forbidden-words": ["AI"], "severity": {"forbidden-words": "off"}}"#);
        assert!(placed(&off, "feat: x\n\nwritten with AI help\n").is_empty());
        assert!(placed(&CommitRules::default(), "feat: x\n\nwritten with AI help\n").is_empty());
    }

    #[test]
    fn ignores_are_configurable() {
        let rules = CommitRules::default();
        for msg in [
            "Merge branch 'a'",
            "Merge pull request #1 from x/y",
            "Revert \"feat: x\"",
            "fixup! feat: x",
            "squash! y",
            "amend! z",
            "v1.0.0",
        ] {
            assert!(rules.check_text(msg).ignored.is_some(), "{msg}");
        }
        let strict = CommitRules {
            ignores: Ignores {
                merges: false,
                ..Ignores::default()
            },
            ..CommitRules::default()
        };
        assert!(!strict.check_text("Merge branch 'a'").passed());
        let custom = CommitRules {
            ignores: Ignores {
                prefixes: vec!["WIP".into()],
                ..Ignores::default()
            },
            ..CommitRules::default()
        };
        assert!(custom.check_text("WIP stuff").ignored.is_some());
    }
}
