//! What both watchdog variants share: the marker variable and the hidden command's arguments.

/// The environment variable that marks a run's agents.
pub(crate) const MARKER_VAR: &str = "SYNOD_WATCHDOG";

/// Arguments of the hidden `synod __watchdog` command.
#[derive(Debug, clap::Args)]
pub(crate) struct WatchdogArgs {
    /// Pid of the `synod run` to watch.
    #[arg(long)]
    pub(crate) parent: u32,
    /// Value of `SYNOD_WATCHDOG` the run's agents carry.
    #[arg(long)]
    pub(crate) marker: String,
    /// How often to check the parent, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub(crate) poll_ms: u64,
}
