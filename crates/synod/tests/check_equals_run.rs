//! A config that passes `synod config check` never fails `synod run` with a config error:
//! both build the same [`Plan`] (issue 16). Generated configs mix valid values with the ones
//! that used to slip through the check (`retry.max_elapsed = "0s"`, `breaker.wait_multiplier
//! = 0.5`, a zero `slow_call_duration`, a timeout of `1e19` seconds, a missing prompt file,
//! a stage whose agents are all disabled, an answer schema file that is missing or no valid
//! JSON Schema).
#![cfg(feature = "orchestrator")]

use proptest::prelude::*;
use synod::orchestrator::{Error, LoadedConfig, Orchestrator, Plan};
use synod::store::Store;

/// A valid value most of the time (so whole configs pass often enough), else an invalid one.
fn pick(
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> impl Strategy<Value = &'static str> {
    prop_oneof![
        12 => prop::sample::select(valid),
        1 => prop::sample::select(invalid),
    ]
}

#[derive(Debug)]
struct Case {
    toml: String,
}

fn agent_strategy() -> impl Strategy<Value = String> {
    (
        pick(&["1", "3"], &["0"]),
        pick(&["\"0s\"", "\"10ms\""], &["\"1m30s\""]),
        pick(&["\"20ms\"", "\"2m\""], &["\"5ms\""]),
        pick(&["1.0", "2"], &["0.5"]),
        pick(&["", "max_elapsed = \"1s\","], &["max_elapsed = \"0s\","]),
        pick(&["\"5s\"", "\"30d\"", "\"1m30s\""], &["\"0s\"", "1e19"]),
        pick(&["true"], &["false"]),
    )
        .prop_map(|(attempts, initial, max, mult, elapsed, timeout, enabled)| {
            format!(
                "command = \"sh\"\nargs = [\"-c\", \"cat >/dev/null; echo '{{\\\"a\\\": 1}}'\"]\n\
                 timeout = {timeout}\nenabled = {enabled}\n\
                 retry = {{ {elapsed} max_attempts = {attempts}, initial_delay = {initial}, max_delay = {max}, multiplier = {mult} }}\n"
            )
        })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(agent_strategy(), 1..3),
        pick(&["1.0", "2.0"], &["0.5"]),
        pick(&["", "slow_call_duration = \"10s\""], &["slow_call_duration = \"0s\""]),
        pick(
            &["wait_in_open = \"10s\"\nmax_wait_in_open = \"1m\"", ""],
            &["wait_in_open = \"10s\"\nmax_wait_in_open = \"5s\""],
        ),
        pick(&["5"], &["0"]),
        pick(&["50.0"], &["0.0", "150.0"]),
        pick(&["10"], &["0"]),
        any::<bool>(),
        pick(&["", "prompt_file = \"prompt.md\""], &["prompt_file = \"missing.md\""]),
        pick(&["", "agents = [\"a0\"]"], &["agents = [\"a0\", \"ghost\"]"]),
        pick(&["", "consensus = { quorum = \"majority\" }"], &["consensus = { quorum = { at_least = 3 } }"]),
        pick(
            &["", "required = [\"a\"]", "schema = { type = \"object\" }\nrepair = true"],
            &["schema = \"missing.json\"", "schema = { type = \"objekt\" }", "repair = true"],
        ),
    )
        .prop_map(
            |(agents, wait_mult, slow, waits, window, rate, capacity, budget_on, prompt, list, consensus, schema)| {
                let mut toml = format!(
                    "[breaker]\nwait_multiplier = {wait_mult}\n{slow}\n{waits}\nwindow_size = {window}\nfailure_rate_threshold = {rate}\n\n\
                     [budget]\nenabled = {budget_on}\ncapacity = {capacity}\n\n"
                );
                for (i, agent) in agents.iter().enumerate() {
                    toml.push_str(&format!("[[agents]]\nname = \"a{i}\"\n{agent}\n"));
                }
                toml.push_str(&format!(
                    "[[stages]]\nname = \"s\"\nprompt = \"go\"\n{list}\n{schema}\n{consensus}\n"
                ));
                // A second stage reading its prompt from a file (maybe missing).
                if !prompt.is_empty() {
                    toml.push_str(&format!("[[stages]]\nname = \"t\"\n{prompt}\n"));
                }
                Case { toml }
            },
        )
}

