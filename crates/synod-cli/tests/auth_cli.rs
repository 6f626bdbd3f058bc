//! `synod auth login|status|token|logout` against the real test authorization server
//! (crates/synod-auth/tests/server, oidc-provider on 127.0.0.1, refresh tokens rotating).

#[path = "../../synod-auth/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{TestServer, User};
use synod::auth::http::reqwest;

const SECRET_ENV: &str = "SYNOD_CLIENT_SECRET";
const SECRET: &str = "basic-secret-value";

fn synod(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_synod"));
    cmd.env("SYNOD_AUTH_DIR", dir)
        .env_remove("RUST_LOG")
        .env_remove(SECRET_ENV);
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
            "--scope",
            "openid",
            "--scope",
            "offline_access",
            "--json",
        ])
        .env(SECRET_ENV, SECRET)
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
    let expires_in = json["expires_in"].as_u64().unwrap();
    assert!(expires_in > 0);
    // Said the way a person reads it: 45s, 9m59s, 1h05m.
    let readable = match expires_in {
        0..=59 => format!("{expires_in}s"),
        60..=3599 => format!("{}m{:02}s", expires_in / 60, expires_in % 60),
        _ => format!("{}h{:02}m", expires_in / 3600, expires_in % 3600 / 60),
    };
    assert!(
        lines.contains(
            &format!("waiting for approval (the code expires in {readable})...").as_str()
        ),
        "{stderr}"
    );
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

    let secret_file = tmp.path().join("client-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let out = run(
        &dir,
        &[
            "auth",
            "logout",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
        ],
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

#[test]
fn explicit_endpoints_skip_discovery() {
    let closed = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let tmp = tempfile::tempdir().unwrap();
    let issuer = format!("http://127.0.0.1:{}", closed());
    let device = format!("http://127.0.0.1:{}/device", closed());
    let token = format!("http://127.0.0.1:{}/token", closed());
    let out = run(
        tmp.path(),
        &[
            "auth",
            "login",
            "--issuer",
            &issuer,
            "--client-id",
            "x",
            "--device-endpoint",
            &device,
            "--token-endpoint",
            &token,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&device) && !stderr.contains(".well-known"),
        "the device endpoint given was asked, not the issuer's discovery document: {stderr}"
    );
}

const REFRESH_GRANT: &str = "refresh_token";

/// A logged-in `basic-client` (via `synod auth login`) in a fresh token directory.
async fn logged_in(server: &TestServer) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("auth");
    let (code, _, stderr) = login(server, &dir, UserAction::Approve).await;
    assert_eq!(code, 0, "{stderr}");
    (tmp, dir)
}

/// The one file in `dir` whose name ends with `suffix`.
fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

/// The stored token (as JSON).
fn stored(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(only_file(dir, ".json")).unwrap()).unwrap()
}

/// Edit the stored token in place (the file keeps its mode).
fn edit_stored(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = only_file(dir, ".json");
    let mut token = stored(dir);
    edit(&mut token);
    std::fs::write(&path, serde_json::to_vec(&token).unwrap()).unwrap();
}

/// Mark the stored access token as expired (the server would still accept it; the client
/// must not use it): the next `synod auth token` has to refresh.
fn expire(dir: &Path) {
    let now = unix_now();
    edit_stored(dir, |token| token["expires_at"] = (now - 1).into());
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn stdout_token(out: &Output) -> String {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let token = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("one line: {text:?}"));
    assert!(
        !token.is_empty() && !token.contains('\n'),
        "only the token: {text:?}"
    );
    token.to_owned()
}

