//! synod-config alone: load `synod.toml` with provenance, then watch it and hot-reload a
//! change; a broken edit is rejected and the last good config stays current.
//!
//! `cargo run -p synod-examples --example config_hot_reload`
use std::time::Duration;

use synod::config::{ReloadEvent, WatchOptions, Watcher};
use synod::orchestrator::LoadedConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("synod.toml");
    std::fs::write(
        &file,
        "[[agents]]\nname = \"claude\"\ncommand = \"claude\"\ntimeout = \"5m\"\n",
    )?;

    let loaded = LoadedConfig::load(Some(&file), &[])?;
    println!("{}", loaded.explain("agents.0.timeout")?);

    let watcher = Watcher::start(
        LoadedConfig::loader(Some(&file), &[]),
        WatchOptions::default().debounce(Duration::from_millis(50)),
    )?;
    let mut events = watcher.events();
    assert_eq!(watcher.current().agents[0].timeout.to_string(), "5m");

    // A valid edit is applied...
    std::fs::write(
        &file,
        "[[agents]]\nname = \"claude\"\ncommand = \"claude\"\ntimeout = \"90s\"\n",
    )?;
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await??;
    println!("after edit 1: {event:?}");
    assert!(matches!(event, ReloadEvent::Applied { .. }));
    assert_eq!(watcher.current().agents[0].timeout.to_string(), "90s");

    // ...a broken one is rejected, and the last good config stays.
    std::fs::write(
        &file,
        "[[agents]]\nname = \"claude\"\ncommand = \"claude\"\ntimeout = \"soon\"\n",
    )?;
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await??;
    match &event {
        ReloadEvent::Rejected { error } => println!("after edit 2: rejected: {error}"),
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }
    assert_eq!(watcher.current().agents[0].timeout.to_string(), "90s");
    Ok(())
}
