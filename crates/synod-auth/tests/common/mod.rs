//! Test harness: the real authorization server (oidc-provider, see tests/server/server.mjs)
//! as a child process on 127.0.0.1, and a "user" that completes its verification pages over
//! HTTP. Shared by synod-auth's and synod-cli's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
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
        assert!(
            dir.join("node_modules").join("oidc-provider").is_dir(),
            "the test authorization server is not installed: run `npm ci --prefix crates/synod-auth/tests/server` \
             from the workspace root (missing {})",
            dir.join("node_modules").display()
        );
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

    /// Token requests of one grant type, in order.
    pub async fn token_events(&self, grant_type: &str) -> Vec<Value> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e["event"] == "token" && e["grant_type"] == grant_type)
            .collect()
    }
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
