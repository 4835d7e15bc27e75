//! Turn selected droids into runnable [`AgentJob`]s: make sure each has a worktree and a
//! brief (spawning what is missing), and resolve its agent command.

use super::AgentError;
use super::presets::{Placeholders, resolve_command};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::forge::manifest::Droid;
use crate::ops::spawn::SpawnStatus;
use crate::workspace::Workspace;

pub use crate::forge::brief::BRIEF_PATH;

/// One agent to run.
#[derive(Debug, Clone)]
pub struct AgentJob {
    pub droid: String,
    pub worktree: PathBuf,
    pub branch: String,
    pub brief: PathBuf,
    /// The shell command line (placeholders already substituted).
    pub command: String,
    /// The droid's TODO file inside its worktree, for the live TODO %.
    pub todo: Option<PathBuf>,
    pub log: PathBuf,
}

/// Jobs for `droids` plus the names of droids whose worktree had to be created first.
pub struct Prepared {
    pub jobs: Vec<AgentJob>,
    pub spawned: Vec<String>,
    /// Things the user should know before the agents start (e.g. an unchecked program).
    pub notes: Vec<String>,
}

/// Resolve commands and spawn missing worktrees. Commands are resolved first so that a bad
/// `--agent` changes nothing.
pub fn prepare(
    ws: &Workspace,
    droids: &[&Droid],
    cli_agent: Option<&str>,
    cli_cmd: Option<&str>,
) -> Result<Prepared> {
    let mut jobs = Vec::new();
    let mut notes = Vec::new();
    let mut checked = std::collections::BTreeSet::new();
    for droid in droids {
        let worktree = ws.worktree_path(&droid.name);
        let brief = worktree.join(BRIEF_PATH);
        let branch = ws.branch_of(&droid.name);
        let command = resolve_command(
            &ws.forge,
            droid,
            cli_agent,
            cli_cmd,
            &Placeholders {
                brief: &brief,
                droid: &droid.name,
                worktree: &worktree,
                branch: &branch,
            },
        )?;
        // A missing program would fail every droid with exit 127 and the cause in a log:
        // check once, before anything starts.
        if checked.insert((command.source.clone(), command.template.clone())) {
            match program_of(&command.command) {
                Program::Word(program) => {
                    if !program_exists(&program, &worktree) {
                        return Err(AgentError::ProgramNotFound {
                            program,
                            from: command.source,
                        }
                        .into());
                    }
                }
                Program::Shell(why) => notes.push(format!(
                    "cannot check that the agent program exists: the command from {} starts with {why}",
                    command.source
                )),
            }
        }
        jobs.push(AgentJob {
            droid: droid.name.clone(),
            todo: droid.todo.as_ref().map(|t| worktree.join(t)),
            log: ws.state.log_path(&droid.name),
            worktree,
            branch,
            brief,
            command: command.command,
        });
    }
    // Create what is missing (and refresh briefs); existing worktrees are left alone.
    let outcomes = crate::ops::spawn::spawn(ws, droids, None, false, &|_| {})?;
    let mut spawned = Vec::new();
    for o in outcomes {
        // The agent still runs without its edit hook or commit guard (the merge gate
        // checks ownership anyway), but the user should know.
        if let Some(e) = &o.hooks_error {
            notes.push(format!(
                "agent edit hooks for `{}` not installed: {e}",
                o.droid
            ));
        }
        if let Some(e) = &o.guard_error {
            notes.push(format!(
                "no pre-commit guard in `{}`: {e} (the merge gate still checks ownership)",
                o.droid
            ));
        }
        match o.status {
            SpawnStatus::Created => spawned.push(o.droid),
            SpawnStatus::Exists => {}
            SpawnStatus::Error => {
                let mut err = Error::failure(format!(
                    "cannot prepare the worktree of `{}`: {}",
                    o.droid,
                    o.error.unwrap_or_default()
                ));
                for h in o.hints {
                    err = err.hint(h);
                }
                return Err(err);
            }
        }
    }
    Ok(Prepared {
        jobs,
        spawned,
        notes,
    })
}

/// The program a shell command line starts, or why that cannot be known without running it.
#[derive(Debug, PartialEq, Eq)]
enum Program {
    Word(String),
    Shell(String),
}

/// The first word of `line` (unquoting simple `'…'`/`"…"` quoting) when it is a plain program
/// name or path; a shell construct (variables, substitutions, assignments, keywords, grouping,
/// globbing) cannot be resolved without a shell.
fn program_of(line: &str) -> Program {
    let line = line.trim_start();
    let mut word = String::new();
    let mut chars = line.chars().peekable();
    let shell = |what: &str| Program::Shell(what.to_owned());
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | ';' | '|' | '&' => break,
            '\'' | '"' => {
                chars.next();
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == c {
                        closed = true;
                        break;
                    }
                    if c == '"' && matches!(q, '$' | '`' | '\\') {
                        return shell("a quoted expansion");
                    }
                    word.push(q);
                }
                if !closed {
                    return shell("an unterminated quote");
                }
            }
            '$' | '`' => return shell("a shell expansion"),
            '(' | ')' | '{' | '}' | '<' | '>' => return shell("shell grouping or a redirection"),
            '*' | '?' | '[' | '~' | '\\' => return shell("a pattern or an escape"),
            '=' => return shell("a variable assignment"),
            _ => {
                chars.next();
                word.push(c);
            }
        }
    }
    const KEYWORDS: &[&str] = &[
        "if", "then", "for", "while", "until", "case", "do", "!", "exec", "eval", "command",
        "builtin", "time", "env", "nohup", "sudo", ".", "source", "cd", "export",
    ];
    if word.is_empty() {
        return shell("nothing to run");
    }
    if KEYWORDS.contains(&word.as_str()) {
        return Program::Shell(format!("the shell word `{word}`"));
    }
    Program::Word(word)
}

/// Is `program` an executable file: a path (relative ones from the droid's worktree), or a
/// name found on PATH?
fn program_exists(program: &str, worktree: &std::path::Path) -> bool {
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                m.is_file()
            }
        })
    };
    if program.contains('/') {
        let p = std::path::Path::new(program);
        if p.is_absolute() {
            return executable(p);
        }
        // The worktree may not exist yet (spawned below): give relative paths the benefit.
        return !worktree.exists() || executable(&worktree.join(p));
    }
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| executable(&dir.join(program)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_of_a_command_line() {
        let word = |s: &str| Program::Word(s.to_owned());
        assert_eq!(program_of("claude -p 'x'"), word("claude"));
        assert_eq!(program_of("  'my agent' --x"), word("my agent"));
        assert_eq!(program_of("bash '/a b/fake.sh' x"), word("bash"));
        assert_eq!(program_of("/usr/bin/agent;x"), word("/usr/bin/agent"));
        for shell in [
            "FOO=1 agent",
            "$AGENT x",
            "(cd x && a)",
            "if true; then a; fi",
            "~/bin/a",
        ] {
            assert!(matches!(program_of(shell), Program::Shell(_)), "{shell}");
        }
    }
}
