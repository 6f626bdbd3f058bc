//! Windows batch files (`.cmd`, `.bat`), above all the shims npm installs for a CLI
//! (`claude.cmd`, `gemini.cmd`, `codex.cmd`), run without `cmd.exe` ever parsing an argument.
//!
//! Windows starts a batch file only through `cmd.exe`, which re-parses the command line:
//! `&`, `|`, `<`, `>`, `^`, `%VAR%`, `!VAR!` and line breaks in an argument would run other
//! commands or change the text (CVE-2024-24576, "BatBadBut"). Rust's std escapes what it can
//! and refuses the rest, but a prompt is exactly the kind of text it must refuse. So, before
//! spawning, a program is looked up the way `cmd.exe` would find it (each `PATH` directory,
//! each `PATHEXT` extension; the child's `PATH` when the command sets one) and, when that
//! finds a batch file:
//!
//! - an npm shim ([npm/cmd-shim]'s two shapes since npm 7, and npm 6's `IF EXIST` shape) is
//!   read and run as the command it wraps (`node.exe "...\cli.js" ARGS`, or the target
//!   program itself): `cmd.exe` is not involved, every argument reaches the program byte for
//!   byte;
//! - any other batch file runs through `cmd.exe` (std's escaping) only when no argument holds
//!   a character `cmd.exe` would interpret (`"`, `%`, `!`, `^`, `&`, `|`, `<`, `>`, `(`, `)`
//!   or a control character such as a line break); otherwise the run fails with
//!   [`Error::UnsafeArgument`] before anything starts. Put such text on stdin
//!   ([`AgentCommand::stdin`]) or run the program the script wraps.
//!
//! The parsing is plain text work and is compiled (and unit-tested) everywhere; it is used on
//! Windows only.
//!
//! [npm/cmd-shim]: https://github.com/npm/cmd-shim
#![cfg_attr(not(windows), allow(dead_code))]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::command::{AgentCommand, EnvMode};
use crate::error::{Error, Result};

/// Largest batch file read to recognize a shim (npm's are well under 1 KiB).
const MAX_SHIM_BYTES: u64 = 64 * 1024;

/// `PATHEXT` when the environment has none (the Windows default, minus scripting hosts).
const DEFAULT_PATHEXT: &str = ".COM;.EXE;.BAT;.CMD";

/// What to start instead of the command's program and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    /// The program to start.
    pub(crate) program: OsString,
    /// Every argument, the command's own included.
    pub(crate) args: Vec<OsString>,
}

/// Decides how `cmd` is started on Windows: `Ok(None)` to start it as given (not a batch
/// file), `Ok(Some(launch))` for a batch file (the program an npm shim wraps, or the batch
/// file itself when its arguments are safe), [`Error::UnsafeArgument`] otherwise.
pub(crate) fn resolve(cmd: &AgentCommand) -> Result<Option<Launch>> {
    let Some(found) = find_program(cmd) else {
        return Ok(None);
    };
    if !is_batch(&found) {
        return Ok(None);
    }
    if let Some(shim) = read_shim(&found) {
        tracing::debug!(shim = %found.display(), program = %shim.program, "running what an npm shim wraps");
        let mut args: Vec<OsString> = shim.args.into_iter().map(OsString::from).collect();
        args.extend(cmd.args.iter().cloned());
        return Ok(Some(Launch {
            program: shim.program.into(),
            args,
        }));
    }
    for (index, arg) in cmd.args.iter().enumerate() {
        if let Some(c) = cmd_special(arg) {
            return Err(Error::UnsafeArgument {
                program: cmd.program_lossy(),
                index,
                reason: format!(
                    "it holds {}, which cmd.exe would interpret, and {} is a batch file that \
                     is not an npm shim synod-exec can see through; send the text on stdin \
                     (AgentCommand::stdin) or run the program the script wraps",
                    describe(c),
                    found.display()
                ),
            });
        }
    }
    Ok(Some(Launch {
        program: found.into_os_string(),
        args: cmd.args.clone(),
    }))
}

