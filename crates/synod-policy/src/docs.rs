//! Documentation structure rules: required files per folder glob, a required first heading,
//! required headings and required table headers.
//!
//! ```
//! use synod_policy::docs::{check_docs, DocRule, FileRule};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::create_dir_all(dir.path().join("docs/SPEC-0001")).unwrap();
//! std::fs::write(dir.path().join("docs/SPEC-0001/spec.md"), "# Spec\n\n## Context\n").unwrap();
//! let rules = vec![DocRule {
//!     folders: "docs/SPEC-*".into(),
//!     files: vec![FileRule {
//!         name: "spec.md".into(),
//!         first_heading: Some("# Spec".into()),
//!         headings: vec!["## Context".into(), "## Objectives".into()],
//!         tables: vec![],
//!     }],
//! }];
//! let report = check_docs(dir.path(), &rules, synod_policy::input::DEFAULT_MAX_INPUT_BYTES).unwrap();
//! assert_eq!(report.violations.len(), 1);
//! assert_eq!(report.violations[0].rule, "doc-heading");
//! assert_eq!(report.violations[0].path.as_deref(), Some("docs/SPEC-0001/spec.md"));
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::glob::Glob;
use crate::input::read_file_limited;
use crate::report::{Report, Severity, Violation};
use crate::{Result, io_err};

/// Folders never walked.
const SKIP_DIRS: &[&str] = &[".git", "target", "node_modules", ".synod"];

/// Rules for every folder whose path (relative to the root, `/`-separated) matches `folders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DocRule {
    /// Folder glob, e.g. `docs/SPEC-*`.
    pub folders: String,
    /// Files each matching folder must contain.
    #[serde(default)]
    pub files: Vec<FileRule>,
}

/// A required file and its required structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileRule {
    /// File name inside the folder, e.g. `spec.md`.
    pub name: String,
    /// The first heading the file must start with, e.g. `# Spec`.
    #[serde(default)]
    pub first_heading: Option<String>,
    /// Headings that must appear (as whole lines), e.g. `## Context`.
    #[serde(default)]
    pub headings: Vec<String>,
    /// Tables that must appear, each given by its header cells, e.g. `["Risk", "Mitigation"]`.
    #[serde(default)]
    pub tables: Vec<Vec<String>>,
}

/// Walks `root` and checks every rule. Violations carry the file's path relative to `root`.
/// Each checked file is read up to `max_bytes` (see [`crate::input`]).
///
/// # Errors
/// [`crate::Error::Io`] when a folder cannot be listed or a file cannot be read,
/// [`crate::Error::TooLarge`] when a checked file is bigger than `max_bytes`.
pub fn check_docs(root: &Path, rules: &[DocRule], max_bytes: u64) -> Result<Report> {
    let _span = tracing::debug_span!("check_docs", root = %root.display()).entered();
    let globs: Vec<(Glob, &DocRule)> = rules.iter().map(|r| (Glob::new(&r.folders), r)).collect();
    let mut folders = Vec::new();
    collect_folders(root, root, &mut folders)?;
    folders.sort();
    let mut report = Report::default();
    for rel in &folders {
        for (glob, rule) in &globs {
            if !glob.matches(rel) {
                continue;
            }
            for file in &rule.files {
                let path = root.join(rel).join(&file.name);
                let shown = if rel.is_empty() {
                    file.name.clone()
                } else {
                    format!("{rel}/{}", file.name)
                };
                if !path.is_file() {
                    report.push(
                        Violation::new(
                            "doc-required-file",
                            Severity::Error,
                            1,
                            1,
                            format!(
                                "{shown} is missing (required in folders matching {:?})",
                                rule.folders
                            ),
                            format!("create {shown}"),
                        )
                        .with_path(shown.clone()),
                    );
                    continue;
                }
                let bytes = read_file_limited(&path, max_bytes)?;
                let text = String::from_utf8_lossy(&bytes);
                for v in check_file(&text, file) {
                    report.push(v.with_path(shown.clone()));
                }
            }
        }
    }
    Ok(report)
}

fn collect_folders(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let rel = dir
        .strip_prefix(root)
        .unwrap_or(dir)
        .to_string_lossy()
        .replace('\\', "/");
    out.push(rel);
    let entries = std::fs::read_dir(dir).map_err(io_err("list", dir))?;
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        if SKIP_DIRS.iter().any(|s| name == *s) {
            continue;
        }
        let kind = entry.file_type().map_err(io_err("inspect", entry.path()))?;
        if kind.is_dir() {
            collect_folders(root, &entry.path(), out)?;
        }
    }
    Ok(())
}

