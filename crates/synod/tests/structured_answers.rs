//! Structured answers: a stage's JSON Schema (a file, an inline table, or derived from
//! `required`) checked against every answer, given to the CLIs that take one (claude
//! `--json-schema`, codex `--output-schema FILE`), and `repair = true` asking once more with
//! the validation errors. Real child processes: shell scripts answering valid or invalid
//! JSON and keeping what they were given.
#![cfg(all(feature = "orchestrator", unix))]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use synod::orchestrator::{
    AgentOutcome, AttemptStatus, LoadedConfig, Orchestrator, Plan, StageStatus, SynodConfig,
};
use synod::store::Store;

/// In OpenAI's strict subset (what codex accepts): every property required, no others.
const SCHEMA: &str = r#"{"type": "object", "required": ["verdict", "score"], "additionalProperties": false,
  "properties": {"verdict": {"enum": ["approve", "reject"]}, "score": {"type": "integer"}}}"#;

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// An agent that keeps each attempt's prompt in `prompt.N` and answers `first` on attempt 1,
/// `later` after.
fn agent(dir: &Path, first: &str, later: &str) -> PathBuf {
    script(
        dir,
        "agent.sh",
        &format!(
            "cat > \"{dir}/prompt.$SYNOD_ATTEMPT\"\nif [ \"$SYNOD_ATTEMPT\" = 1 ]; then echo '{first}'; else echo '{later}'; fi\n",
            dir = dir.display()
        ),
    )
}

fn plan(dir: &Path, toml_text: &str) -> Result<Plan, synod::orchestrator::Error> {
    let config: SynodConfig = toml::from_str(toml_text).unwrap();
    Plan::new(config, dir)
}

fn stage_config(program: &Path, stage_keys: &str) -> String {
    format!(
        "[[agents]]\nname = \"a\"\ncommand = \"{}\"\n\n[[stages]]\nname = \"s\"\nprompt = \"Review {{spec_id}}.\"\n{stage_keys}\n",
        program.display()
    )
}

#[tokio::test]
async fn an_invalid_answer_is_repaired_once_with_the_validation_errors_in_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("answer.json"), SCHEMA).unwrap();
    let program = agent(
        dir.path(),
        r#"{"verdict": "maybe", "score": "high"}"#,
        r#"{"verdict": "approve", "score": 7}"#,
    );
    let store = Store::open_in_memory().unwrap().into_async();
    let plan = plan(
        dir.path(),
        &stage_config(&program, "schema = \"answer.json\"\nrepair = true"),
    )
    .unwrap();
    let orch = Orchestrator::with_plan(plan, store.clone());
    let report = orch.run_stage("S-1", "s").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok);
    let run = report.agent("a").unwrap();
    assert_eq!(run.outcome, AgentOutcome::Answered, "{run:?}");
    assert_eq!(run.extracted.as_ref().unwrap()["score"], 7);
    let statuses: Vec<(u32, AttemptStatus)> =
        run.attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(
        statuses,
        [(1, AttemptStatus::Invalid), (2, AttemptStatus::Repaired)]
    );
    let error = run.attempts[0].error.as_deref().unwrap();
    assert!(
        error.contains("/verdict: ") && error.contains("/score: "),
        "the invalid attempt lists each error with its instance path: {error}"
    );

    let first = std::fs::read_to_string(dir.path().join("prompt.1")).unwrap();
    assert_eq!(first, "Review S-1.");
    let repair = std::fs::read_to_string(dir.path().join("prompt.2")).unwrap();
    assert!(
        repair.starts_with("Review S-1.\n"),
        "the repair prompt starts with the original: {repair}"
    );
    assert!(
        repair.contains("did not match the required JSON Schema")
            && repair.contains("- /verdict: ")
            && repair.contains("- /score: ")
            && repair.contains(r#""required":["verdict","score"]"#),
        "the repair prompt lists the errors and the schema: {repair}"
    );

    // Both attempts are in the evidence, with their statuses.
    let run_id = report.run_id.unwrap();
    let outputs = store.outputs_for_run(run_id).await.unwrap();
    let stored: Vec<(u32, &str)> = outputs
        .iter()
        .map(|o| (o.attempt, o.status.as_str()))
        .collect();
    assert_eq!(stored, [(1, "invalid"), (2, "repaired")]);
}