/// The first character of `arg` that `cmd.exe` would interpret, if any.
pub(crate) fn cmd_special(arg: &OsStr) -> Option<char> {
    arg.to_string_lossy().chars().find(|c| {
        matches!(c, '"' | '%' | '!' | '^' | '&' | '|' | '<' | '>' | '(' | ')')
            || c.is_control()
            || *c == char::REPLACEMENT_CHARACTER
    })
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a line break".to_owned(),
        '\r' => "a carriage return".to_owned(),
        char::REPLACEMENT_CHARACTER => "text that is not valid Unicode".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

/// Whether `path` names a batch file (`.bat` or `.cmd`, any case).
pub(crate) fn is_batch(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bat") || e.eq_ignore_ascii_case("cmd"))
}

/// The value the child will see for environment variable `name` (names compared without
/// regard to case, as Windows does): the command's own setting, else what the environment
/// mode passes on from this process.
pub(crate) fn child_var(cmd: &AgentCommand, name: &str) -> Option<OsString> {
    if let Some((_, value)) = cmd
        .envs
        .iter()
        .rev()
        .find(|(key, _)| key.to_string_lossy().eq_ignore_ascii_case(name))
    {
        return value.clone();
    }
    let inherited = || {
        std::env::vars_os()
            .find(|(key, _)| key.to_string_lossy().eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    match &cmd.env_mode {
        EnvMode::Inherit => inherited(),
        EnvMode::Clear => None,
        EnvMode::Allow(names) => names
            .iter()
            .any(|n| n.to_string_lossy().eq_ignore_ascii_case(name))
            .then(inherited)
            .flatten(),
    }
}

/// Finds the file `cmd.exe` would run for the command's program: a path is taken as is (with
/// each `PATHEXT` extension tried when it has none of them); a bare name is looked up in each
/// directory of the child's `PATH` (this process's when the child has none), trying each
/// `PATHEXT` extension. The current directory is not searched (as std does not). `None` when
/// nothing is found.
pub(crate) fn find_program(cmd: &AgentCommand) -> Option<PathBuf> {
    let exts = child_var(cmd, "PATHEXT")
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PATHEXT.to_owned());
    let exts: Vec<&str> = exts
        .split(';')
        .map(str::trim)
        .filter(|e| e.starts_with('.') && e.len() > 1)
        .collect();
    let program = Path::new(&cmd.program);
    let has_dir = cmd
        .program
        .to_string_lossy()
        .chars()
        .any(|c| matches!(c, '/' | '\\' | ':'));
    if has_dir {
        let base = match (&cmd.cwd, program.is_relative()) {
            (Some(dir), true) => dir.join(program),
            _ => program.to_owned(),
        };
        return candidates(&base, &exts).find(|p| p.is_file());
    }
    let path = child_var(cmd, "PATH").or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .find_map(|dir| candidates(&dir.join(program), &exts).find(|p| p.is_file()))
}

/// `base` itself when its extension is one of `exts`, else `base` + each of `exts`.
fn candidates<'a>(base: &'a Path, exts: &'a [&'a str]) -> impl Iterator<Item = PathBuf> + 'a {
    let known = base.extension().is_some_and(|e| {
        exts.iter()
            .any(|x| x[1..].eq_ignore_ascii_case(&e.to_string_lossy()))
    });
    let as_is = known.then(|| base.to_owned());
    let with_ext = exts.iter().filter(move |_| !known).map(move |ext| {
        let mut name = base.as_os_str().to_owned();
        name.push(ext);
        PathBuf::from(name)
    });
    as_is.into_iter().chain(with_ext)
}

/// The command an npm shim at `path` runs, if it is one.
fn read_shim(path: &Path) -> Option<Shim> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_SHIM_BYTES {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let dir = path.parent()?.to_str()?;
    let mut dir = dir.to_owned();
    if !dir.ends_with(['\\', '/']) {
        dir.push('\\');
    }
    parse_shim(&text, &dir, &|p| Path::new(p).is_file())
}

/// The command a recognized shim runs: the program, then the arguments before `%*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shim {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
}

/// Variables a shim may set and use: `dp0` (its directory) and `_prog` (the program).
#[derive(Debug, Default)]
struct Vars {
    dp0: Option<String>,
    prog: Option<String>,
}

