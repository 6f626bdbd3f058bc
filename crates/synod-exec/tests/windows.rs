//! Windows: each run's process tree lives in a job object and is gone after a timeout, a
//! cancellation, a dropped future, a dropped `Running`, `kill()`, or the leader exiting;
//! output, stdin, caps, classification and `run_all` behave as on Unix; npm `.cmd` shims run
//! the program they wrap, so a prompt full of `cmd.exe` syntax arrives unchanged.
//!
//! CI runs it under Wine (`.ci/windows/setup`). It has its own small harness
//! (`harness = false`) because the test binary is also the helper program its tests start:
//! with `SYNOD_EXEC_HELPER` set it acts as an agent, a child, a grandchild or an argument
//! echo, so nothing else needs to be built or installed. Processes are found with the
//! ToolHelp API (`tasklist` prints nothing under Wine).

fn main() {
    #[cfg(windows)]
    windows::main();
    #[cfg(not(windows))]
    println!("synod-exec Windows tests: nothing to run on this system (see the Unix tests)");
}

#[cfg(windows)]
mod windows {
    use std::collections::HashSet;
    use std::ffi::OsString;
    use std::future::Future;
    use std::io::{Read, Write};
    use std::path::{Path, PathBuf};
    use std::pin::Pin;
    use std::time::Duration;

    use futures::StreamExt;
    use synod_core::{Classify, ErrorClass};
    use synod_exec::{
        AgentCommand, CancellationToken, Error, Event, run, run_all, run_with_cancel, spawn,
    };

    /// Set (to a mode) when this binary runs as a helper.
    const HELPER_ENV: &str = "SYNOD_EXEC_HELPER";

    // ---- the harness -------------------------------------------------------------------

    type Test = fn() -> Pin<Box<dyn Future<Output = ()>>>;

    macro_rules! tests {
        ($($name:ident),* $(,)?) => {
            &[$((stringify!($name), || Box::pin($name()))),*]
        };
    }

    const TESTS: &[(&str, Test)] = tests![
        tree_is_gone_after_a_timeout,
        tree_is_gone_after_a_cancellation,
        tree_is_gone_after_the_future_is_dropped,
        tree_is_gone_after_running_is_dropped,
        tree_is_gone_after_kill,
        what_the_leader_leaves_behind_is_stopped,
        stdin_and_output_round_trip,
        non_zero_exits_are_classified,
        output_is_capped,
        spawn_streams_lines,
        run_all_keeps_order_and_bounds,
        a_missing_program_is_not_found,
        npm_node_shim_passes_the_prompt_unchanged,
        npm_exe_shim_passes_the_prompt_unchanged,
        an_unknown_batch_file_refuses_unsafe_arguments,
    ];

