//! The signals `synod run` turns into a clean cancellation, and SIGXFSZ.
//!
//! - **Unix** (Linux, macOS): Ctrl-C (SIGINT), SIGTERM, SIGHUP (the terminal or ssh session
//!   closed) and SIGQUIT (Ctrl-\\). Each cancels the run: the agents are stopped and the run
//!   is recorded as cancelled. SIGKILL cannot be caught; the run watchdog covers it on Linux
//!   (see `watchdog`).
//! - **Windows**: Ctrl-C and Ctrl-Break cancel the run the same way. Closing the console window
//!   (`CTRL_CLOSE_EVENT`) starts the same cancellation, but Windows ends the process moments
//!   after the handler returns, so the run may not get recorded; the agents still end with it,
//!   because each runs in a job object that kills its whole tree when synod's handle to it
//!   closes (synod-exec). Windows sends console programs no SIGTERM or SIGHUP: `taskkill /F`
//!   and a logoff or shutdown end synod at once, and the job objects stop the agents. SIGXFSZ
//!   does not exist there (a write past a quota fails with an error).

/// The handlers that cancel a run; see the module docs.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    handlers: Vec<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    ctrl_c: Option<tokio::signal::windows::CtrlC>,
    #[cfg(windows)]
    ctrl_break: Option<tokio::signal::windows::CtrlBreak>,
    #[cfg(windows)]
    ctrl_close: Option<tokio::signal::windows::CtrlClose>,
}

impl StopSignals {
    /// Installs the handlers (they replace the default "terminate the process" action), so a
    /// signal that arrives before [`StopSignals::recv`] is polled is not lost.
    pub(crate) fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let kinds = [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
                SignalKind::quit(),
            ];
            Self {
                handlers: kinds.into_iter().filter_map(|k| signal(k).ok()).collect(),
            }
        }
        #[cfg(windows)]
        {
            use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
            Self {
                ctrl_c: ctrl_c().ok(),
                ctrl_break: ctrl_break().ok(),
                ctrl_close: ctrl_close().ok(),
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            Self {}
        }
    }

    /// Resolves when any of the signals arrives (never, if no handler could be installed).
    pub(crate) async fn recv(mut self) {
        #[cfg(unix)]
        {
            if self.handlers.is_empty() {
                std::future::pending::<()>().await;
            }
            let waits = self.handlers.iter_mut().map(|s| Box::pin(s.recv()));
            let _ = futures::future::select_all(waits).await;
        }
        #[cfg(windows)]
        {
            // A listener that is missing (or whose stream ended) never resolves.
            let ctrl_c = async {
                let got = match &mut self.ctrl_c {
                    Some(s) => s.recv().await.is_some(),
                    None => false,
                };
                if !got {
                    std::future::pending::<()>().await;
                }
            };
            let ctrl_break = async {
                let got = match &mut self.ctrl_break {
                    Some(s) => s.recv().await.is_some(),
                    None => false,
                };
                if !got {
                    std::future::pending::<()>().await;
                }
            };
            let ctrl_close = async {
                let got = match &mut self.ctrl_close {
                    Some(s) => s.recv().await.is_some(),
                    None => false,
                };
                if !got {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = ctrl_c => {}
                () = ctrl_break => {}
                () = ctrl_close => {}
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            std::future::pending::<()>().await;
        }
    }
}

/// A write past `ulimit -f` (RLIMIT_FSIZE) raises SIGXFSZ, whose default action kills the
/// process without a word. With a handler installed the write fails with `EFBIG` instead, and
/// the store reports it like a full disk: a clear error, and the stage kept aside. Nothing to
/// do on Windows, which has no such signal.
pub(crate) fn survive_file_size_limits() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let xfsz = SignalKind::from_raw(nix::sys::signal::Signal::SIGXFSZ as i32);
        // The handler stays installed for the life of the process; the stream is not needed.
        let _ = signal(xfsz);
    }
}
