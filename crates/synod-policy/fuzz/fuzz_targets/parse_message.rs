//! Fuzzes cleaning, parsing and checking a commit message, the forbidden-words matcher and
//! the glob matcher: none may panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synod_policy::CommitRules;
use synod_policy::glob::Glob;
use synod_policy::message::{self, Cleanup};
use synod_policy::words::WordList;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let commit = message::parse(&text, &Cleanup::default());
    let _ = commit.body_text();
    let _ = commit.is_breaking();
    let rules = CommitRules {
        forbidden_words: vec!["AI".into(), "as an assistant".into()],
        ..CommitRules::default()
    };
    let report = rules.check(&commit);
    let _ = report.to_human("fuzz");
    let _ = report.to_json();
    let _ = message::parse(&text, &Cleanup::stored());
    let (pattern, path) = text.split_once('\n').unwrap_or((&text, "refs/heads/main"));
    let _ = Glob::new(pattern).matches(path);
    let _ = WordList::new([pattern]).find(path);
});
