//! The glob patterns of `.synod/policy.json` (protected refs, document paths) and the
//! forbidden-word lists, at their edges.

use synod_policy::glob::Glob;
use synod_policy::words::WordList;

#[test]
fn a_question_mark_is_exactly_one_character_within_a_segment() {
    let g = Glob::new("v?");
    assert!(g.matches("v1"));
    assert!(g.matches("vé"));
    assert!(!g.matches("v"));
    assert!(!g.matches("v12"));
    assert!(!Glob::new("a?b").matches("a/b"));
    assert!(Glob::new("a?b").matches("a-b"));
}

#[test]
fn a_star_stays_within_one_segment_however_many_are_written() {
    let g = Glob::new("a**b");
    assert!(g.matches("ab"));
    assert!(g.matches("aXYb"));
    assert!(!g.matches("a/b"));
    assert!(Glob::new("*").matches(""));
    assert!(!Glob::new("*").matches("a/b"));
    assert!(!Glob::new("a*").matches("b"));
    assert!(Glob::new("*c").matches("abc"));
    assert!(!Glob::new("*c").matches("abd"));
}

#[test]
fn any_depth_matches_zero_or_more_whole_segments() {
    let g = Glob::new("refs/**");
    assert!(g.matches("refs"));
    assert!(g.matches("refs/heads/a/b"));
    assert!(!g.matches("ref"));
    let g = Glob::new("**/SPEC-*.md");
    assert!(g.matches("SPEC-1.md"));
    assert!(g.matches("docs/specs/SPEC-1.md"));
    assert!(!g.matches("docs/specs/SPEC-1.txt"));
    assert!(!Glob::new("a/**/b/c").matches("a/b"));
}

#[test]
fn slashes_at_either_end_are_ignored_on_both_sides() {
    let g = Glob::new("/refs/heads/*/");
    assert!(g.matches("refs/heads/main"));
    assert!(g.matches("/refs/heads/main/"));
    assert!(!g.matches("refs/heads"));
    assert_eq!(g.as_str(), "/refs/heads/*/");
    assert_eq!(Glob::new("docs/**").as_str(), "docs/**");
}

#[test]
fn character_classes_ranges_and_negation() {
    let digit = Glob::new("v[0-9]");
    assert!(digit.matches("v0"));
    assert!(digit.matches("v9"));
    assert!(!digit.matches("va"));
    assert!(!digit.matches("v"));
    assert!(!digit.matches("v10"));
    for negated in ["v[!0-9]", "v[^0-9]"] {
        let g = Glob::new(negated);
        assert!(g.matches("va"), "{negated}");
        assert!(!g.matches("v5"), "{negated}");
        assert!(!g.matches("v"), "{negated}");
    }
    // The negation mark itself is not a member of the class it negates.
    assert!(Glob::new("[!a]").matches("!"));
    assert!(Glob::new("[^a]").matches("^"));
    assert!(Glob::new("[!a]").matches("["));
    assert!(!Glob::new("[!a]").matches("a"));
    let list = Glob::new("[abx]");
    assert!(list.matches("b"));
    assert!(list.matches("x"));
    assert!(!list.matches("c"));
    // A `]` right after the opening bracket is a member, not the end.
    let bracket = Glob::new("[]a]");
    assert!(bracket.matches("]"));
    assert!(bracket.matches("a"));
    assert!(!bracket.matches("b"));
    // A `-` before the closing bracket is a member, not a range.
    let dash = Glob::new("[a-]");
    assert!(dash.matches("-"));
    assert!(dash.matches("a"));
    assert!(!dash.matches("b"));
    // Ranges include both ends and nothing outside them.
    let range = Glob::new("[c-e]");
    assert!(range.matches("c") && range.matches("d") && range.matches("e"));
    assert!(!range.matches("b") && !range.matches("f"));
}

#[test]
fn an_unclosed_bracket_is_a_literal() {
    let g = Glob::new("a[b");
    assert!(g.matches("a[b"));
    assert!(!g.matches("ab"));
    assert!(Glob::new("[!").matches("[!"));
    assert!(Glob::new("x[").matches("x["));
}

#[test]
fn a_list_of_blank_entries_is_empty_and_finds_nothing() {
    let blank = WordList::new(["", "   ", "\t"]);
    assert!(blank.is_empty());
    assert!(blank.find("anything at all").is_empty());
    assert!(WordList::default().is_empty());
    let one = WordList::new(["", " AI "]);
    assert!(!one.is_empty());
    let hits = one.find("AI");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].word, "AI");
}

#[test]
fn a_hit_reports_the_word_the_column_and_the_text_as_written() {
    let list = WordList::new(["chatbot", "AI"]);
    let hits = list.find("Ask the ChatBot, an Ai-powered tool");
    let got: Vec<(&str, usize, &str)> = hits
        .iter()
        .map(|h| (h.word.as_str(), h.column, h.text.as_str()))
        .collect();
    assert_eq!(got, vec![("chatbot", 9, "ChatBot"), ("AI", 21, "Ai")]);
    // Columns count characters, not bytes.
    let hits = list.find("été: AI");
    assert_eq!(hits[0].column, 6);
    // A word at the very end of the line.
    assert_eq!(list.find("by chatbot")[0].column, 4);
    // A word longer than the rest of the line does not match (and does not panic).
    assert!(list.find("chat").is_empty());
}

#[test]
fn a_word_must_also_start_at_a_word_boundary() {
    let list = WordList::new(["AI"]);
    // Each ends at a boundary but starts inside a longer word.
    for text in ["Thai food", "Dubai.", "a bonsai", "x_AI"] {
        assert!(list.find(text).is_empty(), "{text}");
    }
    assert_eq!(list.find("(AI) and Thai").len(), 1);
}

#[test]
fn letters_whose_lower_case_is_longer_are_compared_as_written() {
    // `İ` lowercases to two characters; it is kept as is, so it only matches itself.
    let list = WordList::new(["İstanbul"]);
    assert_eq!(list.find("to İstanbul").len(), 1);
    assert!(list.find("to istanbul").is_empty());
}
