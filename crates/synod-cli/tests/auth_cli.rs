//! `synod auth login|status|logout` against the real test authorization server
//! (crates/synod-auth/tests/server, oidc-provider on 127.0.0.1).

#[path = "../../synod-auth/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{TestServer, User};
use synod::auth::http::reqwest;

fn synod(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_synod"));
    cmd.env("SYNOD_AUTH_DIR", dir).env_remove("RUST_LOG");
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    synod(dir).args(args).output().expect("run synod")
}

enum UserAction {
    Approve,
    Deny,
    Nothing,
}

/// Run `synod auth login --json`, read the device authorization from stdout, act as the user,
/// and return the exit code, the JSON line and stderr.
async fn login(
    server: &TestServer,
    dir: &Path,
    action: UserAction,
) -> (i32, serde_json::Value, String) {
    let mut child = synod(dir)
        .args([
            "auth",
            "login",
            "--issuer",
            &server.issuer,
            "--client-id",
            "basic-client",
            "--client-secret",
            "basic-secret-value",
            "--scope",
            "openid",
            "--scope",
            "offline_access",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn synod");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("stdout JSON ({e}): {line:?}"));
    let uri = json["verification_uri"].as_str().unwrap().to_owned();
    let code = json["user_code"].as_str().unwrap().to_owned();
    match action {
        UserAction::Approve => {
            User::new(&server.issuer)
                .approve(&uri, &code, "frank")
                .await;
        }
        UserAction::Deny => {
            User::new(&server.issuer).deny(&uri, &code).await;
        }
        UserAction::Nothing => {}
    }
    let mut stderr = child.stderr.take().unwrap();
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        (child.wait().unwrap(), text)
    })
    .await
    .unwrap();
    (status.code().unwrap_or(-1), json, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_status_logout() {
    let server = TestServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("auth");

    let (code, json, stderr) = login(&server, &dir, UserAction::Approve).await;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let uri = json["verification_uri"].as_str().unwrap();
    assert!(lines.contains(&format!("url: {uri}").as_str()), "{stderr}");
    let user_code = json["user_code"].as_str().unwrap();
    assert!(
        lines.contains(&format!("code: {user_code}").as_str()),
        "{stderr}"
    );
    assert_eq!(json["interval"], 1);
    assert!(json["expires_in"].as_u64().unwrap() > 0);
    assert!(json["verification_uri_complete"].is_string());
    assert!(json.get("device_code").is_none(), "{json}");

    // One private token file.
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let access = stored["access_token"].as_str().unwrap().to_owned();
    let refresh = stored["refresh_token"].as_str().unwrap().to_owned();
    assert!(!stderr.contains(&access) && !stderr.contains(&refresh));

    let out = run(&dir, &["auth", "status"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&server.issuer), "{text}");
    assert!(text.contains("client basic-client"), "{text}");
    assert!(text.contains("openid offline_access"), "{text}");
    assert!(text.contains("expires in "), "{text}");
    assert!(
        !text.contains(&access) && !text.contains(&refresh),
        "{text}"
    );

    let out = run(&dir, &["auth", "status", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["client_id"], "basic-client");
    assert_eq!(rows[0]["has_refresh_token"], true);
    assert!(
        !out.stdout
            .windows(access.len())
            .any(|w| w == access.as_bytes())
    );

    let out = run(
        &dir,
        &["auth", "logout", "--client-secret", "basic-secret-value"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("refresh and access tokens revoked"),
        "{stderr}"
    );
    let revocations = server
        .events()
        .await
        .into_iter()
        .filter(|e| e["event"] == "revocation" && e["status"] == 200)
        .count();
    assert_eq!(revocations, 2);

    let out = run(&dir, &["auth", "status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no stored logins"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_login_exits_1_with_one_line() {
    let server = TestServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, stderr) = login(&server, tmp.path(), UserAction::Deny).await;
    assert_eq!(code, 1, "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("denied"),
        "{stderr}"
    );
    assert!(stderr.lines().filter(|l| l.starts_with("error")).count() == 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_login_exits_1() {
    let server = TestServer::start(&[("SYNOD_TEST_DEVICE_TTL", "2")]);
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, stderr) = login(&server, tmp.path(), UserAction::Nothing).await;
    assert_eq!(code, 1, "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("expire"),
        "{stderr}"
    );
}

#[test]
fn unreachable_issuer_exits_2_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let tmp = tempfile::tempdir().unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    let out = run(
        tmp.path(),
        &["auth", "login", "--issuer", &issuer, "--client-id", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&issuer), "{stderr}");
    let _ = reqwest::Client::new(); // the shared harness's HTTP crate is in scope
}
