//! Windows: every child runs in its own job object, and stopping it stops every process it
//! started.
//!
//! A job object is the Windows kernel's container for a process tree: a process started by a
//! process in a job is in that job too, and cannot leave it (the job does not allow
//! breakaway). Each child gets a new job with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` (closing
//! the last handle to the job, which only this process holds, kills everything in it, also
//! when this process crashes) and `JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION` (a crashing
//! agent exits instead of waiting on an error-report dialog).
//!
//! The race between spawning and assigning: a child assigned to its job after it started
//! could start a grandchild first, outside the job. So the child is created suspended
//! (`CREATE_SUSPENDED`: its first thread has not run a single instruction), put in the job,
//! and only then resumed (its threads are found with the ToolHelp API, as std does not hand
//! out the thread handle). If the assignment or the resume fails, the suspended child is
//! terminated and the spawn reports the error.
//!
//! Stopping (timeout, cancellation, a dropped future or `Running`, `Running::kill`, or the
//! leader exiting with processes left in its job) is `TerminateJobObject`: every process in
//! the job ends at once with exit code 1 (as `taskkill /F` leaves it). Windows has no SIGTERM
//! for console programs, so the kill grace is not used; the wait that follows is for the
//! processes to be gone. Each child is also created with `CREATE_NEW_PROCESS_GROUP`, so a
//! Ctrl+C typed in this process's console reaches this process only (as on Unix, where the
//! child leads its own process group), which decides whether to cancel.
//!
//! This is the only module with `unsafe` code: the Win32 calls, through `windows-sys`.
#![allow(unsafe_code)]

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::Child;
use tokio::time::Instant;
use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectBasicAccountingInformation,
    JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, OpenThread, ResumeThread, THREAD_SUSPEND_RESUME,
};

use crate::command::AgentCommand;
use crate::error::{Error, Result};
use crate::run::spawn_error;
use crate::shim;

/// The exit code of processes stopped through their job.
const KILLED_EXIT_CODE: u32 = 1;

/// Longest wait for the processes of a terminated job to be gone.
const GONE_LIMIT: Duration = Duration::from_secs(5);

/// Longest pause between two checks for a job's survivors.
const POLL_MAX: Duration = Duration::from_millis(20);

/// A job object handle (closed, killing what is left in the job, when dropped).
#[derive(Debug)]
struct Job(OwnedHandle);

