//! Head-to-head benchmarks for the policy layer.
//!
//! - `policy/parse_check/{synod,raw}`: clean + parse + check every message of the commitlint
//!   corpus (208 messages; throughput in messages/s). `raw` is the floor any checker pays:
//!   split lines and the header at `": "` and test the header length, nothing else.
//! - `policy/parse/synod`: cleaning and parsing alone.
//! - `policy/forbidden_words/{synod,raw}`: whole-word, case-insensitive search of a 5-word
//!   list over the corpus vs. lower-casing and `str::contains` (which also matches inside
//!   words, so it is a floor, not an equivalent).
//! - `policy/hook_commit_msg/{synod,raw}`: the commit-msg hook end to end as git runs it,
//!   process start to exit: the release `synod hook commit-msg FILE` vs. `sh -c 'exit 0'` (the
//!   floor of any hook). Needs `cargo build --release -p synod-cli` first (or `SYNOD_BIN`);
//!   skipped with a note otherwise.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synod::policy::CommitRules;
use synod::policy::message::{self, Cleanup};
use synod::policy::words::WordList;

fn corpus() -> Vec<String> {
    serde_json::from_str(include_str!(
        "../../crates/synod-policy/tests/fixtures/commit-messages.json"
    ))
    .expect("corpus is a JSON array of strings")
}

fn raw_check(message: &str) -> (bool, usize) {
    let mut lines = message.lines();
    let header = lines.next().unwrap_or("");
    let conventional = header.split_once(": ").is_some();
    (conventional && header.len() <= 100, lines.count())
}

fn parse_check(c: &mut Criterion) {
    let messages = corpus();
    let rules = CommitRules::default();
    let mut group = c.benchmark_group("policy/parse_check");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("synod", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(rules.check_text(black_box(m)));
            }
        });
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(raw_check(black_box(m)));
            }
        });
    });
    group.finish();

    let mut group = c.benchmark_group("policy/parse");
    group.throughput(Throughput::Elements(messages.len() as u64));
    let cleanup = Cleanup::default();
    group.bench_function("synod", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(message::parse(black_box(m), &cleanup));
            }
        });
    });
    group.finish();
}

fn forbidden_words(c: &mut Criterion) {
    let messages = corpus();
    let words = ["ai", "llm", "chatgpt", "copilot", "as an assistant"];
    let list = WordList::new(words);
    let mut group = c.benchmark_group("policy/forbidden_words");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("synod", |b| {
        b.iter(|| {
            let mut hits = 0;
            for m in &messages {
                for line in m.lines() {
                    hits += list.find(black_box(line)).len();
                }
            }
            black_box(hits)
        });
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            let mut hits = 0;
            for m in &messages {
                let lower = black_box(m).to_lowercase();
                hits += words.iter().filter(|w| lower.contains(*w)).count();
            }
            black_box(hits)
        });
    });
    group.finish();
}

fn synod_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SYNOD_BIN") {
        return Some(PathBuf::from(path));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bin = target.join("release").join("synod");
    bin.is_file().then_some(bin)
}

fn hook_commit_msg(c: &mut Criterion) {
    let Some(bin) = synod_bin() else {
        eprintln!(
            "policy/hook_commit_msg skipped: build the release binary first (cargo build --release -p synod-cli) or set SYNOD_BIN"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("COMMIT_EDITMSG");
    std::fs::write(
        &file,
        "feat(policy): check commit messages\n\nA body line.\n\nRefs #8\n# Please enter the commit message\n",
    )
    .expect("write message");
    // A repository so `git config core.commentChar` behaves as in a real hook.
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .expect("git init");
    assert!(status.success());
    let run = |cmd: &mut Command| {
        let status = cmd.status().expect("process runs");
        assert!(status.success());
    };
    let mut group = c.benchmark_group("policy/hook_commit_msg");
    group.bench_function("synod", |b| {
        b.iter(|| {
            run(Command::new(&bin)
                .args(["hook", "commit-msg"])
                .arg(&file)
                .current_dir(dir.path()));
        });
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            run(Command::new("sh")
                .args(["-c", "exit 0"])
                .current_dir(dir.path()));
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse_check, forbidden_words, hook_commit_msg
}
criterion_main!(benches);
