//! Test harness: the real authorization server (oidc-provider, see tests/server/server.mjs)
//! as a child process on 127.0.0.1, and a "user" that completes its verification pages over
//! HTTP. Shared by synod-auth's and synod-cli's integration tests.
//!
//! The server's npm dependencies are installed on first use (`npm ci` in tests/server when
//! node_modules is missing or does not match package-lock.json), one installer at a time
//! across test threads and processes.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// Each test crate brings `reqwest` into scope (synod_auth::http::reqwest or synod::auth::...).
use super::reqwest;
use serde_json::Value;

/// The server's directory (package.json, server.mjs, node_modules).
pub fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("synod-auth")
        .join("tests")
        .join("server")
}

/// A running test authorization server. Killed on drop.
pub struct TestServer {
    child: Child,
    log: Arc<Mutex<String>>,
    pub port: u16,
    pub issuer: String,
}

impl TestServer {
    /// Start the server with `knobs` (SYNOD_TEST_* environment variables, see server.mjs).
    pub fn start(knobs: &[(&str, &str)]) -> TestServer {
        let dir = server_dir();
        let dir = dir.canonicalize().unwrap_or(dir);
        ensure_installed(&dir);
        let mut command = Command::new("node");
        command
            .arg("server.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in knobs {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap_or_else(|err| {
            panic!(
                "cannot start `node server.mjs` in {}: {err} (is Node.js 20+ installed?)",
                dir.display()
            )
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("read the server's first line");
        // Keep draining both pipes so the server never writes into a closed pipe; keep stderr
        // to show it if the test fails.
        let log = Arc::new(Mutex::new(String::new()));
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        let stderr = child.stderr.take().expect("piped stderr");
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    if !line.contains("oidc-provider WARNING") {
                        log.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push_str(&line);
                    }
                    line.clear();
                }
            });
        }
        let parsed: Value = serde_json::from_str(first.trim())
            .unwrap_or_else(|err| panic!("server did not announce its port ({err}): {first:?}"));
        let port = parsed["port"].as_u64().expect("port") as u16;
        TestServer {
            child,
            log,
            port,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Every token, revocation and device authorization request the server saw.
    pub async fn events(&self) -> Vec<Value> {
        let body = reqwest::get(format!("{}/__events", self.issuer))
            .await
            .expect("GET /__events")
            .text()
            .await
            .expect("events body");
        serde_json::from_str(&body).expect("events JSON")
    }

    /// Park the next token request until [`TestServer::release`] or until its client
    /// disconnects (see server.mjs).
    pub async fn hold_next_token(&self) {
        let status = reqwest::Client::new()
            .post(format!("{}/__hold_next_token", self.issuer))
            .send()
            .await
            .expect("POST /__hold_next_token")
            .status();
        assert!(status.is_success(), "hold: {status}");
    }

    /// Let the parked token request through.
    pub async fn release(&self) {
        let status = reqwest::Client::new()
            .post(format!("{}/__release", self.issuer))
            .send()
            .await
            .expect("POST /__release")
            .status();
        assert!(status.is_success(), "release: {status} (no parked request)");
    }

    /// Wait (at most 60 s, polling the event log) until an event named `event` was logged.
    pub async fn wait_for_event(&self, event: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self
                .events()
                .await
                .into_iter()
                .find(|e| e["event"] == event)
            {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server logged no {event:?} event within 60 s: {:?}",
                self.events().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the server accepts `access_token` (its userinfo endpoint answers 200).
    pub async fn accepts(&self, access_token: &str) -> bool {
        reqwest::Client::new()
            .get(format!("{}/me", self.issuer))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("GET /me")
            .status()
            == 200
    }

    /// Token requests of one grant type, in order.
    pub async fn token_events(&self, grant_type: &str) -> Vec<Value> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e["event"] == "token" && e["grant_type"] == grant_type)
            .collect()
    }
}

