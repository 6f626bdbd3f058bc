//! Head-to-head benchmarks for the config layer.
//!
//! - `config/load/{synod,synod_cold,raw}`: a 5 KB TOML file plus 20 `SYNOD_*` variables into a
//!   struct. synod adds provenance, strict schema validation and secret checks; `synod` reuses
//!   its loader (schema compiled once, as the watcher does), `synod_cold` builds a new loader
//!   each time (schema generated and compiled inside the timing); `raw` is plain config-rs
//!   (build + deserialize).
//! - `config/validate/{synod,raw,raw_compile_each}`: validating the same document as JSON with
//!   the compiled schema, against jsonschema with the validator reused or compiled every time.
//! - `config/reload_latency/synod`: file save (write a temporary file, rename it over the config)
//!   to `ReloadEvent::Applied` with the new value current, at a 50 ms debounce.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use synod::config::{
    CompiledSchema, JsonSchema, Loader, ReloadEvent, Secret, WatchOptions, Watcher,
};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "synod::config::schemars")]
#[serde(default)]
struct BenchConfig {
    version: u32,
    log_level: String,
    max_tokens: u32,
    server: Server,
    agents: Vec<Agent>,
    labels: BTreeMap<String, String>,
    api_token: Option<Secret>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            version: 1,
            log_level: "warn".into(),
            max_tokens: 1000,
            server: Server::default(),
            agents: Vec::new(),
            labels: BTreeMap::new(),
            api_token: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "synod::config::schemars")]
#[serde(default)]
struct Server {
    host: String,
    port: u16,
    request_timeout_ms: u64,
    tls: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "synod::config::schemars")]
#[serde(default)]
struct Agent {
    name: String,
    model: String,
    command: String,
    args: Vec<String>,
    timeout_secs: u32,
    max_retries: u32,
    enabled: bool,
    temperature: f64,
}

/// About 5 KB of TOML: a server table, 20 agents, 20 labels.
fn toml_5k() -> String {
    let mut s = String::from(
        "version = 1\nlog_level = \"info\"\nmax_tokens = 4096\n\n[server]\nhost = \"0.0.0.0\"\nport = 8080\nrequest_timeout_ms = 1500\ntls = true\n\n[labels]\n",
    );
    for i in 0..20 {
        s.push_str(&format!("team{i} = \"platform-{i}\"\n"));
    }
    for i in 0..20 {
        s.push_str(&format!(
            "\n[[agents]]\nname = \"agent-{i:02}\"\nmodel = \"provider/model-large-{i}\"\ncommand = \"/usr/local/bin/agent-cli\"\nargs = [\"--json\", \"--quiet\", \"--profile=p{i}\"]\ntimeout_secs = {}\nmax_retries = 3\nenabled = true\ntemperature = 0.{}\n",
            30 + i,
            i % 10
        ));
    }
    s
}

fn env_20() -> Vec<(String, String)> {
    let mut vars = vec![
        ("SYNOD_MAX_TOKENS".to_owned(), "8192".to_owned()),
        ("SYNOD_SERVER__PORT".to_owned(), "9090".to_owned()),
        ("SYNOD_LOG_LEVEL".to_owned(), "debug".to_owned()),
    ];
    for i in 0..17 {
        vars.push((format!("SYNOD_LABELS__ENV{i}"), format!("value-{i}")));
    }
    vars
}

fn loader(path: &Path, env: &[(String, String)]) -> Loader<BenchConfig> {
    Loader::<BenchConfig>::new()
        .file(path)
        .env_source(env.iter().cloned())
}

