//! What the parser reads from a commit message: type, scope, description and whether the commit
//! is breaking, for fixed messages. The property tests in `src/message.rs` check the same with
//! random messages; these make the kills of the `Commit` accessor, `Footer::is_breaking` and
//! `parse_header` mutants deterministic (see docs/TESTING.md, synod-policy message.rs/rules.rs).

use synod_policy::message::{Cleanup, parse};

/// A header and what the parser must read from it: type, scope, breaking, description.
type Case = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    bool,
    Option<&'static str>,
);

fn commit(text: &str) -> synod_policy::message::Commit {
    parse(text, &Cleanup::default())
}

#[test]
fn a_hyphenated_breaking_change_footer_makes_the_commit_breaking() {
    let c = commit("fix: y\n\nBREAKING-CHANGE: the flag is gone\n");
    assert!(c.is_breaking());
    assert!(c.footers()[0].is_breaking());
    let c = commit("fix: y\n\nRefs: #1\n");
    assert!(!c.is_breaking());
    assert!(!c.footers()[0].is_breaking());
}

#[test]
fn header_parts_are_what_the_user_wrote() {
    let cases: [Case; 6] = [
        (
            "feat: add login",
            Some("feat"),
            None,
            false,
            Some("add login"),
        ),
        ("feat!: drop v1", Some("feat"), None, true, Some("drop v1")),
        (
            "fix(api): handle empty input",
            Some("fix"),
            Some("api"),
            false,
            Some("handle empty input"),
        ),
        (
            "fix(api)!: rename the flag",
            Some("fix"),
            Some("api"),
            true,
            Some("rename the flag"),
        ),
        // A later `)` that is not followed by `: ` belongs to the description.
        (
            "feat(cli): add (optional) colour",
            Some("feat"),
            Some("cli"),
            false,
            Some("add (optional) colour"),
        ),
        // No type: a header with a description but nothing before the colon.
        (": no type", None, None, false, Some("no type")),
    ];
    for (header, kind, scope, breaking, description) in cases {
        let c = commit(header);
        assert_eq!(c.kind(), kind, "{header}");
        assert_eq!(c.scope(), scope, "{header}");
        assert_eq!(c.is_breaking(), breaking, "{header}");
        assert_eq!(c.description(), description, "{header}");
    }
    // Not a Conventional Commits header: no type, no description.
    let c = commit("Update README");
    assert_eq!((c.kind(), c.description()), (None, None));
}