impl Job {
    /// A new, unnamed job that kills its processes when closed.
    fn new() -> io::Result<Self> {
        // SAFETY: null security attributes (default security, handle not inheritable) and a
        // null name are valid arguments; the handle is checked before use.
        let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if raw.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a valid handle that nothing else owns; OwnedHandle closes it once.
        let job = Job(unsafe { OwnedHandle::from_raw_handle(raw) });
        let mut info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        info.BasicLimitInformation.LimitFlags =
            JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
        // SAFETY: `info` is a live JOBOBJECT_EXTENDED_LIMIT_INFORMATION, the structure this
        // information class takes, and the size passed is its size.
        let ok = unsafe {
            SetInformationJobObject(
                job.raw(),
                JobObjectExtendedLimitInformation,
                (&raw const info).cast(),
                size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(job)
    }

    fn raw(&self) -> HANDLE {
        self.0.as_raw_handle()
    }

    /// Puts the process behind `process` into the job.
    fn assign(&self, process: RawHandle) -> io::Result<()> {
        // SAFETY: both handles are valid for the duration of the call (the job is owned by
        // self, the process handle by the caller's `Child`).
        if unsafe { AssignProcessToJobObject(self.raw(), process) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Ends every process in the job.
    fn terminate(&self) -> io::Result<()> {
        // SAFETY: the job handle is valid (owned by self).
        if unsafe { TerminateJobObject(self.raw(), KILLED_EXIT_CODE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// How many processes in the job have not exited; `None` when the query fails.
    fn active_processes(&self) -> Option<u32> {
        let mut info = JOBOBJECT_BASIC_ACCOUNTING_INFORMATION::default();
        // SAFETY: `info` is a live JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, the structure this
        // class fills, of the size passed; the returned-length pointer may be null.
        let ok = unsafe {
            QueryInformationJobObject(
                self.raw(),
                JobObjectBasicAccountingInformation,
                (&raw mut info).cast(),
                size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
                std::ptr::null_mut(),
            )
        };
        (ok != 0).then_some(info.ActiveProcesses)
    }

    /// Waits (at most [`GONE_LIMIT`]) for the job to hold no running process.
    async fn gone(&self) {
        let deadline = Instant::now() + GONE_LIMIT;
        let mut pause = Duration::from_millis(1);
        loop {
            match self.active_processes() {
                Some(0) => return,
                None => {
                    tracing::debug!("cannot query the job object; not waiting for its processes");
                    return;
                }
                Some(left) => {
                    let now = Instant::now();
                    if now >= deadline {
                        tracing::warn!(left, "processes of a terminated job object still run");
                        return;
                    }
                    tokio::time::sleep(pause.min(deadline - now)).await;
                    pause = (pause * 2).min(POLL_MAX);
                }
            }
        }
    }
}

/// Resumes every thread of process `pid` (created suspended: it has one).
fn resume_threads(pid: u32) -> io::Result<()> {
    // SAFETY: a thread snapshot of the whole system; the handle is checked before use.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if raw == INVALID_HANDLE_VALUE || raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a valid handle that nothing else owns.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(raw) };
    let mut entry = THREADENTRY32 {
        dwSize: size_of::<THREADENTRY32>() as u32,
        ..THREADENTRY32::default()
    };
    let mut resumed = 0;
    // SAFETY: a valid snapshot handle and a live THREADENTRY32 with dwSize set.
    let mut more = unsafe { Thread32First(snapshot.as_raw_handle(), &raw mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: plain call; the handle is checked before use.
            let thread = unsafe { OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID) };
            if thread.is_null() {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `thread` is a valid handle that nothing else owns.
            let thread = unsafe { OwnedHandle::from_raw_handle(thread) };
            // SAFETY: a valid thread handle opened with THREAD_SUSPEND_RESUME.
            if unsafe { ResumeThread(thread.as_raw_handle()) } == u32::MAX {
                return Err(io::Error::last_os_error());
            }
            resumed += 1;
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot.as_raw_handle(), &raw mut entry) } != 0;
    }
    if resumed == 0 {
        return Err(io::Error::other(format!(
            "no thread of the new process {pid} was found to resume"
        )));
    }
    Ok(())
}

/// Puts the suspended `child` in `job`, then lets it run.
fn adopt(job: &Job, child: &Child, pid: u32) -> io::Result<()> {
    let handle = child
        .raw_handle()
        .ok_or_else(|| io::Error::other("the new process has no handle"))?;
    job.assign(handle)?;
    resume_threads(pid)
}

/// Descendants need no tracking on Windows: the job holds them all. Present so that the
/// supervision loop is the same on every system.
#[derive(Debug, Default)]
pub(crate) struct Tracker;

impl Tracker {
    /// Always `false`: nothing to poll.
    pub(crate) fn enabled(&self) -> bool {
        false
    }

    /// Nothing to record.
    pub(crate) fn scan_now(&mut self) {}
}

/// Owns a spawned child and its job until the run ends; terminates the job when dropped
/// before [`ChildGuard::disarm`] (and closing the job kills whatever is left in any case).
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Child,
    job: Job,
    pid: u32,
    /// Unused on Windows (no SIGTERM): kept for the shared supervision code.
    pub(crate) grace: Duration,
    tracker: Tracker,
    armed: bool,
}

impl ChildGuard {
    /// Spawns `cmd` suspended, puts it in a new job object, and resumes it. A batch file is
    /// resolved first ([`shim::resolve`]).
    pub(crate) fn spawn(cmd: &AgentCommand, program: &str) -> Result<Self> {
        let launch = shim::resolve(cmd)?;
        let mut command = cmd.to_tokio(launch.as_ref());
        command.creation_flags(CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP);
        let job = Job::new().map_err(|e| Error::io(program, "creating a job object for", e))?;
        let mut child = command.spawn().map_err(|e| spawn_error(cmd, program, e))?;
        let Some(pid) = child.id() else {
            return Err(Error::io(
                program,
                "spawning",
                io::Error::other("the new process has no id"),
            ));
        };
        if let Err(e) = adopt(&job, &child, pid) {
            // Still suspended: it has run nothing, and ends here.
            let _ = child.start_kill();
            return Err(Error::io(program, "putting in its job object", e));
        }
        Ok(Self {
            child,
            job,
            pid,
            grace: cmd.kill_grace,
            tracker: Tracker,
            armed: true,
        })
    }

    /// The leader's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The child and its (empty) tracker, borrowed together.
    pub(crate) fn parts(&mut self) -> (&mut Child, &mut Tracker) {
        (&mut self.child, &mut self.tracker)
    }

    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Whether the leader (already exited) left running processes in its job.
    pub(crate) fn leftovers(&mut self) -> bool {
        self.job.active_processes() != Some(0)
    }

    /// Terminates what the exited leader left in its job.
    pub(crate) async fn stop_leftovers(&mut self) -> io::Result<()> {
        self.job.terminate()?;
        self.job.gone().await;
        Ok(())
    }

    /// Terminates the job (leader included) and returns the leader's exit status.
    pub(crate) async fn stop(&mut self) -> io::Result<ExitStatus> {
        if let Err(e) = self.job.terminate() {
            // The job is unusable: end the leader at least (its handle is ours).
            tracing::warn!(pid = self.pid, error = %e, "terminating the job object failed");
            self.child.start_kill()?;
        }
        let status = self.child.wait().await?;
        self.job.gone().await;
        Ok(status)
    }

    /// The child has exited and its job is empty: nothing to clean up on drop.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.armed {
            tracing::debug!(pid = self.pid, "dropped while running: terminating its job");
            if self.job.terminate().is_err() {
                let _ = self.child.start_kill();
            }
        }
        // Closing the job handle (dropping `self.job`) kills anything still in it.
    }
}