#[tokio::test]
async fn without_repair_an_invalid_answer_is_invalid_after_one_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let program = agent(dir.path(), r#"{"verdict": "approve"}"#, r#"{"score": 1}"#);
    let plan = plan(
        dir.path(),
        &stage_config(&program, "required = [\"verdict\", \"score\"]"),
    )
    .unwrap();
    let orch = Orchestrator::with_plan(plan, Store::open_in_memory().unwrap().into_async());
    let report = orch.run_stage("S-2", "s").await.unwrap();
    assert_eq!(report.status, StageStatus::NoQuorum);
    let run = report.agent("a").unwrap();
    assert_eq!(run.outcome, AgentOutcome::Invalid);
    assert_eq!(run.attempts.len(), 1);
    assert_eq!(run.attempts[0].status, AttemptStatus::Invalid);
    let error = run.error.as_deref().unwrap();
    assert!(
        error.contains(r#"(root): "score" is a required property"#),
        "{error}"
    );
    assert!(!dir.path().join("prompt.2").exists(), "no repair was asked");
}

#[tokio::test]
async fn a_repair_that_is_still_invalid_leaves_the_agent_invalid_with_two_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let program = agent(dir.path(), r#"{"verdict": 1}"#, r#"{"verdict": 2}"#);
    let plan = plan(
        dir.path(),
        &stage_config(
            &program,
            "repair = true\nschema = { type = \"object\", properties = { verdict = { type = \"string\" } } }",
        ),
    )
    .unwrap();
    let orch = Orchestrator::with_plan(plan, Store::open_in_memory().unwrap().into_async());
    let report = orch.run_stage("S-3", "s").await.unwrap();
    let run = report.agent("a").unwrap();
    assert_eq!(run.outcome, AgentOutcome::Invalid);
    let statuses: Vec<AttemptStatus> = run.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [AttemptStatus::Invalid, AttemptStatus::Invalid]);
    assert!(
        run.attempts[1]
            .error
            .as_deref()
            .unwrap()
            .contains("/verdict: 2 is not of type \"string\""),
        "{:?}",
        run.attempts[1]
    );
    assert!(!dir.path().join("prompt.3").exists(), "one repair only");
}

fn transcript(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../synod-agents/tests/transcripts")
        .join(name)
}

#[tokio::test]
async fn claude_and_codex_are_given_the_schema_and_their_answers_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let claude = script(
        &dir.path().join("c"),
        "claude",
        &format!(
            "cat >/dev/null\nfor a in \"$@\"; do echo \"$a\"; done > \"{}/claude.args\"\ncat '{}'\n",
            dir.path().display(),
            transcript("claude-schema.ok.stdout").display()
        ),
    );
    // codex: keep the arguments and the contents of the schema file it was pointed at.
    let codex = script(
        &dir.path().join("x"),
        "codex",
        &format!(
            "cat >/dev/null\nout=\"{}\"\nfor a in \"$@\"; do echo \"$a\"; done > \"$out/codex.args\"\n\
             while [ $# -gt 0 ]; do if [ \"$1\" = --output-schema ]; then cat \"$2\" > \"$out/codex.schema\"; fi; shift; done\n\
             cat '{}'\n",
            dir.path().display(),
            transcript("codex-json.ok.stdout").display()
        ),
    );
    std::fs::write(dir.path().join("answer.json"), SCHEMA).unwrap();
    let plan = plan(
        dir.path(),
        &format!(
            "[[agents]]\nname = \"claude\"\ncommand = \"{}\"\n\n[[agents]]\nname = \"codex\"\ncommand = \"{}\"\n\n\
             [[stages]]\nname = \"s\"\nprompt = \"go\"\nschema = \"answer.json\"\n\n\
             [[stages]]\nname = \"loose\"\nprompt = \"go\"\nrequired = [\"verdict\"]\n",
            claude.display(),
            codex.display()
        ),
    )
    .unwrap();
    let compact = plan.stage_schema("s").unwrap().text().to_owned();
    let orch = Orchestrator::with_plan(plan, Store::open_in_memory().unwrap().into_async());
    let report = orch.run_stage("S-4", "s").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok, "{report:?}");
    for name in ["claude", "codex"] {
        let run = report.agent(name).unwrap();
        assert_eq!(run.extracted.as_ref().unwrap()["verdict"], "approve");
        assert_eq!(run.attempts[0].status, AttemptStatus::Ok);
    }
    let claude_args = std::fs::read_to_string(dir.path().join("claude.args")).unwrap();
    assert_eq!(
        claude_args,
        format!("-p\n--output-format\njson\n--json-schema\n{compact}\n")
    );
    let codex_args = std::fs::read_to_string(dir.path().join("codex.args")).unwrap();
    let codex_args: Vec<&str> = codex_args.lines().collect();
    assert_eq!(
        codex_args[..4],
        ["exec", "--json", "--skip-git-repo-check", "--output-schema"]
    );
    assert_eq!(codex_args[5], "-", "the prompt argument stays last");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("codex.schema")).unwrap(),
        compact
    );

    // A schema outside OpenAI's strict subset (derived from `required`: other fields
    // allowed) would fail every codex call: codex is not given it, claude is, and both
    // answers are still validated.
    let report = orch.run_stage("S-5", "loose").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok, "{report:?}");
    let codex_args = std::fs::read_to_string(dir.path().join("codex.args")).unwrap();
    assert_eq!(codex_args, "exec\n--json\n--skip-git-repo-check\n-\n");
    let claude_args = std::fs::read_to_string(dir.path().join("claude.args")).unwrap();
    assert!(claude_args.contains("--json-schema\n{"), "{claude_args}");
}