/// Errors a run must never return for a config the check accepted.
fn is_config_error(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidConfig { .. }
            | Error::Config(_)
            | Error::PromptFile { .. }
            | Error::UnknownStage { .. }
    )
}

/// `config check`: load (schema, serde forms, validation) and build the plan.
fn check(dir: &std::path::Path) -> Result<Plan, Error> {
    LoadedConfig::load(Some(&dir.join("synod.toml")), &[])?.plan()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn a_config_that_passes_check_never_fails_run_with_a_config_error(case in case_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("synod.toml"), &case.toml).unwrap();
        std::fs::write(dir.path().join("prompt.md"), "Plan {spec_id}.").unwrap();
        let Ok(plan) = check(dir.path()) else {
            return Ok(());
        };
        let stages: Vec<String> = plan.config().stages.iter().map(|s| s.name.clone()).collect();
        let store = Store::open(dir.path().join("synod.db"), Default::default()).unwrap();
        let orchestrator = Orchestrator::with_plan(plan, store.into_async());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for stage in stages {
            let result = runtime.block_on(orchestrator.run_stage("SPEC", &stage));
            if let Err(err) = &result {
                prop_assert!(!is_config_error(err), "check passed but run failed: {err}\n{}", case.toml);
            }
        }
    }
}

#[test]
fn the_generator_reaches_configs_that_pass_and_configs_that_fail() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut passed, mut failed) = (0, 0);
    for _ in 0..200 {
        let case = case_strategy().new_tree(&mut runner).unwrap().current();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("synod.toml"), &case.toml).unwrap();
        std::fs::write(dir.path().join("prompt.md"), "p").unwrap();
        match check(dir.path()) {
            Ok(_) => passed += 1,
            Err(_) => failed += 1,
        }
    }
    assert!(
        passed >= 5 && failed >= 5,
        "passed {passed}, failed {failed}"
    );
}

#[test]
fn values_that_used_to_pass_check_and_fail_run_are_refused_by_check_with_their_key() {
    for (toml, key) in [
        (
            "[[agents]]\nname = \"a\"\ncommand = \"true\"\nretry = { max_elapsed = \"0s\" }\n",
            "max_elapsed",
        ),
        (
            "[breaker]\nwait_multiplier = 0.5\n",
            "breaker.wait_multiplier",
        ),
        (
            "[breaker]\nslow_call_duration = \"0s\"\n",
            "breaker.slow_call_duration",
        ),
        (
            "[[agents]]\nname = \"a\"\ncommand = \"true\"\ntimeout = 1e19\n",
            "timeout",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("synod.toml"), toml).unwrap();
        let err = check(dir.path()).unwrap_err();
        let text = format!(
            "{err}: {}",
            std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(text.contains(key), "{toml}: {text}");
    }
}

#[test]
fn one_duration_grammar_in_synod_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("synod.toml"),
        "[[agents]]\nname = \"a\"\ncommand = \"true\"\ntimeout = \"1m30s\"\nretry = { initial_delay = \"500 microseconds\", max_delay = \"1h 30m\" }\n[breaker]\nwait_in_open = \"90s\"\nmax_wait_in_open = \"30d\"\n",
    )
    .unwrap();
    let plan = check(dir.path()).unwrap();
    let agent = &plan.config().agents[0];
    assert_eq!(agent.timeout.get().as_secs(), 90);
    let retry = plan.agent_retry("a").unwrap();
    assert_eq!(retry.initial_delay().as_micros(), 500);
    assert_eq!(retry.max_delay().as_secs(), 5400);
    assert_eq!(
        plan.config().breaker.settings.max_wait_in_open.as_secs(),
        30 * 86_400
    );
}