/// Run `npm ci` in the server directory `dir` unless node_modules matches package.json and
/// package-lock.json (a stamp file records what was installed). A file lock in the target
/// directory and a re-check under it make concurrent test threads and processes install once.
pub fn ensure_installed(dir: &Path) {
    let read = |name: &str| {
        fs::read(dir.join(name))
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.join(name).display()))
    };
    let want = format!(
        "{:016x}",
        fnv1a(&[read("package.json"), read("package-lock.json")].concat())
    );
    let modules = dir.join("node_modules");
    let stamp = modules.join(".synod-installed");
    let fresh = || {
        fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want)
            && modules.join("oidc-provider").join("package.json").is_file()
    };
    if fresh() {
        return;
    }
    let lock_path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("synod-auth-test-server-npm.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap_or_else(|err| panic!("cannot open {}: {err}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|err| panic!("cannot lock {}: {err}", lock_path.display()));
    if fresh() {
        return;
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    eprintln!(
        "installing the test authorization server: `npm ci --no-audit --no-fund` in {}",
        dir.display()
    );
    let output = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run `{npm} ci` in {}: {err}; the auth tests need Node.js 20+ with npm on PATH",
                dir.display()
            )
        });
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "`{npm} ci --no-audit --no-fund` failed in {} ({}); the auth tests need it to install \
             the test authorization server (network access to the npm registry, Node.js 20+). \
             npm said:\n{}",
            dir.display(),
            output.status,
            tail.join("\n")
        );
    }
    let tmp = modules.join(format!(".synod-installed.{}", std::process::id()));
    fs::write(&tmp, &want)
        .and_then(|()| fs::rename(&tmp, &stamp))
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", stamp.display()));
    drop(lock);
}

/// FNV-1a 64.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            if !log.is_empty() {
                eprintln!("--- test authorization server stderr ---\n{log}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Plays the user in a browser: a cookie jar and no automatic redirects.
pub struct User {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    origin: String,
}

impl User {
    pub fn new(issuer: &str) -> User {
        User {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
            origin: issuer.trim_end_matches('/').to_owned(),
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.origin)
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> (u16, Option<String>, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header("cookie", cookie)
            .send()
            .await
            .expect("verification page request");
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| self.absolute(l));
        let body = response.text().await.unwrap_or_default();
        (status, location, body)
    }

    async fn get(&mut self, url: &str) -> (u16, Option<String>, String) {
        let request = self.http.get(url);
        self.send(request).await
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Enter the user code on the verification page; returns the confirm page's xsrf.
    async fn enter_code(&mut self, verification_uri: &str, user_code: &str) -> String {
        let (status, _, page) = self.get(verification_uri).await;
        assert_eq!(status, 200, "verification page: {page}");
        let xsrf = hidden(&page, "xsrf");
        let (status, _, page) = self
            .post(
                verification_uri,
                &[("xsrf", &xsrf), ("user_code", user_code)],
            )
            .await;
        assert_eq!(status, 200, "user code form: {page}");
        assert!(
            page.contains("op.deviceConfirmForm"),
            "no confirm form: {page}"
        );
        hidden(&page, "xsrf")
    }

    /// Approve the login: enter the code, confirm, log in as `login`, consent.
    pub async fn approve(&mut self, verification_uri: &str, user_code: &str, login: &str) {
        let xsrf = self.enter_code(verification_uri, user_code).await;
        let (status, mut location, page) = self
            .post(
                verification_uri,
                &[
                    ("xsrf", &xsrf),
                    ("user_code", user_code),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(status, 303, "confirm: {page}");
        for _ in 0..10 {
            let url = location.take().expect("redirect");
            let (status, next, page) = self.get(&url).await;
            if status == 200 && page.contains("Sign-in Success") {
                return;
            }
            if status == 303 || status == 302 {
                location = next;
                continue;
            }
            assert_eq!(status, 200, "{url}: {page}");
            let details: Value = serde_json::from_str(&page).expect("interaction JSON");
            let action = match details["prompt"].as_str() {
                Some("login") => "login",
                Some("consent") => "confirm",
                other => panic!("unexpected prompt {other:?}"),
            };
            let (status, next, page) = self
                .post(&format!("{url}/{action}"), &[("login", login)])
                .await;
            assert_eq!(status, 303, "{action}: {page}");
            location = next;
        }
        panic!("the verification flow did not finish");
    }

    /// Deny the login on the confirmation page ("Abort").
    pub async fn deny(&mut self, verification_uri: &str, user_code: &str) {
        let xsrf = self.enter_code(verification_uri, user_code).await;
        let (status, _, page) = self
            .post(
                verification_uri,
                &[
                    ("xsrf", &xsrf),
                    ("user_code", user_code),
                    ("confirm", "yes"),
                    ("abort", "yes"),
                ],
            )
            .await;
        assert!(status < 500, "abort: {status} {page}");
    }
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in page: {page}"))
        + marker.len();
    let end = page[start..].find('"').expect("closing quote") + start;
    page[start..end].to_owned()
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Milliseconds between consecutive events.
pub fn gaps_ms(events: &[Value]) -> Vec<i64> {
    events
        .windows(2)
        .map(|w| w[1]["at_ms"].as_i64().unwrap_or(0) - w[0]["at_ms"].as_i64().unwrap_or(0))
        .collect()
}