fn token_cmd(dir: &Path) -> Command {
    let mut cmd = synod(dir);
    cmd.args(["auth", "token"]);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_prints_only_a_valid_access_token_and_refreshes_it_when_expired() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let (_tmp, dir) = logged_in(&server).await;
    let first = stored(&dir)["access_token"].as_str().unwrap().to_owned();

    // Valid: printed as stored, nothing on stderr, no request to the server.
    let out = token_cmd(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_token(&out), first);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.token_events(REFRESH_GRANT).await.is_empty());

    // Expired: refreshed (the client authenticates with the secret from the environment),
    // even with every log on, the token never reaches stderr.
    expire(&dir);
    let out = token_cmd(&dir)
        .args(["--issuer", &format!("{}/", server.issuer)])
        .args(["--client-id", "basic-client"])
        .env(SECRET_ENV, SECRET)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let refreshed = stdout_token(&out);
    assert_ne!(refreshed, first);
    assert!(server.accepts(&refreshed).await);
    assert_eq!(server.token_events(REFRESH_GRANT).await.len(), 1);
    assert_eq!(stored(&dir)["access_token"], refreshed.as_str());
    let refresh_token = stored(&dir)["refresh_token"].as_str().unwrap().to_owned();
    assert!(
        stderr.contains("access token refreshed"),
        "logs were on: {stderr}"
    );
    assert!(
        !stderr.contains(&refreshed)
            && !stderr.contains(&refresh_token)
            && !stderr.contains(SECRET),
        "{stderr}"
    );

    // Another client id: not logged in, exit 2, one line.
    let out = token_cmd(&dir)
        .args(["--client-id", "public-client"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("not logged in as client public-client")
            && stderr.contains("synod auth login"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exits_2_with_one_line_without_a_login_or_when_it_must_be_renewed() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let tmp = tempfile::tempdir().unwrap();
    let out = token_cmd(&tmp.path().join("auth")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: not logged in") && stderr.contains("synod auth login"),
        "{stderr}"
    );

    // The server no longer knows the refresh token: re-login required.
    let (_tmp, dir) = logged_in(&server).await;
    expire(&dir);
    edit_stored(&dir, |token| {
        token["refresh_token"] = "not-a-refresh-token".into();
    });
    let out = token_cmd(&dir).env(SECRET_ENV, SECRET).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("invalid_grant") && stderr.contains("run `synod auth login` again"),
        "{stderr}"
    );
    let refreshes = server.token_events(REFRESH_GRANT).await;
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(refreshes[0]["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_secret_comes_from_a_file_stdin_the_environment_or_the_deprecated_flag() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let (tmp, dir) = logged_in(&server).await;
    let secret_file = tmp.path().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\r\n")).unwrap();
    let mut refreshes = 0;

    // Each source reaches the server: the refresh authenticates the client with it.
    for name in ["file", "stdin", "env", "flag"] {
        expire(&dir);
        let mut cmd = token_cmd(&dir);
        match name {
            "file" => cmd.arg("--client-secret-file").arg(&secret_file),
            "stdin" => cmd.arg("--client-secret-stdin"),
            "env" => cmd.env(SECRET_ENV, SECRET),
            _ => cmd.args(["--client-secret", SECRET]),
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            if name == "stdin" {
                writeln!(stdin, "{SECRET}").unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        refreshes += 1;
        assert_eq!(
            server.token_events(REFRESH_GRANT).await.len(),
            refreshes,
            "{name}"
        );
        assert!(server.accepts(&stdout_token(&out)).await, "{name}");
        if name == "flag" {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.starts_with("warning: --client-secret")
                    && stderr.contains("ps")
                    && stderr.contains("--client-secret-file"),
                "{stderr}"
            );
        } else {
            assert!(stderr.is_empty(), "{name}: {stderr}");
        }
    }

    // No secret: the server refuses the client; worth fixing and retrying, not a re-login.
    expire(&dir);
    let out = token_cmd(&dir).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(out.stdout.is_empty());
    // The login survived the refused request.
    let out = token_cmd(&dir).env(SECRET_ENV, SECRET).output().unwrap();
    assert_eq!(out.status.code(), Some(0));

    // An empty secret file is named; two sources at once are a usage error.
    let empty = tmp.path().join("empty-secret");
    std::fs::write(&empty, "\n").unwrap();
    let out = token_cmd(&dir)
        .arg("--client-secret-file")
        .arg(&empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&empty.display().to_string()) && stderr.contains("empty"),
        "{stderr}"
    );
    let out = token_cmd(&dir)
        .arg("--client-secret-file")
        .arg(&secret_file)
        .arg("--client-secret-stdin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

/// Concurrent `synod auth token` processes.
struct Processes {
    children: Vec<std::process::Child>,
    /// (process index, stderr line), as they come.
    lines: std::sync::mpsc::Receiver<(usize, String)>,
    /// Each process's whole stderr, once it has exited.
    stderrs: Vec<std::thread::JoinHandle<String>>,
}

/// `n` concurrent `synod auth token` processes with debug logs on stderr.
fn spawn_token_processes(dir: &Path, n: usize) -> Processes {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for index in 0..n {
        let mut child = token_cmd(dir)
            .env(SECRET_ENV, SECRET)
            .env("RUST_LOG", "synod_auth=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send((index, line));
            }
            all
        }));
        children.push(child);
    }
    Processes {
        children,
        lines: rx,
        stderrs: readers,
    }
}

/// Wait (at most 60 s) until `count` different processes logged that they wait for the lock.
fn wait_for_waiters(rx: &std::sync::mpsc::Receiver<(usize, String)>, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut waiting = std::collections::BTreeSet::new();
    while waiting.len() < count {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok((index, line)) if line.contains("holds the refresh lock") => {
                waiting.insert(index);
            }
            Ok(_) => {}
            Err(err) => panic!("only {waiting:?} waited for the lock ({err})"),
        }
    }
}

/// Eight `synod auth token` processes needing a refresh at once: the first refresh request
/// is parked at the server until the other seven log that they wait for the lock.
async fn park_eight_refreshes(server: &TestServer, dir: &Path) -> Processes {
    server.hold_next_token().await;
    let Processes {
        children,
        lines,
        stderrs,
    } = spawn_token_processes(dir, 8);
    server.wait_for_event("token_held").await;
    let lines = tokio::task::spawn_blocking(move || {
        wait_for_waiters(&lines, 7);
        lines
    })
    .await
    .unwrap();
    Processes {
        children,
        lines,
        stderrs,
    }
}

/// Waits for every process, off the runtime's threads.
async fn wait_all(children: Vec<std::process::Child>) -> Vec<std::process::Output> {
    tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    })
    .await
    .unwrap()
}

