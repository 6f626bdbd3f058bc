//! Conventional Commits 1.0.0 parsing over the message git would store.
//!
//! [`clean`] first does what git's default `--cleanup=strip` does to an edited message:
//! everything from the scissors line (`# ------------------------ >8 ------------------------`)
//! on is dropped, comment lines (starting with `core.commentChar`, default `#`) are dropped,
//! trailing whitespace is removed from every line, runs of blank lines collapse to one and
//! leading and trailing blank lines go. Each kept line remembers its 1-based line number in
//! the original text, so reports point into the file the user edited.
//!
//! [`parse`] then splits the cleaned lines into the header (`type(scope)!: description`), the
//! body and the footers (`Token: value`, `Token #value`, `BREAKING CHANGE: value`,
//! `BREAKING-CHANGE: value`). Parsing never fails and never panics: a header that is not a
//! Conventional Commits header simply has no type.
//!
//! ```
//! use synod_policy::message::{parse, Cleanup};
//!
//! let text = "feat(api)!: drop v1 endpoints\n\nThey were deprecated.\n\nBREAKING CHANGE: v1 is gone\nRefs #42\n# Please enter the commit message\n";
//! let commit = parse(text, &Cleanup::default());
//! assert_eq!(commit.kind(), Some("feat"));
//! assert_eq!(commit.scope(), Some("api"));
//! assert!(commit.is_breaking());
//! assert_eq!(commit.description(), Some("drop v1 endpoints"));
//! assert_eq!(commit.body_text().as_deref(), Some("They were deprecated."));
//! assert_eq!(commit.footers().len(), 2);
//! assert_eq!(commit.footers()[1].token, "Refs");
//! assert_eq!(commit.footers()[1].value, "42");
//! ```

use serde::Serialize;

/// The scissors marker git writes below `# ` in verbose commits; everything from it is dropped.
pub const SCISSORS: &str = "------------------------ >8 ------------------------";

/// The byte-order mark (U+FEFF) some Windows editors put at the start of a UTF-8 file; git
/// keeps it as the first character of the commit message.
pub const BOM: char = '\u{feff}';

/// How to clean the raw text before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleanup {
    /// The comment character (`core.commentChar`); `None` keeps lines that start with it
    /// (use `None` for messages already stored in a commit).
    pub comment_char: Option<char>,
}

impl Default for Cleanup {
    fn default() -> Self {
        Self {
            comment_char: Some('#'),
        }
    }
}

impl Cleanup {
    /// Cleanup for a message already stored in a commit: git has cleaned it, comment-looking
    /// lines are real content.
    #[must_use]
    pub fn stored() -> Self {
        Self { comment_char: None }
    }
}

/// One kept line of the cleaned message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// 1-based line number in the original text.
    pub number: usize,
    /// The line without its trailing whitespace.
    pub text: String,
}

/// A footer (`Token: value` or `Token #value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Footer {
    /// The token, e.g. `Refs`, `Signed-off-by`, `BREAKING CHANGE`.
    pub token: String,
    /// The separator: `": "` or `" #"`.
    pub separator: String,
    /// The value; continuation lines are joined with `\n`.
    pub value: String,
    /// Index into [`Commit::lines`] of the footer's first line.
    pub line: usize,
}

impl Footer {
    /// Whether this footer announces a breaking change.
    #[must_use]
    pub fn is_breaking(&self) -> bool {
        self.token == "BREAKING CHANGE" || self.token == "BREAKING-CHANGE"
    }
}

/// The parts of a Conventional Commits header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// The type (may be empty when the header is `: description`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The scope between parentheses, if any.
    pub scope: Option<String>,
    /// Whether `!` precedes the colon.
    pub bang: bool,
    /// The description after `: ` (may be empty).
    pub description: String,
    /// 0-based char column where the scope starts (after `(`).
    pub scope_column: usize,
    /// 0-based char column where the description starts.
    pub description_column: usize,
}

/// A parsed commit message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commit {
    lines: Vec<Line>,
    header: Option<Header>,
    body: Option<(usize, usize)>,
    footer_start: Option<usize>,
    footers: Vec<Footer>,
}

