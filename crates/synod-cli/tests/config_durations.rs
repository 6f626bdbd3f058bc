//! One duration grammar in `synod.toml`: what resilience's docs advertise (`1m30s`) works,
//! and a value no timer can hold is a config error naming its key, never a panic.

mod run_support;

use run_support::Project;

fn agent_with(extra: &str) -> String {
    format!(
        "[[agents]]\nname = \"a\"\ncommand = \"sh\"\nargs = [\"-c\", \"cat >/dev/null; echo '{{}}'\"]\n{extra}\n"
    )
}

#[test]
fn compound_and_long_unit_durations_are_accepted() {
    let project = Project::new(&agent_with(
        "timeout = \"1m30s\"\nkill_grace = \"500 milliseconds\"\nretry = { initial_delay = \"250ms\", max_delay = \"2h\" }",
    ));
    let out = project.synod(&["config", "explain", "agents.0.timeout"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1m30s"), "{text}");
    let out = project.synod(&["config", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_duration_no_timer_can_hold_is_rejected_by_check_with_its_key() {
    for (value, why) in [
        ("1e19", "maximum of 3650d"),
        ("\"99999d\"", "maximum of 3650d"),
        ("-5", "cannot be negative"),
        ("\"1m30\"", "needs a unit"),
    ] {
        let project = Project::new(&agent_with(&format!("timeout = {value}")));
        for args in [
            &["config", "check"][..],
            &["run", "--spec", "X", "--stage", "s"][..],
        ] {
            let out = project.synod(args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{value} {args:?}: {stderr}");
            assert!(stderr.contains("agents"), "{value}: {stderr}");
            assert!(stderr.contains("timeout"), "{value}: {stderr}");
            assert!(stderr.contains(why), "{value}: {stderr}");
            assert!(!stderr.contains("panicked"), "{value}: {stderr}");
        }
    }
}

#[test]
fn settings_the_layers_refuse_are_refused_by_check_exactly_as_by_run() {
    for (section, key) in [
        ("retry = { max_elapsed = \"0s\" }", "max_elapsed"),
        ("retry = { multiplier = 0.5 }", "multiplier"),
        (
            "[breaker]\nwait_multiplier = 0.5",
            "breaker.wait_multiplier",
        ),
        (
            "[breaker]\nslow_call_duration = \"0s\"",
            "breaker.slow_call_duration",
        ),
        ("[budget]\ncapacity = 0", "budget.capacity"),
    ] {
        let project = Project::new(&agent_with(section));
        for args in [
            &["config", "check"][..],
            &["run", "--spec", "X", "--stage", "s"][..],
        ] {
            let out = project.synod(args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{section} {args:?}: {stderr}");
            assert!(stderr.contains(key), "{section} {args:?}: {stderr}");
            assert!(stderr.contains("synod.toml"), "names the file: {stderr}");
        }
    }
}

#[test]
fn check_lists_every_mistake_of_a_config_at_once() {
    let project = Project::new(&format!(
        "{}{}[breaker]\nwait_multiplier = 0.5\n[[stages]]\nname = \"s\"\nagents = [\"ghost\"]\n",
        agent_with(""),
        agent_with("timeout = \"0s\"")
    ));
    let out = project.synod(&["config", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("(4 problems)"), "{stderr}");
    for key in [
        "agents.1.name",
        "agents.1.timeout",
        "stages.0.agents",
        "breaker.wait_multiplier",
    ] {
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

#[test]
fn a_misspelt_choice_is_told_the_accepted_values_with_its_line() {
    let stage = |extra: &str| {
        format!(
            "{}[[stages]]\nname = \"s\"\nagents = [\"a\"]\n{extra}\n",
            agent_with("")
        )
    };
    for (config, line) in [
        (
            stage("mode = \"paralel\""),
            r#"synod.toml:9:1: stages.0.mode: "paralel" is not one of: "parallel", "sequential"; did you mean "parallel"?"#,
        ),
        (
            agent_with("prompt_via = \"carrier\""),
            r#"synod.toml:5:1: agents.0.prompt_via: "carrier" is not one of: "stdin", "arg""#,
        ),
        (
            agent_with("retry = { jitter = \"ful\" }"),
            r#"agents.0.retry.jitter: "ful" is not one of: "none", "full", "equal", "decorrelated"; did you mean "full"?"#,
        ),
        (
            stage("consensus = { quorum = \"most\" }"),
            r#"stages.0.consensus.quorum: "most" is not one of: "all", "majority", a table with `at_least`"#,
        ),
        (
            stage("consensus = { quorum = { at_least = 0 } }"),
            "stages.0.consensus.quorum.at_least: 0 is less than the minimum of 1",
        ),
    ] {
        let project = Project::new(&config);
        let out = project.synod(&["config", "check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}: {stderr}");
        assert!(stderr.contains(line), "{config}: {stderr}");
        assert!(!stderr.contains("schemas listed"), "{stderr}");
    }
}

/// `synod config explain ARGS`, which must succeed: its stdout.
fn explained(project: &Project, args: &[&str]) -> String {
    let mut full = vec!["config", "explain"];
    full.extend_from_slice(args);
    let out = project.synod(&full);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn explain_groups_a_tables_keys_per_file_and_refuses_an_empty_key() {
    let project = Project::new(&agent_with(
        "retry = { max_attempts = 5, initial_delay = \"1s\" }",
    ));
    let text = explained(
        &project,
        &["agents.0.retry", "--set", "agents.0.retry.max_delay=9s"],
    );
    assert!(
        text.ends_with("\n  set by: synod.toml:5 (2 keys); override\n"),
        "{text}"
    );
    // A key the file leaves at its default inside an agent is explained, not "no such key".
    let text = explained(&project, &["agents.0.kill_grace"]);
    assert!(
        text.starts_with("agents.0.kill_grace = \"") && text.ends_with("\"  (default)\n"),
        "{text}"
    );
    for key in ["", "  "] {
        let out = project.synod(&["config", "explain", key]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.starts_with("error: an empty key names no value"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}
