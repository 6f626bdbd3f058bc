//! Credentials in agent output never reach the store, a backup or any CLI output.

mod run_support;

use run_support::Project;

/// 50 credential shapes an agent might echo: what each line prints, and the secret part of
/// it that must not survive.
fn corpus() -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = Vec::new();
    let mut add = |line: String, secret: String| items.push((line, secret));
    let alnum = |seed: usize, len: usize| -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|i| ALPHABET[(seed * 7 + i * 13 + i * i) % ALPHABET.len()] as char)
            .collect()
    };
    for i in 0..5 {
        let token = format!(
            "eyJ{}.{}.{}",
            alnum(i, 20),
            alnum(i + 1, 30),
            alnum(i + 2, 12)
        );
        add(format!("Authorization: Bearer {token}"), token.clone());
        let t2 = alnum(i + 10, 40);
        add(format!("curl -H \"authorization: token {t2}\""), t2);
    }
    for i in 0..5 {
        let key = format!("sk-ant-api03-{}", alnum(i + 20, 40));
        add(format!("using key {key} for anthropic"), key);
        let key = format!("sk-proj-{}", alnum(i + 30, 48));
        add(format!("OPENAI key={key}"), key);
    }
    for i in 0..5 {
        let key = format!("AIza{}", alnum(i + 40, 35));
        add(format!("gemini called with {key}"), key);
        let key = format!("ghp_{}", alnum(i + 50, 36));
        add(format!("git remote https://{key}@github.com/x/y"), key);
    }
    for i in 0..5 {
        let key = format!("github_pat_{}", alnum(i + 60, 60));
        add(format!("token {key}"), key);
        let key = format!("xoxb-{}-{}", alnum(i + 70, 12), alnum(i + 71, 24));
        add(format!("slack: {key}"), key);
    }
    for i in 0..4 {
        let key = format!("AKIA{}", alnum(i + 80, 16).to_ascii_uppercase());
        add(format!("aws_access_key_id = {key}"), key);
        let pw = format!("pw-{}", alnum(i + 90, 14));
        add(format!("password={pw}"), pw);
    }
    let pem_body = alnum(99, 64);
    add(
        format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n{pem_body}\n-----END RSA PRIVATE KEY-----"
        ),
        pem_body,
    );
    let v = alnum(100, 24);
    add(format!("\"api_key\": \"{v}\""), v);
    items
}

const ENV_TOKEN: &str = "svc-tok-71c0ffee-5ecr3t";
const INHERITED_KEY: &str = "zz-inherited-provider-key-42";
const CUSTOM: &str = "corp-9f8e7d6c5b4a";

fn project(enabled: bool) -> (Project, Vec<(String, String)>) {
    let corpus = corpus();
    assert_eq!(corpus.len(), 50);
    let project = Project::new("");
    let mut text = String::new();
    for (line, _) in &corpus {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!(
        "service token {ENV_TOKEN}\nprovider {INHERITED_KEY}\nid {CUSTOM}\n"
    ));
    std::fs::write(project.path().join("leak.txt"), &text).unwrap();
    // `talker` answers (prose with credentials, then JSON holding some); `failer` exits 1
    // with the credentials on stderr (its first stderr line reaches reports).
    project.script(
        "talker.sh",
        "cat >/dev/null; cat leak.txt; echo \"$MY_SERVICE_TOKEN $ANTHROPIC_API_KEY\"; \
         printf '{\"answer\": \"ok\", \"note\": \"Bearer %s\"}\\n' \"$MY_SERVICE_TOKEN-abcdefghijklmnop\"",
    );
    project.script(
        "failer.sh",
        "cat >/dev/null; echo \"Authorization: Bearer $MY_SERVICE_TOKEN\" >&2; cat leak.txt >&2; exit 1",
    );
    let config = format!(
        r#"
[redact]
enabled = {enabled}
patterns = ['corp-[0-9a-f]{{12}}']

[[agents]]
name = "talker"
command = "sh"
args = ["talker.sh"]
env = {{ MY_SERVICE_TOKEN = "{ENV_TOKEN}" }}

[[agents]]
name = "failer"
command = "sh"
args = ["failer.sh"]
env = {{ MY_SERVICE_TOKEN = "{ENV_TOKEN}" }}
retry = {{ max_attempts = 1 }}

[[stages]]
name = "s"
prompt = "go"
consensus = {{ decision_fields = ["/answer"], quorum = {{ at_least = 1 }} }}
"#
    );
    std::fs::write(project.path().join("synod.toml"), config).unwrap();
    (project, corpus)
}

fn synod_with_env(project: &Project, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("synod")
        .unwrap()
        .current_dir(project.path())
        .env_remove("RUST_LOG")
        .env("ANTHROPIC_API_KEY", INHERITED_KEY)
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

fn secrets(corpus: &[(String, String)]) -> Vec<String> {
    let mut all: Vec<String> = corpus.iter().map(|(_, s)| s.clone()).collect();
    all.extend([
        ENV_TOKEN.to_owned(),
        INHERITED_KEY.to_owned(),
        CUSTOM.to_owned(),
    ]);
    all
}

fn leaked<'a>(haystack: &[u8], secrets: &'a [String]) -> Vec<&'a str> {
    secrets
        .iter()
        .filter(|s| haystack.windows(s.len()).any(|w| w == s.as_bytes()))
        .map(String::as_str)
        .collect()
}