/// Reads the text of an npm-style shim living in `dir` (with its trailing backslash, as
/// `%~dp0` gives it); `exists` tells whether a file exists (for `IF EXIST`). `None` for
/// anything but the recognized shapes: every line must be one of the few a shim holds, and
/// exactly one command line ending in `%*` must be reached.
pub(crate) fn parse_shim(text: &str, dir: &str, exists: &dyn Fn(&str) -> bool) -> Option<Shim> {
    // `IF EXIST` blocks: whether the branch being read is taken.
    let mut branches: Vec<bool> = Vec::new();
    let mut vars = Vars::default();
    let mut command: Option<Shim> = None;
    for raw in text.lines() {
        let line = raw.trim().trim_start_matches('@').trim();
        let lower = line.to_ascii_lowercase();
        let active = branches.iter().all(|b| *b);
        if line.is_empty()
            || lower == "echo off"
            || lower == "goto start"
            || lower == "exit /b"
            || lower == "setlocal"
            || lower == "call :find_dp0"
            || lower == ":find_dp0"
            || lower == ":start"
            || lower.starts_with("set pathext=%pathext:")
        {
            continue;
        }
        if lower == "set dp0=%~dp0" {
            vars.dp0 = Some(dir.to_owned());
            continue;
        }
        if let Some(rest) = lower.strip_prefix("if exist ") {
            let cond = line
                .get(line.len() - rest.len()..)?
                .strip_suffix('(')?
                .trim();
            let path = expand(unquote(cond)?, dir, &vars)?;
            branches.push(exists(&path));
            continue;
        }
        if lower.replace(' ', "") == ")else(" {
            let last = branches.last_mut()?;
            *last = !*last;
            continue;
        }
        if line == ")" {
            branches.pop()?;
            continue;
        }
        if let Some(rest) = lower.strip_prefix("set \"_prog=") {
            let value = line.get(line.len() - rest.len()..)?.strip_suffix('"')?;
            if active {
                vars.prog = Some(expand(value, dir, &vars)?);
            }
            continue;
        }
        let body = strip_prefix_ci(
            line,
            "endlocal & goto #_undefined_# 2>nul || title %comspec% & ",
        )
        .unwrap_or(line);
        if !body.ends_with("%*") {
            return None;
        }
        if active {
            if command.is_some() {
                return None;
            }
            command = Some(parse_command(body, dir, &vars)?);
        }
    }
    if !branches.is_empty() {
        return None;
    }
    command
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits a shim's command line (`PROGRAM ARGS... %*`) into expanded words.
fn parse_command(body: &str, dir: &str, vars: &Vars) -> Option<Shim> {
    let mut words = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (word, quoted, after) = if let Some(inner) = rest.strip_prefix('"') {
            let end = inner.find('"')?;
            (&inner[..end], true, &inner[end + 1..])
        } else {
            let end = rest.find([' ', '\t']).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        if !after.is_empty() && !after.starts_with([' ', '\t']) {
            // A quote inside a word, or text glued to a quoted word.
            return None;
        }
        words.push((word, quoted));
        rest = after.trim_start();
    }
    let (last, _) = words.pop()?;
    if last != "%*" || words.is_empty() {
        return None;
    }
    let mut expanded = Vec::with_capacity(words.len());
    for (word, quoted) in words {
        let bad = if quoted {
            // Only `%` can still act inside quotes; `expand` handles it.
            false
        } else {
            word.chars()
                .any(|c| matches!(c, '"' | '!' | '^' | '&' | '|' | '<' | '>' | '(' | ')'))
        };
        if bad || word.is_empty() {
            return None;
        }
        expanded.push(expand(word, dir, vars)?);
    }
    let program = expanded.remove(0);
    Some(Shim {
        program,
        args: expanded,
    })
}

/// `"text"` -> `text`.
fn unquote(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('"')).then_some(inner)
}

