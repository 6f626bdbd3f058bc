//! Violations and reports, rendered for humans or as JSON.
//!
//! ```
//! use synod_policy::report::{Report, Severity, Violation};
//!
//! let mut report = Report::default();
//! report.push(Violation::new("type-enum", Severity::Error, 1, 1, "type must be one of [feat, fix]", "use feat or fix"));
//! assert!(!report.passed());
//! assert_eq!(report.errors(), 1);
//! assert!(report.to_human("msg.txt").contains("msg.txt:1:1: error[type-enum]"));
//! let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
//! assert_eq!(json["violations"][0]["rule"], "type-enum");
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// How much a rule matters, like commitlint's levels 0, 1 and 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule is disabled.
    Off,
    /// Reported, but the check still passes.
    Warning,
    /// Reported and the check fails.
    Error,
}

impl Severity {
    /// `"error"`, `"warning"` or `"off"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Off => "off",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule name, e.g. `header-max-length`.
    pub rule: String,
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line in the checked text or file.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong, naming the offending value.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// The file the violation is in, when it is not the checked message itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Violation {
    /// A violation without a path.
    #[must_use]
    pub fn new(
        rule: &str,
        severity: Severity,
        line: usize,
        column: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.to_owned(),
            severity,
            line,
            column,
            message: message.into(),
            hint: hint.into(),
            path: None,
        }
    }

    /// Sets the path.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// The result of checking one message or one tree of documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Set when the message matched an ignore pattern (merge, revert, fixup!, ...); then no rule
    /// ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// Every violation, in rule order.
    pub violations: Vec<Violation>,
}

impl Report {
    /// Adds a violation.
    pub fn push(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    /// Number of errors.
    #[must_use]
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// Number of warnings.
    #[must_use]
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.violations
            .iter()
            .filter(|v| v.severity == severity)
            .count()
    }

    /// True when there is no error (warnings alone pass).
    #[must_use]
    pub fn passed(&self) -> bool {
        self.errors() == 0
    }

    /// The names of the violated rules with the given severity, in order.
    #[must_use]
    pub fn rules(&self, severity: Severity) -> Vec<&str> {
        self.violations
            .iter()
            .filter(|v| v.severity == severity)
            .map(|v| v.rule.as_str())
            .collect()
    }

    /// `file:line:col: severity[rule]: message` lines, each followed by an indented hint, then a
    /// summary line.
    #[must_use]
    pub fn to_human(&self, source: &str) -> String {
        let mut out = String::new();
        if let Some(reason) = &self.ignored {
            let _ = writeln!(out, "{source}: not checked ({reason})");
            return out;
        }
        for v in &self.violations {
            let path = v.path.as_deref().unwrap_or(source);
            let _ = writeln!(
                out,
                "{path}:{}:{}: {}[{}]: {}",
                v.line,
                v.column,
                v.severity.as_str(),
                v.rule,
                v.message
            );
            if !v.hint.is_empty() {
                let _ = writeln!(out, "    hint: {}", v.hint);
            }
        }
        let _ = writeln!(
            out,
            "{source}: {} error(s), {} warning(s)",
            self.errors(),
            self.warnings()
        );
        out
    }

    /// The report as pretty JSON (`{"ignored"?, "violations": [...]}`).
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| String::from("{}"))
    }
}
