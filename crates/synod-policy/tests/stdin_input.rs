//! Standard input is read as a message file is, up to the limit and named `stdin` in the
//! error: this test binary runs itself as a child with a pipe on its stdin.

use std::io::Write;
use std::process::{Command, Stdio};

use synod_policy::input::read_stdin_limited;

const CHILD: &str = "SYNOD_POLICY_STDIN_LIMIT";

/// In the child (the variable set): reads stdin with the limit given and prints the outcome.
#[test]
fn child_reads_stdin() {
    let Some(limit) = std::env::var_os(CHILD) else {
        return;
    };
    let limit: u64 = limit.to_str().unwrap().parse().unwrap();
    match read_stdin_limited(limit) {
        Ok(bytes) => println!("\noutcome: read {:?}", String::from_utf8_lossy(&bytes)),
        Err(err) => println!("\noutcome: error {err}"),
    }
}

fn feed(input: &[u8], limit: u64) -> String {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_reads_stdin",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, limit.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("outcome: "))
        .unwrap_or_else(|| panic!("no outcome in: {stdout}"))
        .to_owned()
}

#[test]
fn stdin_is_read_whole_up_to_the_limit() {
    assert_eq!(feed(b"feat: x\n", 8), r#"read "feat: x\n""#);
    assert_eq!(feed(b"", 8), r#"read """#);
}

#[test]
fn stdin_past_the_limit_is_too_large_and_named_stdin() {
    let outcome = feed(b"feat: xy\n", 8);
    assert!(
        outcome.starts_with("error stdin is larger than the 8-byte input limit"),
        "{outcome}"
    );
}