/// After the concurrent refresh, the login survives: the next expiry refreshes once more
/// with the rotated refresh token and yields a new, valid token.
async fn assert_login_refreshes_again(server: &TestServer, dir: &Path, previous: &str) {
    expire(dir);
    let out = token_cmd(dir).env(SECRET_ENV, SECRET).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let next = stdout_token(&out);
    assert_ne!(next, previous);
    assert!(server.accepts(&next).await);
    assert_eq!(server.token_events(REFRESH_GRANT).await.len(), 2);
}

fn holder_pid(dir: &Path) -> u32 {
    std::fs::read_to_string(only_file(dir, ".lock"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_at_once_refresh_once_and_all_print_the_new_token() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let (_tmp, dir) = logged_in(&server).await;
    let first = stored(&dir)["access_token"].as_str().unwrap().to_owned();
    expire(&dir);

    // The first refresh request is parked at the server until all the others are waiting
    // for the lock: eight processes need a refresh at the same moment.
    let Processes {
        children,
        lines: rx,
        stderrs: readers,
    } = park_eight_refreshes(&server, &dir).await;
    let holder = holder_pid(&dir);
    assert!(children.iter().any(|c| c.id() == holder), "{holder}");
    server.release().await;

    let outputs = wait_all(children).await;
    drop(rx);
    let stderrs: Vec<String> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let mut tokens = Vec::new();
    for (out, stderr) in outputs.iter().zip(&stderrs) {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let token = stdout_token(out);
        assert!(!stderr.contains(&token), "{stderr}");
        tokens.push(token);
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    assert_ne!(tokens[0], first);
    assert!(server.accepts(&tokens[0]).await);
    let refreshes = server.token_events(REFRESH_GRANT).await;
    assert_eq!(refreshes.len(), 1, "exactly one refresh: {refreshes:?}");
    assert_eq!(refreshes[0]["status"], 200);

    // The login still works: the next expiry refreshes with the rotated refresh token.
    assert_login_refreshes_again(&server, &dir, &tokens[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_lock_holder_mid_refresh_lets_the_others_proceed_and_keeps_the_login() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let (_tmp, dir) = logged_in(&server).await;
    let first = stored(&dir)["access_token"].as_str().unwrap().to_owned();
    expire(&dir);

    let Processes {
        children,
        lines: rx,
        stderrs: readers,
    } = park_eight_refreshes(&server, &dir).await;
    // SIGKILL the process holding the lock, its refresh request in flight.
    let holder = holder_pid(&dir);
    let mut children = children;
    let position = children
        .iter()
        .position(|c| c.id() == holder)
        .unwrap_or_else(|| panic!("the lock holder {holder} is not one of ours"));
    let mut killed = children.remove(position);
    killed.kill().unwrap();
    let status = killed.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status}");
    }
    #[cfg(not(unix))]
    assert!(!status.success());

    let outputs = wait_all(children).await;
    drop(rx);
    let stderrs: Vec<String> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(outputs.len(), 7);
    let mut tokens = Vec::new();
    for out in &outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderrs:?} {stderr}");
        tokens.push(stdout_token(out));
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    assert_ne!(tokens[0], first);
    assert!(server.accepts(&tokens[0]).await);
    // The killed request never reached the provider; one refresh by a survivor.
    server.wait_for_event("token_dropped").await;
    let refreshes = server.token_events(REFRESH_GRANT).await;
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(refreshes[0]["status"], 200);

    // The login is not lost: it refreshes again.
    assert_login_refreshes_again(&server, &dir, &tokens[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stored_logins_are_told_apart_by_issuer_and_client_id() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let (_tmp, dir) = logged_in(&server).await;
    // The server's login expires in under a minute; a second login, to another issuer and
    // client, never does.
    edit_stored(&dir, |token| token["expires_at"] = (unix_now() + 45).into());
    let mut other = stored(&dir);
    other["issuer"] = "http://127.0.0.1:9/other".into();
    other["client_id"] = "other-client".into();
    other["access_token"] = "other-access-token".into();
    other["refresh_token"] = serde_json::Value::Null;
    other["expires_at"] = serde_json::Value::Null;
    let key = synod::auth::TokenKey::new("http://127.0.0.1:9/other", "other-client");
    let other_file = synod::auth::FileTokenStore::new(&dir).path_for(&key);
    std::fs::write(&other_file, serde_json::to_vec(&other).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&other_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    let out = run(&dir, &["auth", "status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    let expiry = |client: &str| {
        let line = listed
            .lines()
            .find(|l| l.contains(&format!("client {client} ")))
            .unwrap_or_else(|| panic!("no {client} in {listed}"));
        line.split("  expires ")
            .nth(1)
            .unwrap()
            .split("  ")
            .next()
            .unwrap()
            .to_owned()
    };
    let seconds: u64 = expiry("basic-client")
        .strip_prefix("in ")
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not `in Ns`: {listed}"));
    assert!((30..=45).contains(&seconds), "{listed}");
    assert_eq!(expiry("other-client"), "unknown", "{listed}");

    // `token --issuer` picks the server's login (refreshed, as it expires within a minute).
    let out = token_cmd(&dir)
        .args(["--issuer", &server.issuer])
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = stdout_token(&out);
    assert_ne!(token, "other-access-token");
    assert!(server.accepts(&token).await);

    // `logout --issuer` logs out of that login only; `logout --client-id` of the other.
    let out = synod(&dir)
        .args(["auth", "logout", "--issuer", &server.issuer])
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&run(&dir, &["auth", "status"]).stdout).into_owned();
    assert!(
        listed.contains("client other-client") && !listed.contains("basic-client"),
        "{listed}"
    );
    let out = run(
        &dir,
        &[
            "auth",
            "logout",
            "--client-id",
            "other-client",
            "--local-only",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&run(&dir, &["auth", "status"]).stdout).into_owned();
    assert!(listed.contains("no stored logins"), "{listed}");
}