    pub(super) fn main() {
        if let Some(mode) = std::env::var_os(HELPER_ENV) {
            helper(&mode.to_string_lossy());
            return;
        }
        let filters: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let selected: Vec<_> = TESTS
            .iter()
            .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
            .collect();
        println!("\nrunning {} tests", selected.len());
        let mut failed = Vec::new();
        for (name, test) in selected {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(test())));
            drop(runtime);
            match outcome {
                Ok(()) => println!("test {name} ... ok"),
                Err(_) => {
                    println!("test {name} ... FAILED");
                    failed.push(*name);
                }
            }
        }
        if failed.is_empty() {
            println!("\ntest result: ok");
        } else {
            println!("\nfailures: {failed:?}\ntest result: FAILED");
            std::process::exit(101);
        }
    }

    // ---- the helper --------------------------------------------------------------------

    /// What this binary does as a helper. `tree N DIR`: start `tree N-1 DIR` (when N > 0),
    /// wait for it to be ready, write this pid to `DIR/pid-N`, then sleep; so `pid-N` appears
    /// only once the whole tree below it runs. `orphan DIR`: start `tree 1 DIR`, wait for it,
    /// exit 0. `echo-args`: each argument then a NUL on stdout. `cat`: stdin to stdout, then
    /// `cat done` on stderr. `fail`: `$SYNOD_EXEC_STDERR` on stderr, exit `$SYNOD_EXEC_EXIT`.
    /// `flood N`: N bytes of `x`. `lines`: `one\r\ntwo\nthree` (no final newline).
    fn helper(mode: &str) {
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        let arg = |i: usize| args.get(i).map(|a| a.to_string_lossy().into_owned());
        let mut out = std::io::stdout().lock();
        match mode {
            "tree" => {
                let depth: u32 = arg(0).and_then(|d| d.parse().ok()).unwrap_or(0);
                let dir = PathBuf::from(arg(1).unwrap_or_default());
                tree(depth, &dir);
            }
            "orphan" => {
                let dir = PathBuf::from(arg(0).unwrap_or_default());
                start_subtree(1, &dir);
            }
            "echo-args" => {
                for a in &args {
                    out.write_all(a.to_string_lossy().as_bytes()).unwrap();
                    out.write_all(b"\0").unwrap();
                }
            }
            "cat" => {
                let mut input = Vec::new();
                std::io::stdin().read_to_end(&mut input).unwrap();
                out.write_all(&input).unwrap();
                eprintln!("cat done");
            }
            "fail" => {
                eprint!("{}", std::env::var("SYNOD_EXEC_STDERR").unwrap_or_default());
                let code = std::env::var("SYNOD_EXEC_EXIT")
                    .ok()
                    .and_then(|c| c.parse().ok());
                std::process::exit(code.unwrap_or(1));
            }
            "flood" => {
                let n: usize = arg(0).and_then(|n| n.parse().ok()).unwrap_or(0);
                out.write_all(&vec![b'x'; n]).unwrap();
            }
            "lines" => out.write_all(b"one\r\ntwo\nthree").unwrap(),
            other => {
                eprintln!("unknown helper mode {other}");
                std::process::exit(2);
            }
        }
        out.flush().unwrap();
    }

    fn tree(depth: u32, dir: &Path) {
        if depth > 0 {
            start_subtree(depth - 1, dir);
        }
        let tmp = dir.join(format!("pid-{depth}.tmp"));
        std::fs::write(&tmp, format!("{}\n", std::process::id())).unwrap();
        std::fs::rename(&tmp, dir.join(format!("pid-{depth}"))).unwrap();
        std::thread::sleep(Duration::from_secs(300));
    }

    /// Starts `tree depth dir` (same stdio, so it holds the output pipes too) and waits (up
    /// to a minute) for its pid file.
    // The child outlives this helper on purpose (Windows has no zombies to reap).
    #[allow(clippy::zombie_processes)]
    fn start_subtree(depth: u32, dir: &Path) {
        std::process::Command::new(std::env::current_exe().unwrap())
            .arg(depth.to_string())
            .arg(dir)
            .env(HELPER_ENV, "tree")
            .spawn()
            .unwrap();
        let ready = dir.join(format!("pid-{depth}"));
        for _ in 0..6000 {
            if ready.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{} never appeared", ready.display());
    }

    // ---- processes, through ToolHelp ---------------------------------------------------

    /// Every process id the system lists now.
    #[allow(unsafe_code)]
    fn running_pids() -> HashSet<u32> {
        use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
        use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
        use windows_sys::Win32::System::Diagnostics::ToolHelp::{
            CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW,
            TH32CS_SNAPPROCESS,
        };
        // SAFETY: a process snapshot; the handle is checked before use.
        let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
        assert!(
            raw != INVALID_HANDLE_VALUE && !raw.is_null(),
            "no process snapshot"
        );
        // SAFETY: a valid handle nothing else owns.
        let snapshot = unsafe { OwnedHandle::from_raw_handle(raw) };
        let mut entry = PROCESSENTRY32W {
            dwSize: size_of::<PROCESSENTRY32W>() as u32,
            ..PROCESSENTRY32W::default()
        };
        let mut pids = HashSet::new();
        // SAFETY: a valid snapshot handle and a live entry with dwSize set.
        let mut more = unsafe { Process32FirstW(snapshot.as_raw_handle(), &raw mut entry) } != 0;
        while more {
            pids.insert(entry.th32ProcessID);
            // SAFETY: as above.
            more = unsafe { Process32NextW(snapshot.as_raw_handle(), &raw mut entry) } != 0;
        }
        pids
    }

    /// Waits (up to 10 s) until none of `pids` is listed.
    async fn assert_gone(pids: &[u32]) {
        let mut left = Vec::new();
        for _ in 0..1000 {
            let running = running_pids();
            left = pids
                .iter()
                .copied()
                .filter(|p| running.contains(p))
                .collect();
            if left.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("processes {left:?} of {pids:?} survived");
    }

    /// Waits (up to a minute) for `dir/pid-N` for each N in `depths`; their pids, which must
    /// all be running.
    async fn tree_pids(dir: &Path, depths: std::ops::RangeInclusive<u32>) -> Vec<u32> {
        let mut pids = Vec::new();
        for depth in depths {
            let path = dir.join(format!("pid-{depth}"));
            let mut found = None;
            for _ in 0..6000 {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    found = text.trim().parse::<u32>().ok();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            pids.push(found.unwrap_or_else(|| panic!("{} never appeared", path.display())));
        }
        let running = running_pids();
        assert!(
            pids.iter().all(|p| running.contains(p)),
            "{pids:?} not all running"
        );
        pids
    }

    fn helper_cmd(mode: &str) -> AgentCommand {
        AgentCommand::new(std::env::current_exe().unwrap()).env(HELPER_ENV, mode)
    }

    /// Agent (depth 2) -> child -> grandchild, all sleeping; every one holds the pipes.
    fn tree_cmd(dir: &Path) -> AgentCommand {
        helper_cmd("tree").arg("2").arg(dir)
    }

    // ---- process trees -----------------------------------------------------------------

    async fn tree_is_gone_after_a_timeout() {
        // The timeout must fire after the tree is up (pid-2 written): doubled until it does,
        // so the test holds on a slow machine without depending on its speed.
        let mut timeout = Duration::from_millis(500);
        loop {
            let dir = tempfile::tempdir().unwrap();
            let err = run(&tree_cmd(dir.path()).timeout(timeout))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Timeout { .. }), "{err}");
            if dir.path().join("pid-2").exists() {
                // Written only once the whole tree ran; stopped since.
                let pids = pids_written(dir.path(), 0..=2);
                assert_eq!(pids.len(), 3);
                assert_gone(&pids).await;
                return;
            }
            assert!(timeout < Duration::from_secs(60), "the tree never came up");
            timeout *= 2;
        }
    }

    async fn tree_is_gone_after_a_cancellation() {
        let dir = tempfile::tempdir().unwrap();
        let token = CancellationToken::new();
        let cmd = tree_cmd(dir.path());
        let task = {
            let token = token.clone();
            tokio::spawn(async move { run_with_cancel(&cmd, &token).await })
        };
        let pids = tree_pids(dir.path(), 0..=2).await;
        token.cancel();
        let result = task.await.unwrap();
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert_gone(&pids).await;
    }

    async fn tree_is_gone_after_the_future_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = tree_cmd(dir.path());
        let pids = tokio::select! {
            result = run(&cmd) => panic!("the run ended: {result:?}"),
            pids = tree_pids(dir.path(), 0..=2) => pids,
        };
        // The run future is dropped here.
        assert_gone(&pids).await;
    }

    async fn tree_is_gone_after_running_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let running = spawn(&tree_cmd(dir.path())).unwrap();
        let pids = tree_pids(dir.path(), 0..=2).await;
        assert_eq!(running.pid(), pids[2]);
        drop(running);
        assert_gone(&pids).await;
    }

    async fn tree_is_gone_after_kill() {
        let dir = tempfile::tempdir().unwrap();
        let running = spawn(&tree_cmd(dir.path())).unwrap();
        let pids = tree_pids(dir.path(), 0..=2).await;
        let status = running.kill().await.unwrap();
        assert_eq!(status.code(), Some(1), "{status:?}");
        assert_gone(&pids).await;
    }

    async fn what_the_leader_leaves_behind_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&helper_cmd("orphan").arg(dir.path())).await.unwrap();
        assert!(out.status.success());
        let pids = pids_written(dir.path(), 0..=1);
        assert_eq!(pids.len(), 2, "child and grandchild recorded");
        assert_gone(&pids).await;
    }

    /// The pids already written to `dir/pid-N` for each N in `depths`.
    fn pids_written(dir: &Path, depths: std::ops::RangeInclusive<u32>) -> Vec<u32> {
        depths
            .filter_map(|d| std::fs::read_to_string(dir.join(format!("pid-{d}"))).ok())
            .filter_map(|t| t.trim().parse().ok())
            .collect()
    }

    // ---- output, stdin, errors ---------------------------------------------------------

    async fn stdin_and_output_round_trip() {
        // Larger than any pipe buffer, with CRLF, NUL and non-ASCII bytes.
        let mut input = b"line one\r\nl\xc3\xadnea dos\n\0tab\there\n".repeat(20_000);
        input.extend_from_slice(b"no newline at the end");
        let out = run(&helper_cmd("cat").stdin(input.clone())).await.unwrap();
        assert!(
            out.stdout == input,
            "stdout differs ({} bytes)",
            out.stdout.len()
        );
        assert_eq!(out.stderr_lossy().trim_end(), "cat done");
        assert_eq!(out.status.code(), Some(0));
        // Without stdin, the child reads an empty one.
        let out = run(&helper_cmd("cat")).await.unwrap();
        assert!(out.stdout.is_empty());
    }

    async fn non_zero_exits_are_classified() {
        let fail = |stderr: &str, code: &str| {
            helper_cmd("fail")
                .env("SYNOD_EXEC_STDERR", stderr)
                .env("SYNOD_EXEC_EXIT", code)
        };
        let err = run(&fail("Error: invalid API key\r\n", "3"))
            .await
            .unwrap_err();
        match &err {
            Error::NonZeroExit {
                code, stderr_tail, ..
            } => {
                assert_eq!(*code, 3);
                assert_eq!(stderr_tail, "Error: invalid API key");
            }
            other => panic!("{other}"),
        }
        assert_eq!(err.class(), ErrorClass::Permanent);
        let err = run(&fail("upstream 503", "1")).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Transient);
    }

    async fn output_is_capped() {
        let out = run(&helper_cmd("flood").arg("1000000").output_cap(64 * 1024))
            .await
            .unwrap();
        assert!(out.stdout_truncated);
        assert!(out.stdout.len() < 70 * 1024, "{}", out.stdout.len());
        assert_eq!(out.stdout_dropped + 64 * 1024, 1_000_000);
    }

    async fn spawn_streams_lines() {
        let mut running = spawn(&helper_cmd("lines")).unwrap();
        let mut events = Vec::new();
        while let Some(event) = running.next().await {
            events.push(event);
        }
        let lines: Vec<_> = events.iter().filter_map(Event::line_lossy).collect();
        assert_eq!(lines, ["one", "two", "three"]);
        assert!(matches!(events.last(), Some(Event::Exited(s)) if s.success()));
    }

    async fn run_all_keeps_order_and_bounds() {
        let cmds: Vec<_> = (0..5)
            .map(|i| helper_cmd("cat").stdin(format!("agent {i}")))
            .collect();
        let results = run_all(&cmds, 2, &CancellationToken::new()).await;
        let outs: Vec<String> = results
            .iter()
            .map(|r| r.as_ref().unwrap().stdout_lossy().into_owned())
            .collect();
        assert_eq!(
            outs,
            (0..5).map(|i| format!("agent {i}")).collect::<Vec<_>>()
        );
    }

    async fn a_missing_program_is_not_found() {
        let err = run(&AgentCommand::new("synod-exec-no-such-program"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }

    // ---- npm shims ---------------------------------------------------------------------

    /// Everything `cmd.exe` would act on: quotes, `%VAR%`, `!VAR!`, `&`, `|`, `<`, `>`, `^`,
    /// parentheses, line breaks, and a trailing backslash.
    const PROMPT: &str = "Fix \"the bug\" in 100% of cases & echo pwned | more > out.txt ^ caret\r\n\
                          second line: %PATH% !PATH! (parens) <angle>\nthird \\ end\\";

    /// What npm 7+ writes for a package whose bin is a `#!/usr/bin/env node` script.
    const NODE_SHIM: &str = "@ECHO off\r\nGOTO start\r\n:find_dp0\r\nSET dp0=%~dp0\r\nEXIT /b\r\n:start\r\nSETLOCAL\r\nCALL :find_dp0\r\n\r\nIF EXIST \"%dp0%\\node.exe\" (\r\n  SET \"_prog=%dp0%\\node.exe\"\r\n) ELSE (\r\n  SET \"_prog=node\"\r\n  SET PATHEXT=%PATHEXT:;.JS;=;%\r\n)\r\n\r\nendLocal & goto #_undefined_# 2>NUL || title %COMSPEC% & \"%_prog%\"  \"%dp0%\\node_modules\\@acme\\agent-cli\\cli.js\" %*\r\n";

    /// What npm 7+ writes for a bin without a shebang.
    const EXE_SHIM: &str = "@ECHO off\r\nGOTO start\r\n:find_dp0\r\nSET dp0=%~dp0\r\nEXIT /b\r\n:start\r\nSETLOCAL\r\nCALL :find_dp0\r\n\"%dp0%\\node_modules\\agent-bin\\agent.exe\"   %*\r\n";

    /// Splits `echo-args` output.
    fn echoed(out: &[u8]) -> Vec<String> {
        let text = String::from_utf8(out.to_vec()).unwrap();
        let mut args: Vec<String> = text.split('\0').map(str::to_owned).collect();
        assert_eq!(args.pop().as_deref(), Some(""), "{text:?}");
        args
    }

    /// A PATH with a missing directory first, then `bin`.
    fn path_with(bin: &Path) -> OsString {
        std::env::join_paths([bin.join("missing"), bin.to_owned()]).unwrap()
    }

    async fn npm_node_shim_passes_the_prompt_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path();
        std::fs::write(bin.join("agent.cmd"), NODE_SHIM).unwrap();
        // npm's shim prefers a node.exe next to it: this test binary, echoing its arguments.
        std::fs::copy(std::env::current_exe().unwrap(), bin.join("node.exe")).unwrap();
        let out = run(&AgentCommand::new("agent")
            .env("PATH", path_with(bin))
            .env(HELPER_ENV, "echo-args")
            .args(["-p", PROMPT]))
        .await
        .unwrap();
        let script = format!(
            "{}\\node_modules\\@acme\\agent-cli\\cli.js",
            bin.to_str().unwrap()
        );
        assert_eq!(echoed(&out.stdout), [script.as_str(), "-p", PROMPT]);
    }

    async fn npm_exe_shim_passes_the_prompt_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path();
        std::fs::write(bin.join("agent.cmd"), EXE_SHIM).unwrap();
        let target = bin.join("node_modules").join("agent-bin");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::copy(std::env::current_exe().unwrap(), target.join("agent.exe")).unwrap();
        // Named with its extension this time; an empty argument survives too.
        let out = run(&AgentCommand::new("agent.cmd")
            .env("PATH", path_with(bin))
            .env(HELPER_ENV, "echo-args")
            .arg(PROMPT)
            .arg(""))
        .await
        .unwrap();
        assert_eq!(echoed(&out.stdout), [PROMPT, ""]);
    }

    async fn an_unknown_batch_file_refuses_unsafe_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path();
        let marker = bin.join("ran.txt");
        std::fs::write(
            bin.join("tool.bat"),
            format!(
                "@echo off\r\necho ran> \"{}\"\r\necho [%~1] [%~2]\r\n",
                marker.display()
            ),
        )
        .unwrap();
        let tool = || AgentCommand::new("tool").env("PATH", path_with(bin));
        let err = run(&tool().args(["ok", PROMPT])).await.unwrap_err();
        match &err {
            Error::UnsafeArgument { index, .. } => assert_eq!(*index, 1),
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("tool.bat"), "{err}");
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert!(!marker.exists(), "the batch file ran");
        // Plain arguments go through cmd.exe (std's quoting).
        let out = run(&tool().args(["hello", "two words"])).await.unwrap();
        assert_eq!(out.stdout_lossy().trim_end(), "[hello] [two words]");
        assert!(marker.exists());
    }
}
