//! Forbidden words: whole words (or phrases), matched case-insensitively.
//!
//! A match must not be preceded or followed by a letter, digit or `_`, so `AI` flags
//! "AI-generated" and "ai," but not "email", "said" or "maintain".
//!
//! ```
//! use synod_policy::words::WordList;
//!
//! let words = WordList::new(["AI", "as an assistant"]);
//! assert_eq!(words.find("Add AI-generated tests").len(), 1);
//! assert!(words.find("email said maintain").is_empty());
//! let hit = &words.find("written As An  Assistant? no: as an assistant.")[0];
//! assert_eq!((hit.word.as_str(), hit.column), ("as an assistant", 31));
//! ```

/// A compiled list of forbidden words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordList {
    words: Vec<(String, Vec<char>)>,
}

/// One forbidden word found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The configured word that matched.
    pub word: String,
    /// 1-based character column of the match.
    pub column: usize,
    /// The matched text as written.
    pub text: String,
}

fn fold(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl WordList {
    /// Compiles the list; empty entries are skipped.
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let words = words
            .into_iter()
            .filter_map(|w| {
                let w = w.as_ref().trim();
                (!w.is_empty()).then(|| (w.to_owned(), w.chars().map(fold).collect()))
            })
            .collect();
        Self { words }
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Every whole-word match in `line`, left to right.
    #[must_use]
    pub fn find(&self, line: &str) -> Vec<Hit> {
        if self.words.is_empty() {
            return Vec::new();
        }
        let original: Vec<char> = line.chars().collect();
        let folded: Vec<char> = original.iter().copied().map(fold).collect();
        let mut hits = Vec::new();
        for start in 0..folded.len() {
            if start > 0 && is_word_char(folded[start - 1]) {
                continue;
            }
            for (word, pattern) in &self.words {
                let end = start + pattern.len();
                if end > folded.len() || folded[start..end] != pattern[..] {
                    continue;
                }
                if folded.get(end).is_some_and(|&c| is_word_char(c)) {
                    continue;
                }
                hits.push(Hit {
                    word: word.clone(),
                    column: start + 1,
                    text: original[start..end].iter().collect(),
                });
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn whole_words_only() {
        let list = WordList::new(["AI"]);
        for text in [
            "AI",
            "ai",
            "an AI-generated patch",
            "(AI)",
            "AI.",
            "uses ai_",
        ] {
            let expected = usize::from(!text.ends_with('_'));
            assert_eq!(list.find(text).len(), expected, "{text}");
        }
        for text in ["email", "said", "maintain", "AIM", "naive", "ÄI", "aï"] {
            assert!(list.find(text).is_empty(), "{text}");
        }
        assert_eq!(list.find("AI and ai").len(), 2);
        assert_eq!(list.find("AI and ai")[1].column, 8);
    }

    #[test]
    fn unicode_and_phrases() {
        let list = WordList::new(["ÉTÉ", " ", "large language model"]);
        assert_eq!(list.find("un été chaud").len(), 1);
        assert_eq!(list.find("a Large Language Model wrote").len(), 1);
        assert!(list.find("large language models").is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC{0,64}", word in "\\PC{0,6}") {
            let list = WordList::new([word]);
            for hit in list.find(&line) {
                prop_assert!(hit.column >= 1);
            }
        }
    }
}