impl Commit {
    /// The cleaned lines; index 0 is the header line (absent for an empty message).
    #[must_use]
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Whether nothing remains after cleanup.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The whole first line.
    #[must_use]
    pub fn header_line(&self) -> Option<&Line> {
        self.lines.first()
    }

    /// The Conventional Commits header parts, when the first line has the
    /// `type(scope)!: description` shape.
    #[must_use]
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// The type, when the header is a Conventional Commits header and the type is not empty.
    #[must_use]
    pub fn kind(&self) -> Option<&str> {
        self.header
            .as_ref()
            .map(|h| h.kind.as_str())
            .filter(|k| !k.is_empty())
    }

    /// The scope, when present.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.header.as_ref().and_then(|h| h.scope.as_deref())
    }

    /// The description, when the header is a Conventional Commits header.
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.header.as_ref().map(|h| h.description.as_str())
    }

    /// Whether the commit is breaking: `!` in the header or a `BREAKING CHANGE` footer.
    #[must_use]
    pub fn is_breaking(&self) -> bool {
        self.header.as_ref().is_some_and(|h| h.bang) || self.footers.iter().any(Footer::is_breaking)
    }

    /// Range of line indices (`start..end`) of the body, without surrounding blank lines.
    #[must_use]
    pub fn body_range(&self) -> Option<(usize, usize)> {
        self.body
    }

    /// The body lines.
    #[must_use]
    pub fn body_lines(&self) -> &[Line] {
        match self.body {
            Some((start, end)) => self.lines.get(start..end).unwrap_or(&[]),
            None => &[],
        }
    }

    /// The body joined with `\n`.
    #[must_use]
    pub fn body_text(&self) -> Option<String> {
        self.body.map(|_| join(self.body_lines()))
    }

    /// Index of the first footer line, if there are footers.
    #[must_use]
    pub fn footer_start(&self) -> Option<usize> {
        self.footer_start
    }

    /// The footer lines (from the first footer to the end).
    #[must_use]
    pub fn footer_lines(&self) -> &[Line] {
        match self.footer_start {
            Some(start) => self.lines.get(start..).unwrap_or(&[]),
            None => &[],
        }
    }

    /// The footers in order.
    #[must_use]
    pub fn footers(&self) -> &[Footer] {
        &self.footers
    }

    /// The cleaned message, lines joined with `\n`.
    #[must_use]
    pub fn text(&self) -> String {
        join(&self.lines)
    }
}

fn join(lines: &[Line]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&line.text);
    }
    out
}

/// Cleans `raw` like git's `--cleanup=strip` (see the module docs).
#[must_use]
pub fn clean(raw: &str, cleanup: &Cleanup) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for (index, line) in raw.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(cc) = cleanup.comment_char
            && let Some(rest) = line.strip_prefix(cc)
        {
            if rest.strip_prefix(' ').unwrap_or(rest) == SCISSORS {
                break;
            }
            continue;
        }
        let text = line.trim_end();
        if text.is_empty() && out.last().is_none_or(|l| l.text.is_empty()) {
            continue;
        }
        out.push(Line {
            number: index + 1,
            text: text.to_owned(),
        });
    }
    while out.last().is_some_and(|l| l.text.is_empty()) {
        out.pop();
    }
    out
}

/// Cleans and parses `raw` (see the module docs). Never fails.
#[must_use]
pub fn parse(raw: &str, cleanup: &Cleanup) -> Commit {
    parse_lines(clean(raw, cleanup))
}