/// Checks one file's text against a [`FileRule`] (no path set on the violations).
#[must_use]
pub fn check_file(text: &str, rule: &FileRule) -> Vec<Violation> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut in_fence = false;
    let mut headings: Vec<(usize, &str)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence && line.starts_with('#') {
            headings.push((i + 1, line));
        }
    }
    if let Some(first) = &rule.first_heading {
        match headings.first() {
            Some((_, h)) if h == first => {}
            Some((n, h)) => out.push(Violation::new(
                "doc-first-heading",
                Severity::Error,
                *n,
                1,
                format!("first heading is {h:?}, expected {first:?}"),
                format!("start the file with `{first}`"),
            )),
            None => out.push(Violation::new(
                "doc-first-heading",
                Severity::Error,
                1,
                1,
                format!("the file has no heading, expected {first:?} first"),
                format!("start the file with `{first}`"),
            )),
        }
    }
    for wanted in &rule.headings {
        if !headings.iter().any(|(_, h)| h == wanted) {
            out.push(Violation::new(
                "doc-heading",
                Severity::Error,
                lines.len().max(1),
                1,
                format!("required heading {wanted:?} is missing"),
                format!("add a `{wanted}` section"),
            ));
        }
    }
    for wanted in &rule.tables {
        let found = lines.iter().enumerate().any(|(i, line)| {
            table_cells(line).is_some_and(|cells| cells == *wanted)
                && lines.get(i + 1).is_some_and(|l| is_delimiter_row(l))
        });
        if !found {
            out.push(Violation::new(
                "doc-table",
                Severity::Error,
                lines.len().max(1),
                1,
                format!(
                    "required table with header | {} | is missing",
                    wanted.join(" | ")
                ),
                format!(
                    "add a table whose header row is `| {} |`",
                    wanted.join(" | ")
                ),
            ));
        }
    }
    out
}

fn table_cells(line: &str) -> Option<Vec<String>> {
    let t = line.trim();
    if !t.contains('|') {
        return None;
    }
    let inner = t.strip_prefix('|').unwrap_or(t);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    Some(inner.split('|').map(|c| c.trim().to_owned()).collect())
}

fn is_delimiter_row(line: &str) -> bool {
    table_cells(line).is_some_and(|cells| {
        !cells.is_empty()
            && cells.iter().all(|c| {
                let c = c.trim_matches(':');
                !c.is_empty() && c.chars().all(|ch| ch == '-')
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> FileRule {
        FileRule {
            name: "spec.md".into(),
            first_heading: Some("# Spec".into()),
            headings: vec!["## Context".into(), "## Objectives".into()],
            tables: vec![vec!["Risk".into(), "Mitigation".into()]],
        }
    }

    #[test]
    fn complete_file_passes() {
        let text = "# Spec\n\n## Context\n\n## Objectives\n\n| Risk | Mitigation |\n|---|:--:|\n| a | b |\n";
        assert_eq!(check_file(text, &rule()), vec![]);
    }

    #[test]
    fn wrong_first_heading_and_missing_parts() {
        let text = "# Notes\n```\n## Context\n```\n| Risk | Mitigation |\nno delimiter\n";
        let rules: Vec<_> = check_file(text, &rule())
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(
            rules,
            [
                "doc-first-heading",
                "doc-heading",
                "doc-heading",
                "doc-table"
            ]
        );
        let v = check_file("", &rule());
        assert_eq!(
            v[0].message,
            "the file has no heading, expected \"# Spec\" first"
        );
    }

    #[test]
    fn a_table_header_needs_a_delimiter_row_of_dashes_under_each_cell() {
        let with = |under: &str| {
            let text =
                format!("# Spec\n## Context\n## Objectives\n| Risk | Mitigation |\n{under}\n");
            check_file(&text, &rule()).is_empty()
        };
        for delimiter in ["|---|---|", "| :-- | --: |", "|:-:|-|", "---|---"] {
            assert!(with(delimiter), "{delimiter:?} is a delimiter row");
        }
        // A data row, a row with one cell that is not dashes, an empty cell, no pipe at all.
        for not in [
            "| a | b |",
            "|---| b |",
            "| a |---|",
            "|---||",
            "|:|---|",
            "-----",
        ] {
            assert!(!with(not), "{not:?} is no delimiter row");
        }
    }

    #[test]
    fn a_wrong_first_heading_is_reported_on_its_own_line() {
        // Line 1 is prose, lines 2-4 a fence whose `#` is not a heading, line 5 the heading.
        let text = "Draft.\n```\n# Not a heading\n```\n# Notes\n";
        let v = check_file(text, &rule());
        assert_eq!(v[0].rule, "doc-first-heading");
        assert_eq!((v[0].line, v[0].column), (5, 1));
        assert_eq!(
            v[0].message,
            "first heading is \"# Notes\", expected \"# Spec\""
        );
    }

    #[test]
    fn missing_file_and_unmatched_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["docs/SPEC-1", "docs/other", "target/docs/SPEC-2"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        let rules = vec![DocRule {
            folders: "docs/SPEC-*".into(),
            files: vec![rule()],
        }];
        let report =
            check_docs(dir.path(), &rules, crate::input::DEFAULT_MAX_INPUT_BYTES).expect("walk");
        assert_eq!(report.violations.len(), 1);
        assert_eq!(report.violations[0].rule, "doc-required-file");
        assert_eq!(
            report.violations[0].path.as_deref(),
            Some("docs/SPEC-1/spec.md")
        );
    }
}
