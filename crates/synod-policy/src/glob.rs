//! A tiny glob matcher for `/`-separated paths and ref names.
//!
//! `*` matches any run of characters except `/`, `?` one character except `/`, `**` as a
//! whole segment any number of segments (including none), `[abc]`/`[a-z]`/`[!a]` one character
//! from a class. Matching is linear in practice (dynamic programming over segments and
//! characters), so hostile patterns cannot blow up.
//!
//! ```
//! use synod_policy::glob::Glob;
//!
//! let g = Glob::new("refs/heads/**");
//! assert!(g.matches("refs/heads/main"));
//! assert!(g.matches("refs/heads/feature/x"));
//! assert!(!g.matches("refs/tags/v1"));
//! assert!(Glob::new("docs/SPEC-*").matches("docs/SPEC-0001"));
//! assert!(Glob::new("**/*.rs").matches("src/lib.rs"));
//! assert!(Glob::new("*.rs").matches("lib.rs"));
//! assert!(!Glob::new("*.rs").matches("src/lib.rs"));
//! ```

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    AnyDepth,
    Pattern(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    /// Compiles `pattern`. Every string is a valid pattern (an unclosed `[` is a literal).
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        let trimmed = pattern.trim_matches('/');
        let segments = trimmed
            .split('/')
            .map(|s| {
                if s == "**" {
                    Segment::AnyDepth
                } else {
                    Segment::Pattern(compile(s))
                }
            })
            .collect();
        Self {
            pattern: pattern.to_owned(),
            segments,
        }
    }

    /// The source pattern.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `path` (with `/` separators; leading and trailing `/` ignored) matches.
    #[must_use]
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (n, m) = (self.segments.len(), parts.len());
        // dp[i][j]: segments[i..] match parts[j..]
        let mut dp = vec![vec![false; m + 1]; n + 1];
        dp[n][m] = true;
        for i in (0..n).rev() {
            for j in (0..=m).rev() {
                dp[i][j] = match &self.segments[i] {
                    Segment::AnyDepth => dp[i + 1][j] || (j < m && dp[i][j + 1]),
                    Segment::Pattern(tokens) => {
                        j < m && dp[i + 1][j + 1] && match_segment(tokens, parts[j])
                    }
                };
            }
        }
        dp[0][0]
    }
}

fn compile(segment: &str) -> Vec<Token> {
    let chars: Vec<char> = segment.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' => tokens.push(Token::Any),
            '[' => {
                if let Some((token, next)) = compile_class(&chars, i) {
                    tokens.push(token);
                    i = next;
                    continue;
                }
                tokens.push(Token::Char('['));
            }
            c => tokens.push(Token::Char(c)),
        }
        i += 1;
    }
    tokens
}

fn compile_class(chars: &[char], open: usize) -> Option<(Token, usize)> {
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while let Some(&c) = chars.get(i) {
        if c == ']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            ranges.push((c, chars[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

fn match_segment(tokens: &[Token], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let (n, m) = (tokens.len(), chars.len());
    let mut dp = vec![vec![false; m + 1]; n + 1];
    dp[n][m] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            dp[i][j] = match &tokens[i] {
                Token::Star => dp[i + 1][j] || (j < m && dp[i][j + 1]),
                Token::Any => j < m && dp[i + 1][j + 1],
                Token::Char(c) => j < m && chars[j] == *c && dp[i + 1][j + 1],
                Token::Class { negated, ranges } => {
                    j < m
                        && dp[i + 1][j + 1]
                        && (ranges
                            .iter()
                            .any(|&(lo, hi)| lo <= chars[j] && chars[j] <= hi)
                            != *negated)
                }
            };
        }
    }
    dp[0][0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classes_and_edges() {
        assert!(Glob::new("v[0-9]*").matches("v1.2"));
        assert!(!Glob::new("v[!0-9]*").matches("v1.2"));
        assert!(Glob::new("a[").matches("a["));
        assert!(Glob::new("**").matches("anything/at/all"));
        assert!(Glob::new("a/**/b").matches("a/b"));
        assert!(Glob::new("a/**/b").matches("a/x/y/b"));
        assert!(!Glob::new("a/**/b").matches("a/x/y/c"));
        assert!(Glob::new("refs/heads/main").matches("refs/heads/main"));
        assert!(!Glob::new("refs/heads/main").matches("refs/heads/main2"));
        assert!(Glob::new("release/*").matches("release/1.0"));
        assert!(!Glob::new("release/*").matches("release/1.0/x"));
        assert!(Glob::new("a*b*c").matches("aXXbYYc"));
    }

    proptest! {
        #[test]
        fn literal_patterns_match_themselves(s in "[a-z0-9/._-]{0,30}") {
            prop_assert!(Glob::new(&s).matches(&s));
        }

        #[test]
        fn never_panics(p in "\\PC{0,20}", s in "\\PC{0,30}") {
            let _ = Glob::new(&p).matches(&s);
        }
    }
}