#[test]
fn fifty_credential_shapes_reach_no_store_backup_or_output() {
    let (project, corpus) = project(true);
    let secrets = secrets(&corpus);

    let run = synod_with_env(
        &project,
        &["run", "--spec", "R-1", "--stage", "s", "--json"],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let run_id = report["run_id"].as_i64().unwrap();
    // One of two agents answered: a degraded verdict, exit 0.
    assert_eq!(report["status"], "degraded", "{report}");
    // The answer's JSON was kept, with its credential replaced inside the string.
    let talker = report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "talker")
        .unwrap();
    assert_eq!(talker["extracted"]["answer"], "ok");
    assert_eq!(talker["extracted"]["note"], "Bearer [REDACTED]");
    let mut seen = Vec::new();
    seen.extend_from_slice(&run.stdout);
    seen.extend_from_slice(&run.stderr);

    let backup = project.path().join("backup.db");
    let out = project.synod(&["store", "backup", backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for args in [
        vec!["show".to_owned(), run_id.to_string(), "--raw".to_owned()],
        vec!["show".to_owned(), run_id.to_string()],
        vec!["show".to_owned(), run_id.to_string(), "--json".to_owned()],
        vec!["history".to_owned(), "R-1".to_owned(), "--json".to_owned()],
        vec!["history".to_owned(), "R-1".to_owned()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = project.synod(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("[REDACTED]") || !args.contains(&"--raw"),
            "{args:?}: the raw output shows where credentials were"
        );
        seen.extend_from_slice(&out.stdout);
        seen.extend_from_slice(&out.stderr);
    }
    assert_eq!(leaked(&seen, &secrets), Vec::<&str>::new(), "CLI output");

    let mut files = Vec::new();
    for name in ["synod.db", "synod.db-wal", "synod.db-shm"] {
        if let Ok(bytes) = std::fs::read(project.path().join(".synod").join(name)) {
            files.extend(bytes);
        }
    }
    assert!(!files.is_empty());
    assert_eq!(
        leaked(&files, &secrets),
        Vec::<&str>::new(),
        "database files"
    );
    let backup_bytes = std::fs::read(&backup).unwrap();
    assert_eq!(
        leaked(&backup_bytes, &secrets),
        Vec::<&str>::new(),
        "backup"
    );
}

#[test]
fn redaction_can_be_switched_off() {
    let (project, corpus) = project(false);
    let run = synod_with_env(
        &project,
        &["run", "--spec", "R-2", "--stage", "s", "--json"],
    );
    assert_eq!(run.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let show = project.synod(&[
        "show",
        &report["run_id"].as_i64().unwrap().to_string(),
        "--raw",
    ]);
    let secrets = secrets(&corpus);
    // Off means verbatim: every credential is in the raw output.
    assert_eq!(leaked(&show.stdout, &secrets).len(), secrets.len());
}

#[test]
fn config_explain_redacts_secret_agent_env_values() {
    let (project, _) = project(true);
    for key in [
        "agents.0.env.MY_SERVICE_TOKEN",
        "agents.0.env",
        "agents.1",
        "agents",
    ] {
        let out = project.synod(&["config", "explain", key]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{key}: {text}");
        assert!(!text.contains(ENV_TOKEN), "{key}: {text}");
        assert!(text.contains("[redacted]"), "{key}: {text}");
    }
    // A non-secret value is still shown.
    let out = project.synod(&["config", "explain", "agents.0.command"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"sh\""));
}

#[test]
fn config_show_prints_the_effective_config_with_secrets_redacted() {
    let (project, _) = project(true);
    let out = project.synod(&["config", "show"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(ENV_TOKEN), "{text}");
    let all: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let agent = &all["agents"][0];
    assert_eq!(agent["name"], "talker");
    assert_eq!(agent["command"], "sh");
    assert_eq!(agent["env"]["MY_SERVICE_TOKEN"], "[redacted]");
    // Defaults the file never set, the agent's own among them.
    assert_eq!(agent["enabled"], true, "{agent}");
    assert!(agent["timeout"].is_string(), "{agent}");
    assert_eq!(all["redact"]["enabled"], true, "{all}");

    // A server's password is hidden; the rest of its URL shows.
    let out = project.synod(&[
        "config",
        "show",
        "--store",
        "postgres://synod:hunter2pw@127.0.0.1:5432/ev",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("hunter2pw"), "{text}");
    assert!(
        text.contains("\"postgres://synod:***@127.0.0.1:5432/ev\""),
        "{text}"
    );

    let broken = Project::new("[jobs]\nmax_tries = 0\n");
    let out = broken.synod(&["config", "show"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("jobs.max_tries"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_redaction_pattern_is_a_config_error_naming_its_key() {
    let project = Project::new("[redact]\npatterns = ['ok-[0-9]+', '(unclosed']\n");
    let out = project.synod(&["config", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // The file position, the key, the pattern and the parser's reason.
    assert!(stderr.contains("synod.toml:2:"), "{stderr}");
    assert!(stderr.contains("redact.patterns.1"), "{stderr}");
    assert!(
        stderr.contains("(unclosed") && stderr.contains("unclosed group"),
        "{stderr}"
    );
    assert!(!stderr.contains("ok-[0-9]+"), "{stderr}");
}