/// Replaces `%~dp0`, `%dp0%` and `%_prog%`; `None` when any other `%` is left. A directory
/// followed by a backslash does not double it.
fn expand(word: &str, dir: &str, vars: &Vars) -> Option<String> {
    let mut out = String::with_capacity(word.len() + dir.len());
    let mut rest = word;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (value, used) = if let Some(t) = strip_prefix_ci(tail, "%~dp0") {
            (dir.to_owned(), tail.len() - t.len())
        } else if let Some(t) = strip_prefix_ci(tail, "%dp0%") {
            (vars.dp0.clone()?, tail.len() - t.len())
        } else if let Some(t) = strip_prefix_ci(tail, "%_prog%") {
            (vars.prog.clone()?, tail.len() - t.len())
        } else {
            return None;
        };
        let after = &tail[used..];
        if value.ends_with(['\\', '/']) && after.starts_with(['\\', '/']) {
            out.push_str(&value[..value.len() - 1]);
        } else {
            out.push_str(&value);
        }
        rest = after;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = r"C:\Users\me\AppData\Roaming\npm\";

    /// npm 7+ (cmd-shim 4+) for a `#!/usr/bin/env node` script.
    const NODE_SHIM: &str = "@ECHO off\r\nGOTO start\r\n:find_dp0\r\nSET dp0=%~dp0\r\nEXIT /b\r\n:start\r\nSETLOCAL\r\nCALL :find_dp0\r\n\r\nIF EXIST \"%dp0%\\node.exe\" (\r\n  SET \"_prog=%dp0%\\node.exe\"\r\n) ELSE (\r\n  SET \"_prog=node\"\r\n  SET PATHEXT=%PATHEXT:;.JS;=;%\r\n)\r\n\r\nendLocal & goto #_undefined_# 2>NUL || title %COMSPEC% & \"%_prog%\"  \"%dp0%\\node_modules\\@anthropic-ai\\claude-code\\cli.js\" %*\r\n";

    /// npm 7+ for a target without a shebang (an executable).
    const EXE_SHIM: &str = "@ECHO off\r\nGOTO start\r\n:find_dp0\r\nSET dp0=%~dp0\r\nEXIT /b\r\n:start\r\nSETLOCAL\r\nCALL :find_dp0\r\n\"%dp0%\\node_modules\\tool\\bin\\tool.exe\"   %*\r\n";

    /// npm 6.
    const NPM6_SHIM: &str = "@IF EXIST \"%~dp0\\node.exe\" (\r\n  \"%~dp0\\node.exe\"  \"%~dp0\\node_modules\\npm\\bin\\npm-cli.js\" %*\r\n) ELSE (\r\n  @SETLOCAL\r\n  @SET PATHEXT=%PATHEXT:;.JS;=;%\r\n  node  \"%~dp0\\node_modules\\npm\\bin\\npm-cli.js\" %*\r\n)\r\n";

    fn never(_: &str) -> bool {
        false
    }

    #[test]
    fn node_shim_runs_node_on_the_script() {
        let shim = parse_shim(NODE_SHIM, DIR, &never).unwrap();
        assert_eq!(shim.program, "node");
        assert_eq!(
            shim.args,
            [r"C:\Users\me\AppData\Roaming\npm\node_modules\@anthropic-ai\claude-code\cli.js"]
        );
        let local_node = format!("{DIR}node.exe");
        let shim = parse_shim(NODE_SHIM, DIR, &|p| p == local_node).unwrap();
        assert_eq!(shim.program, local_node);
    }

    #[test]
    fn exe_shim_runs_its_target() {
        let shim = parse_shim(EXE_SHIM, DIR, &never).unwrap();
        assert_eq!(
            shim.program,
            format!(r"{DIR}node_modules\tool\bin\tool.exe")
        );
        assert!(shim.args.is_empty());
    }

    #[test]
    fn npm6_shim_takes_the_branch_that_applies() {
        let shim = parse_shim(NPM6_SHIM, DIR, &never).unwrap();
        assert_eq!(shim.program, "node");
        let local_node = format!("{DIR}node.exe");
        let shim = parse_shim(NPM6_SHIM, DIR, &|p| p == local_node).unwrap();
        assert_eq!(shim.program, local_node);
        assert_eq!(
            shim.args,
            [format!(r"{DIR}node_modules\npm\bin\npm-cli.js")]
        );
    }

    #[test]
    fn shebang_arguments_are_kept() {
        let text = NODE_SHIM.replace("\"%_prog%\"  ", "\"%_prog%\" --no-warnings ");
        let shim = parse_shim(&text, DIR, &never).unwrap();
        assert_eq!(shim.args[0], "--no-warnings");
    }

    #[test]
    fn anything_else_is_not_a_shim() {
        let cases = [
            "@echo %1\r\n".to_owned(),
            "node script.js %*\r\ndel /q *\r\n".to_owned(),
            // Two commands reached.
            EXE_SHIM.replace("%*\r\n", "%*\r\nnode x.js %*\r\n"),
            // An unknown variable, a pipe, a redirection, a quote inside a word.
            EXE_SHIM.replace("%dp0%\\node_modules", "%OTHER%\\node_modules"),
            EXE_SHIM.replace("   %*", " | more %*"),
            EXE_SHIM.replace("   %*", " >log %*"),
            EXE_SHIM.replace("\"%dp0%\\node_modules\\tool\\bin\\tool.exe\"", "a\"b\"c"),
            // Shebang variables (`env A=b node`) set lines the shim drops again.
            NODE_SHIM.replace("\r\n\r\nIF", "\r\n@SET A=b\r\n\r\nIF"),
            // An unclosed IF, a stray ELSE, no command.
            NPM6_SHIM.replace(")\r\n", ""),
            ") ELSE (\r\nnode x %*\r\n".to_owned(),
            "@ECHO off\r\n".to_owned(),
            // `%*` not last, glued to a word, or alone (no program).
            EXE_SHIM.replace("   %*", " %* extra"),
            "node x.js a%*\r\n".to_owned(),
            "%*\r\n".to_owned(),
        ];
        for text in cases {
            assert_eq!(parse_shim(&text, DIR, &never), None, "{text:?}");
        }
    }

    #[test]
    fn expansion_rules() {
        let vars = Vars {
            dp0: Some(DIR.to_owned()),
            prog: None,
        };
        assert_eq!(expand("%dp0%\\x", DIR, &vars).unwrap(), format!("{DIR}x"));
        assert_eq!(expand("%~DP0x", DIR, &vars).unwrap(), format!("{DIR}x"));
        assert_eq!(expand("plain", DIR, &vars).unwrap(), "plain");
        assert_eq!(expand("%_prog%", DIR, &vars), None);
        let prog = Vars {
            dp0: None,
            prog: Some("node".to_owned()),
        };
        assert_eq!(expand("%_PROG%.exe", DIR, &prog).unwrap(), "node.exe");
        assert_eq!(expand("100%", DIR, &vars), None);
        assert_eq!(expand("%dp0%", DIR, &Vars::default()), None);
    }

    #[test]
    fn special_characters_for_cmd() {
        for (arg, c) in [
            ("say \"hi\"", '"'),
            ("100%", '%'),
            ("a & b", '&'),
            ("x^y", '^'),
            ("line\nbreak", '\n'),
            ("wow!", '!'),
            ("(x)", '('),
            ("a|b", '|'),
            ("<in", '<'),
        ] {
            assert_eq!(cmd_special(OsStr::new(arg)), Some(c), "{arg}");
        }
        assert_eq!(
            cmd_special(OsStr::new("--model=opus-4 C:\\dir\\file.txt é,;")),
            None
        );
        assert_eq!(describe('\n'), "a line break");
        assert_eq!(describe('\u{7}'), "the control character U+0007");
        assert_eq!(describe('&'), "`&`");
    }

    #[test]
    fn finds_batch_files_by_pathext_on_the_childs_path() {
        // PATHEXT in lower case: these tests also run on case-sensitive file systems.
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("agent.cmd"), EXE_SHIM).unwrap();
        std::fs::write(bin.join("agent"), "#!/bin/sh\n").unwrap();
        std::fs::write(bin.join("plain.exe"), "").unwrap();
        let path = std::env::join_paths([dir.path().join("missing"), bin.clone()]).unwrap();
        let cmd = |name: &str| {
            AgentCommand::new(name)
                .env_clear()
                .env("Path", &path)
                .env("PATHEXT", ".exe;.cmd")
        };
        assert_eq!(find_program(&cmd("agent")), Some(bin.join("agent.cmd")));
        assert_eq!(find_program(&cmd("agent.cmd")), Some(bin.join("agent.cmd")));
        assert_eq!(find_program(&cmd("plain")), Some(bin.join("plain.exe")));
        assert_eq!(find_program(&cmd("nothing")), None);
        // A path is taken as is, relative to the command's working directory.
        let by_path = AgentCommand::new("bin/agent")
            .cwd(dir.path())
            .env("PATHEXT", ".cmd");
        assert_eq!(find_program(&by_path), Some(bin.join("agent.cmd")));
        assert!(is_batch(Path::new("X.BAT")) && !is_batch(Path::new("x.exe")));
    }

    #[test]
    fn pathext_entries_without_a_dot_or_a_name_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["agentcmd", "agent.", "agent.cmd"] {
            std::fs::write(dir.path().join(name), EXE_SHIM).unwrap();
        }
        let cmd = AgentCommand::new("agent")
            .env("PATH", dir.path())
            .env("PATHEXT", "cmd;.;.cmd");
        assert_eq!(find_program(&cmd), Some(dir.path().join("agent.cmd")));
    }

    #[test]
    fn a_shim_is_read_up_to_64_kib() {
        let dir = tempfile::tempdir().unwrap();
        let at = |size: u64| {
            let path = dir.path().join(format!("s{size}.cmd"));
            let mut text = EXE_SHIM.to_owned();
            let pad = usize::try_from(size).unwrap() - text.len();
            text.push_str(&" ".repeat(pad));
            std::fs::write(&path, text).unwrap();
            read_shim(&path)
        };
        assert!(at(64 * 1024).is_some());
        assert_eq!(at(64 * 1024 + 1), None);
    }

    #[test]
    fn a_shims_directory_ends_with_a_backslash_as_dp0_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.cmd");
        std::fs::write(&path, "@\"%~dp0node.exe\" \"%~dp0cli.js\" %*\r\n").unwrap();
        let shim = read_shim(&path).unwrap();
        let dir_text = dir.path().to_str().unwrap();
        assert_eq!(shim.program, format!("{dir_text}\\node.exe"));
        assert_eq!(shim.args, [format!("{dir_text}\\cli.js")]);
    }

    #[test]
    fn child_variables_follow_the_environment_mode() {
        let cmd = AgentCommand::new("x").env_clear().env("Path", "a");
        assert_eq!(child_var(&cmd, "PATH"), Some("a".into()));
        assert_eq!(child_var(&cmd, "HOME"), None);
        let removed = AgentCommand::new("x").env("PATH", "a").env_remove("path");
        assert_eq!(child_var(&removed, "PATH"), None);
        let allowed = AgentCommand::new("x").env_allow(["PATH"]);
        assert_eq!(child_var(&allowed, "PATH"), std::env::var_os("PATH"));
        assert_eq!(child_var(&allowed, "CARGO"), None);
    }

    #[test]
    fn a_shim_found_on_path_is_replaced_by_what_it_wraps() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agent.cmd"), EXE_SHIM).unwrap();
        let cmd = AgentCommand::new("agent")
            .env("PATH", dir.path())
            .env("PATHEXT", ".cmd")
            .arg("a \"quoted\" 100% & ^ prompt\nline two");
        let launch = resolve(&cmd).unwrap().unwrap();
        let dir_text = dir.path().to_str().unwrap();
        assert_eq!(
            launch.program,
            OsString::from(format!(r"{dir_text}\node_modules\tool\bin\tool.exe"))
        );
        assert_eq!(launch.args, cmd.args);
    }

    #[test]
    fn an_unknown_batch_file_takes_only_safe_arguments() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tool.bat"), "@echo %1\r\n").unwrap();
        let base = AgentCommand::new("tool")
            .env("PATH", dir.path())
            .env("PATHEXT", ".bat");
        let safe = base.clone().args(["--flag=1", "two words"]);
        let launch = resolve(&safe).unwrap().unwrap();
        assert_eq!(launch.program, dir.path().join("tool.bat").into_os_string());
        assert_eq!(launch.args, safe.args);
        let err = resolve(&base.args(["ok", "fix the bug\nthen & exit"])).unwrap_err();
        let Error::UnsafeArgument {
            index, ref program, ..
        } = err
        else {
            panic!("{err}");
        };
        assert_eq!((index, program.as_str()), (1, "tool"));
        let text = err.to_string();
        assert!(
            text.contains("argument 1 of `tool`")
                && text.contains("a line break")
                && text.contains("tool.bat")
                && text.contains("stdin"),
            "{text}"
        );
    }

    #[test]
    fn programs_that_are_not_batch_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tool.exe"), "").unwrap();
        let cmd = AgentCommand::new("tool")
            .env("PATH", dir.path())
            .env("PATHEXT", ".exe;.bat")
            .arg("100% & more");
        assert_eq!(resolve(&cmd).unwrap(), None);
        assert_eq!(
            resolve(&AgentCommand::new("no-such-program-here")).unwrap(),
            None
        );
    }
}