fn raw_load(path: &Path, env: &[(String, String)]) -> BenchConfig {
    let map: config::Map<String, String> = env.iter().cloned().collect();
    config::Config::builder()
        .add_source(config::File::from(path))
        .add_source(
            config::Environment::with_prefix("SYNOD")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(map)),
        )
        .build()
        .and_then(config::Config::try_deserialize)
        .unwrap_or_else(|e| panic!("config-rs: {e}"))
}

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = toml_5k();
    assert!(
        (4500..6500).contains(&text.len()),
        "document is {} bytes",
        text.len()
    );
    let path = dir.path().join("synod.toml");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let env = env_20();

    // Both contenders must agree before being timed.
    let warm = loader(&path, &env);
    let ours = warm.load().unwrap_or_else(|e| panic!("synod: {e}")).value;
    let theirs = raw_load(&path, &env);
    assert_eq!(ours.max_tokens, theirs.max_tokens);
    assert_eq!(ours.server.port, 9090);
    assert_eq!(ours.labels.len(), theirs.labels.len());
    assert_eq!(ours.agents.len(), 20);

    let mut g = c.benchmark_group("config/load");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    g.bench_function("synod", |b| {
        b.iter(|| black_box(warm.load().map(|l| l.value)));
    });
    g.bench_function("synod_cold", |b| {
        b.iter(|| black_box(loader(black_box(&path), &env).load().map(|l| l.value)));
    });
    g.bench_function("raw", |b| {
        b.iter(|| black_box(raw_load(black_box(&path), &env)));
    });
    g.finish();
}

fn validate(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("synod.toml");
    std::fs::write(&path, toml_5k()).unwrap_or_else(|e| panic!("{e}"));
    let value = loader(&path, &[])
        .load()
        .unwrap_or_else(|e| panic!("{e}"))
        .value;
    let doc = serde_json::to_value(&value).unwrap_or_else(|e| panic!("{e}"));
    assert!(serde_json::to_string(&doc).map(|s| s.len()).unwrap_or(0) > 4000);

    let ours = CompiledSchema::for_type::<BenchConfig>().unwrap_or_else(|e| panic!("{e}"));
    let schema = ours.schema().clone();
    let raw = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"));
    assert!(ours.validate(&doc).is_ok() && raw.is_valid(&doc));

    let mut g = c.benchmark_group("config/validate");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    g.bench_function("synod", |b| {
        b.iter(|| black_box(ours.validate(black_box(&doc)).is_ok()));
    });
    g.bench_function("raw", |b| {
        b.iter(|| black_box(raw.validate(black_box(&doc)).is_ok()));
    });
    g.bench_function("raw_compile_each", |b| {
        b.iter(|| {
            let v = jsonschema::validator_for(black_box(&schema)).unwrap_or_else(|e| panic!("{e}"));
            black_box(v.validate(black_box(&doc)).is_ok())
        });
    });
    g.finish();
}

fn reload_latency(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("synod.toml");
    let tmp = dir.path().join(".synod.toml.tmp");
    std::fs::write(&path, "max_tokens = 0\n").unwrap_or_else(|e| panic!("{e}"));
    let watcher = Watcher::start(
        Loader::<BenchConfig>::new()
            .file(&path)
            .env_source(Vec::<(String, String)>::new()),
        WatchOptions::default().debounce(Duration::from_millis(50)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut events = watcher.events();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0u64;

    let mut g = c.benchmark_group("config/reload_latency");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    g.bench_function("synod", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let text = format!("max_tokens = {n}\n");
                let start = Instant::now();
                // Write then rename, as editors and config tools save: the watcher never sees a
                // half-written file, and each iteration yields exactly one `Applied`.
                std::fs::write(&tmp, &text).unwrap_or_else(|e| panic!("{e}"));
                std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("{e}"));
                rt.block_on(async {
                    loop {
                        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                            Ok(Ok(ReloadEvent::Applied { .. }))
                                if u64::from(watcher.current().max_tokens) == n =>
                            {
                                break;
                            }
                            // An earlier save's event: keep waiting for this one.
                            Ok(Ok(ReloadEvent::Applied { .. })) => {}
                            Ok(Ok(other)) => panic!("unexpected {other:?}"),
                            Ok(Err(e)) => panic!("{e}"),
                            Err(_) => panic!("no Applied within 10 s"),
                        }
                    }
                });
                total += start.elapsed();
            }
            total
        });
    });
    g.finish();
    assert_eq!(u64::from(watcher.current().max_tokens), n);
}

criterion_group!(benches, load, validate, reload_latency);
criterion_main!(benches);
