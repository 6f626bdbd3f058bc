//! What a policy report says: the counts a hook exits on, the lines a person reads, and the
//! JSON a tool reads.

use synod_policy::{Report, Severity, Violation};

fn mixed() -> Report {
    let mut report = Report::default();
    report.push(Violation::new(
        "header-max-length",
        Severity::Error,
        1,
        73,
        "header is 80 characters, at most 72 allowed",
        "shorten the summary",
    ));
    report.push(Violation::new(
        "body-leading-blank",
        Severity::Warning,
        2,
        1,
        "body must start after a blank line",
        "",
    ));
    report.push(
        Violation::new(
            "forbidden-words",
            Severity::Error,
            3,
            5,
            "\"AI\" is not allowed",
            "say what the change does",
        )
        .with_path("docs/SPEC-1/spec.md"),
    );
    report
}

#[test]
fn counts_decide_whether_the_check_passed() {
    let report = mixed();
    assert_eq!(report.errors(), 2);
    assert_eq!(report.warnings(), 1);
    assert!(!report.passed());
    assert_eq!(
        report.rules(Severity::Error),
        ["header-max-length", "forbidden-words"]
    );
    assert_eq!(report.rules(Severity::Warning), ["body-leading-blank"]);
    assert!(report.rules(Severity::Off).is_empty());

    let mut warnings_only = Report::default();
    assert!(warnings_only.passed());
    warnings_only.push(Violation::new("w", Severity::Warning, 1, 1, "m", ""));
    assert_eq!((warnings_only.errors(), warnings_only.warnings()), (0, 1));
    assert!(warnings_only.passed());
}

#[test]
fn the_human_report_lists_each_violation_with_its_place_and_hint() {
    let text = mixed().to_human("COMMIT_EDITMSG");
    assert_eq!(
        text,
        "COMMIT_EDITMSG:1:73: error[header-max-length]: header is 80 characters, at most 72 allowed\n\
         \x20   hint: shorten the summary\n\
         COMMIT_EDITMSG:2:1: warning[body-leading-blank]: body must start after a blank line\n\
         docs/SPEC-1/spec.md:3:5: error[forbidden-words]: \"AI\" is not allowed\n\
         \x20   hint: say what the change does\n\
         COMMIT_EDITMSG: 2 error(s), 1 warning(s)\n"
    );
    assert_eq!(
        Report::default().to_human("msg"),
        "msg: 0 error(s), 0 warning(s)\n"
    );
}

#[test]
fn an_ignored_input_says_why_and_nothing_else() {
    let report = Report {
        ignored: Some("merge commit".into()),
        ..mixed()
    };
    assert_eq!(report.to_human("msg"), "msg: not checked (merge commit)\n");
}

#[test]
fn the_json_report_round_trips_with_severities_in_lower_case() {
    let report = mixed();
    let json = report.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["violations"][0]["severity"], "error");
    assert_eq!(value["violations"][1]["severity"], "warning");
    assert_eq!(value["violations"][2]["path"], "docs/SPEC-1/spec.md");
    assert!(value["violations"][0].get("path").is_none());
    assert!(value.get("ignored").is_none());
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    assert_eq!(Severity::Off.as_str(), "off");
    assert_eq!(Severity::Warning.as_str(), "warning");
    assert_eq!(Severity::Error.as_str(), "error");
}
