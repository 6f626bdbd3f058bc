//! The run watchdog where there is none (every target but Unix): the same interface as
//! `watchdog.rs`, no helper process.
//!
//! On Windows none is needed: synod-exec runs every agent in a job object that kills the
//! agent's whole process tree when its last handle closes, and the kernel closes synod's
//! handles when synod dies, however it dies (`taskkill /F`, a crash, the console closing). So
//! a killed `synod run` leaves no agent behind without a helper. `synod __watchdog` exits
//! with an error there, naming this.

use std::process::ExitCode;

pub(crate) use crate::watchdog_args::{MARKER_VAR, WatchdogArgs};

/// Refuses: there is no watchdog on this platform (see the module docs).
#[allow(clippy::unused_async)] // the same signature as the Unix watchdog's
pub(crate) async fn run(args: &WatchdogArgs) -> ExitCode {
    let _ = (args.parent, &args.marker, args.poll_ms);
    eprintln!(
        "error: synod __watchdog runs on Unix only; here every agent's job object stops its \
         process tree when synod exits or is killed"
    );
    ExitCode::from(2)
}

/// A running watchdog: none can exist on this platform.
pub(crate) enum Guard {}

impl Guard {
    /// Always `None`: the job objects already stop the agents if `synod run` is killed.
    pub(crate) fn start() -> Option<Guard> {
        None
    }

    /// The marker value agents must carry in [`MARKER_VAR`].
    pub(crate) fn marker(&self) -> &str {
        match *self {}
    }

    /// Stops the watchdog.
    #[allow(clippy::unused_async)] // the same signature as the Unix watchdog's
    pub(crate) async fn stop(self) {
        match self {}
    }
}