/// Parses already cleaned lines.
#[must_use]
pub fn parse_lines(lines: Vec<Line>) -> Commit {
    // A byte-order mark some Windows editors write is not part of the type (`header-trim`
    // reports it).
    let header = lines
        .first()
        .and_then(|l| parse_header(l.text.strip_prefix(BOM).unwrap_or(&l.text)));
    let footer_start = find_footer_start(&lines);
    let footers = footer_start
        .map(|start| collect_footers(&lines, start))
        .unwrap_or_default();
    let body_end = footer_start.unwrap_or(lines.len());
    let mut start = 1;
    let mut end = body_end.max(1);
    while start < end && lines.get(start).is_some_and(|l| l.text.is_empty()) {
        start += 1;
    }
    while end > start && lines.get(end - 1).is_some_and(|l| l.text.is_empty()) {
        end -= 1;
    }
    let body = (start < end).then_some((start, end));
    Commit {
        lines,
        header,
        body,
        footer_start,
        footers,
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Parses `type(scope)!: description` with the same shape as commitlint's
/// `conventional-changelog-conventionalcommits` preset: `^(\w*)(?:\((.*)\))?!?: (.*)$`, the
/// `!:` form preferred, the scope greedy.
#[must_use]
pub fn parse_header(line: &str) -> Option<Header> {
    let bytes = line.as_bytes();
    let type_end = bytes
        .iter()
        .position(|&b| !is_word_byte(b))
        .unwrap_or(bytes.len());
    let kind = &line[..type_end];
    let rest = &line[type_end..];
    let char_col = |byte: usize| line[..byte].chars().count();
    let build = |scope: Option<(usize, usize)>, bang: bool, desc_start: usize| Header {
        kind: kind.to_owned(),
        scope: scope.map(|(s, e)| line[s..e].to_owned()),
        bang,
        description: line[desc_start..].to_owned(),
        scope_column: scope.map_or(0, |(s, _)| char_col(s)),
        description_column: char_col(desc_start),
    };
    if rest.starts_with('(') {
        let scope_start = type_end + 1;
        // Greedy scope: the last `)` followed by `!: ` wins, else the last followed by `: `.
        for marker in ["!: ", ": "] {
            let mut best = None;
            for (i, _) in line.match_indices(')') {
                if i >= scope_start && line[i + 1..].starts_with(marker) {
                    best = Some(i);
                }
            }
            if let Some(close) = best {
                let bang = marker.starts_with('!');
                return Some(build(
                    Some((scope_start, close)),
                    bang,
                    close + 1 + marker.len(),
                ));
            }
        }
        return None;
    }
    if rest.starts_with("!: ") {
        return Some(build(None, true, type_end + 3));
    }
    if rest.starts_with(": ") {
        return Some(build(None, false, type_end + 2));
    }
    None
}

/// If `line` starts a footer, returns `(token, separator, value)`.
#[must_use]
pub fn footer_token(line: &str) -> Option<(&str, &str, &str)> {
    for token in ["BREAKING CHANGE", "BREAKING-CHANGE"] {
        if let Some(rest) = line.strip_prefix(token) {
            if let Some(value) = rest.strip_prefix(": ") {
                return Some((token, ": ", value));
            }
            if let Some(value) = rest.strip_prefix(" #") {
                return Some((token, " #", value));
            }
        }
    }
    let bytes = line.as_bytes();
    let end = bytes
        .iter()
        .position(|&b| !(is_word_byte(b) || b == b'-'))
        .unwrap_or(bytes.len());
    if end == 0 {
        return None;
    }
    let rest = &line[end..];
    if let Some(value) = rest.strip_prefix(": ")
        && !value.trim().is_empty()
    {
        return Some((&line[..end], ": ", value));
    }
    if let Some(value) = rest.strip_prefix(" #")
        && !value.is_empty()
        && !value.starts_with(' ')
    {
        return Some((&line[..end], " #", value));
    }
    None
}

/// The footer block is the earliest line (after the header) that starts a footer such that
/// every later paragraph also starts with a footer.
fn find_footer_start(lines: &[Line]) -> Option<usize> {
    // valid_from[i]: every paragraph starting at or after i starts with a footer token.
    let n = lines.len();
    let mut candidate = None;
    let mut later_ok = true;
    for i in (1..n).rev() {
        let text = &lines[i].text;
        if text.is_empty() {
            continue;
        }
        let is_token = footer_token(text).is_some();
        let paragraph_start = lines[i - 1].text.is_empty();
        if is_token && later_ok {
            candidate = Some(i);
        }
        if paragraph_start && !is_token {
            later_ok = false;
        }
        if paragraph_start && !later_ok {
            break;
        }
    }
    candidate
}

fn collect_footers(lines: &[Line], start: usize) -> Vec<Footer> {
    let mut footers: Vec<Footer> = Vec::new();
    // A blank line in the footer block is always followed by a token line (find_footer_start
    // stops at any paragraph that does not start with one), so a continuation line is never
    // preceded by a blank and blank lines only separate footers.
    for (index, line) in lines.iter().enumerate().skip(start) {
        if line.text.is_empty() {
            continue;
        }
        if let Some((token, separator, value)) = footer_token(&line.text) {
            footers.push(Footer {
                token: token.to_owned(),
                separator: separator.to_owned(),
                value: value.to_owned(),
                line: index,
            });
        } else if let Some(last) = footers.last_mut() {
            last.value.push('\n');
            last.value.push_str(&line.text);
        }
    }
    footers
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Commit {
        parse(s, &Cleanup::default())
    }

    #[test]
    fn text_and_emptiness_are_what_git_would_store() {
        // What a caller sees of a message after cleanup: the stored text, line by line.
        let commit = p("# a comment\n\nfeat: a   \n\n\nbody line\n# more\n\nRefs: #1\n\n");
        assert_eq!(commit.text(), "feat: a\n\nbody line\n\nRefs: #1");
        assert!(!commit.is_empty());
        let nothing = p("# only a comment\n\n   \n");
        assert!(nothing.is_empty());
        assert_eq!(nothing.text(), "");
        assert!(nothing.header_line().is_none());
    }

    #[test]
    fn footer_paragraphs_and_continuations() {
        let tokens = |c: &Commit| -> Vec<(String, String)> {
            c.footers()
                .iter()
                .map(|f| (f.token.clone(), f.value.clone()))
                .collect()
        };
        // Two footer paragraphs: both are footers.
        let c = p("feat: x\n\nbody\n\nAcked-by: a\n\nRefs: #2\n");
        assert_eq!(
            tokens(&c),
            [
                ("Acked-by".into(), "a".into()),
                ("Refs".into(), "#2".into())
            ]
        );
        // A continuation line (not a token) stays in the footer it follows.
        let c = p("feat: x\n\nbody\n\nBREAKING CHANGE: the API\nchanged shape\n");
        assert_eq!(
            tokens(&c),
            [("BREAKING CHANGE".into(), "the API\nchanged shape".into())]
        );
        // A prose paragraph after a token paragraph ends the search: no footer.
        let c = p("feat: x\n\nRefs: #1\n\nmore prose\n");
        assert!(c.footers().is_empty());
    }

    #[test]
    fn header_shapes() {
        let h = parse_header("fix(a)(b): c").expect("header");
        assert_eq!(h.scope.as_deref(), Some("a)(b"));
        let h = parse_header("feat(x): a (y): b").expect("header");
        assert_eq!(h.scope.as_deref(), Some("x): a (y"));
        let h = parse_header("feat(x)!: a").expect("header");
        assert!(h.bang);
        assert_eq!(h.description, "a");
        assert_eq!(h.description_column, 10);
        let h = parse_header(": nothing").expect("header");
        assert_eq!(h.kind, "");
        assert!(parse_header("feat:no space").is_none());
        assert!(parse_header("feat (x): y").is_none());
        assert!(parse_header("Update README").is_none());
        let h = parse_header("feat!: x").expect("header");
        assert!(h.bang && h.scope.is_none());
    }

    #[test]
    fn cleanup_strips_comments_scissors_and_blank_runs() {
        let text = "\n\nfeat: a   \n# comment\n\n\n\nbody\r\n\n# ------------------------ >8 ------------------------\ndiff --git\n";
        let lines = clean(text, &Cleanup::default());
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["feat: a", "", "body"]);
        assert_eq!(lines[0].number, 3);
        assert_eq!(lines[2].number, 8);
        let lines = clean(
            "; c\nfix: x\n# kept",
            &Cleanup {
                comment_char: Some(';'),
            },
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(clean("# a\n", &Cleanup::stored()).len(), 1);
    }

    #[test]
    fn footers_and_body() {
        let c = p(
            "fix: x\n\nbody line\nmore\n\nReviewed-by: Z\nRefs #133\nBREAKING CHANGE: old\n  continued\n",
        );
        assert_eq!(c.body_text().as_deref(), Some("body line\nmore"));
        let f = c.footers();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].token, "Reviewed-by");
        assert_eq!(f[1].separator, " #");
        assert!(f[2].is_breaking());
        assert_eq!(f[2].value, "old\n  continued");
        assert!(c.is_breaking());
    }

    #[test]
    fn footer_like_line_followed_by_prose_stays_body() {
        let c = p("fix: x\n\nNote: this is prose\n\nAnd another paragraph.\n");
        assert!(c.footers().is_empty());
        assert_eq!(c.body_lines().len(), 3);
    }

    #[test]
    fn footer_without_blank_line() {
        let c = p("fix: x\n\nbody\nSigned-off-by: A <a@b>\n");
        assert_eq!(c.footer_start(), Some(3));
        assert_eq!(c.body_text().as_deref(), Some("body"));
        let c = p("fix: x\nCloses #1\n");
        assert_eq!(c.footer_start(), Some(1));
        assert!(c.body_range().is_none());
    }

    #[test]
    fn lowercase_breaking_change_is_not_a_footer() {
        let c = p("fix: x\n\nbreaking change: y\n");
        assert!(c.footers().is_empty());
        assert!(!c.is_breaking());
    }

    #[test]
    fn empty_and_comment_only() {
        assert!(p("").is_empty());
        assert!(p("# only\n#comments\n\n").is_empty());
        assert!(p("").header().is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let c = p(&s);
            let _ = c.body_text();
            let _ = c.text();
            let _ = c.is_breaking();
        }

        #[test]
        fn never_panics_on_structured(t in "[a-zA-Z!()#: \n-]{0,60}") {
            let c = p(&t);
            if let Some(h) = c.header() {
                prop_assert!(c.header_line().is_some());
                prop_assert!(h.description_column <= c.header_line().map_or(0, |l| l.text.chars().count()));
            }
            if let (Some((s, e)), Some(f)) = (c.body_range(), c.footer_start()) {
                prop_assert!(s < e && e <= f);
            }
        }

        #[test]
        fn well_formed_messages_round_trip(
            kind in "[a-z]{1,8}",
            scope in proptest::option::of("[a-z][a-z0-9-]{0,8}"),
            bang in any::<bool>(),
            description in "[a-z][a-z0-9 ]{0,30}[a-z0-9]",
            body in proptest::collection::vec("[a-z][a-z ,.]{0,40}", 0..3),
            footers in proptest::collection::vec(("[A-Z][a-z]{1,6}(-[a-z]{1,6})?", "[a-z0-9][a-z0-9 ]{0,20}"), 0..3),
        ) {
            let mut text = kind.clone();
            if let Some(s) = &scope {
                text.push_str(&format!("({s})"));
            }
            if bang {
                text.push('!');
            }
            text.push_str(&format!(": {description}\n"));
            for paragraph in &body {
                text.push_str(&format!("\n{paragraph}\n"));
            }
            if !footers.is_empty() {
                text.push('\n');
                for (token, value) in &footers {
                    text.push_str(&format!("{token}: {value}\n"));
                }
            }
            let c = p(&text);
            prop_assert_eq!(c.kind(), Some(kind.as_str()));
            prop_assert_eq!(c.scope(), scope.as_deref());
            prop_assert_eq!(c.is_breaking(), bang);
            prop_assert_eq!(c.description(), Some(description.as_str()));
            let body_lines: Vec<String> = c.body_lines().iter().filter(|l| !l.text.is_empty()).map(|l| l.text.clone()).collect();
            let expected: Vec<String> = body.iter().map(|b| b.trim_end().to_owned()).filter(|b| !b.is_empty()).collect();
            prop_assert_eq!(body_lines, expected);
            let got: Vec<(String, String)> = c.footers().iter().map(|f| (f.token.clone(), f.value.clone())).collect();
            let want: Vec<(String, String)> = footers.iter().map(|(t, v)| (t.clone(), v.trim_end().to_owned())).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn cleaned_lines_have_no_trailing_space(s in "[a-z #\t\r\n]{0,80}") {
            for line in clean(&s, &Cleanup::default()) {
                prop_assert_eq!(line.text.trim_end(), line.text.as_str());
                prop_assert!(!line.text.starts_with('#'));
            }
        }
    }
}
