//! [`become_subreaper`]: make this process the child subreaper of everything it spawns, so
//! that no descendant of an agent can escape by being orphaned.
//!
//! Normally, when a process exits, its children are reparented to init (pid 1): a daemon
//! that double-forks, or a `setsid` child whose parent exits quickly, is then no longer
//! linked to the agent that started it. A child subreaper (Linux `prctl(PR_SET_CHILD_SUBREAPER)`,
//! since Linux 3.4) receives those orphans instead: they stay this process's children,
//! findable in `/proc`, and synod-exec stops them with the agent and reaps them (by exact
//! pid; it never calls `waitpid(-1)`, which would steal tokio's children).
//!
//! It is process-wide and cannot be scoped, so it is opt-in for library users: the `synod`
//! CLI turns it on for `synod run`. Once on, an orphan of *any* of this process's children
//! is reparented here, so:
//!
//! - children you spawn yourself (not through synod-exec) that leave this process's group
//!   (`process_group`, `setsid`) while an agent runs may be taken for that agent's orphans
//!   and stopped with it; spawn them through synod-exec (registered, never mistaken) or
//!   leave the subreaper off;
//! - orphans of your own children become zombies of this process until you reap them.
//!
//! Elsewhere: macOS has no subreaper (an orphan goes to launchd; only the process group and
//! the descendants seen while their parent lived can be stopped, and there is no `/proc`, so
//! only the process group is); FreeBSD has `procctl(PROC_REAP_ACQUIRE)`, which synod-exec
//! does not use yet. Windows needs none: each agent's job object holds every process it
//! starts, orphans included. On all these systems [`become_subreaper`] returns `Ok(false)`.
//!
//! ```
//! let on = synod_exec::become_subreaper()?;
//! assert_eq!(on, cfg!(target_os = "linux"));
//! assert_eq!(synod_exec::is_subreaper(), on);
//! # Ok::<(), synod_exec::Error>(())
//! ```

use crate::error::Result;

/// Makes this process a child subreaper (Linux); `Ok(true)` when it now is one, `Ok(false)`
/// on systems without the feature. See the [module docs](self) for what it changes.
pub fn become_subreaper() -> Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        nix::sys::prctl::set_child_subreaper(true).map_err(|errno| crate::Error::Subreaper {
            source: std::io::Error::from(errno),
        })?;
        tracing::debug!("this process is now a child subreaper");
        Ok(true)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        Ok(false)
    }
}

/// Whether this process is a child subreaper (always `false` off Linux).
pub fn is_subreaper() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        nix::sys::prctl::get_child_subreaper().unwrap_or(false)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        false
    }
}
