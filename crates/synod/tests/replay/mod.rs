//! Stand-ins for the real agent CLIs that replay their recorded transcripts
//! (`crates/synod-agents/tests/transcripts/`), shared by the tests that run them through the
//! Orchestrator.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The recorded transcripts of the real CLIs.
pub(crate) fn transcripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../synod-agents/tests/transcripts")
}

/// An executable named `name` in `dir` that prints the recorded `transcript` (stdout and
/// stderr) and exits with its recorded code, as the real CLI did.
pub(crate) fn replay(dir: &Path, name: &str, transcript: &str) -> PathBuf {
    let file = |ext: &str| transcripts().join(format!("{transcript}.{ext}"));
    let exit = std::fs::read_to_string(file("exit"))
        .map_or_else(|_| "0".to_owned(), |s| s.trim().to_owned());
    let bin = dir.join(name);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\ncat >/dev/null\ncat '{}'\ncat '{}' >&2\nexit {exit}\n",
            file("stdout").display(),
            file("stderr").display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}