#[test]
fn bad_schemas_are_config_errors_naming_the_stage_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("agent.sh");
    let err = |keys: &str| {
        plan(dir.path(), &stage_config(&program, keys))
            .unwrap_err()
            .to_string()
    };

    let missing = err("schema = \"schemas/nope.json\"");
    assert!(
        missing.contains("stages.0.schema")
            && missing.contains("schemas/nope.json")
            && missing.contains("cannot read"),
        "{missing}"
    );
    std::fs::write(dir.path().join("broken.json"), "{not json").unwrap();
    let broken = err("schema = \"broken.json\"");
    assert!(
        broken.contains("stages.0.schema")
            && broken.contains("broken.json")
            && broken.contains("not JSON"),
        "{broken}"
    );
    std::fs::write(dir.path().join("bad.json"), r#"{"type": "objekt"}"#).unwrap();
    let bad = err("schema = \"bad.json\"");
    assert!(
        bad.contains("stages.0.schema")
            && bad.contains("bad.json")
            && bad.contains("not a valid JSON Schema"),
        "{bad}"
    );
    let inline = err("schema = { minLength = -1 }");
    assert!(
        inline.contains("stages.0.schema") && inline.contains("inline schema"),
        "{inline}"
    );
    let both = err("schema = { type = \"object\" }\nrequired = [\"a\"]");
    assert!(
        both.contains("stages.0.required") && both.contains("not both"),
        "{both}"
    );
    let nothing = err("repair = true");
    assert!(
        nothing.contains("stages.0.repair") && nothing.contains("`schema` or `required`"),
        "{nothing}"
    );
    let empty = err("required = [\"\"]");
    assert!(empty.contains("stages.0.required"), "{empty}");
}

#[test]
fn a_config_file_keeps_the_schema_keys_as_written_and_resolves_the_file_next_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(conf.join("schemas")).unwrap();
    std::fs::write(conf.join("schemas/plan.json"), SCHEMA).unwrap();
    let path = conf.join("synod.toml");
    std::fs::write(
        &path,
        "[[agents]]\nname = \"a\"\ncommand = \"true\"\n\n\
         [[stages]]\nname = \"plan\"\nschema = \"schemas/plan.json\"\n\n\
         [[stages]]\nname = \"inline\"\nschema = { type = \"object\", additionalProperties = false, properties = { ok = { type = \"boolean\" } } }\n",
    )
    .unwrap();
    let plan = LoadedConfig::load(Some(&path), &[])
        .unwrap()
        .plan()
        .unwrap();
    let from_file = plan.stage_schema("plan").unwrap();
    assert!(
        from_file
            .check(&serde_json::json!({"verdict": "reject", "score": 1}))
            .is_ok()
    );
    let inline = plan.stage_schema("inline").unwrap();
    assert!(inline.check(&serde_json::json!({"ok": true})).is_ok());
    let errors = inline
        .check(&serde_json::json!({"ok": true, "extra": 1}))
        .unwrap_err();
    assert!(
        errors[0].contains("extra"),
        "additionalProperties kept its case: {errors:?}"
    );
}
