//! Agent command presets and `--cmd` templates: which command line `run` starts per droid.
//!
//! A template is a shell command (run with `sh -c`, cwd = the droid's worktree, stdin =
//! /dev/null) with the placeholders `{brief}`, `{droid}`, `{worktree}` and `{branch}`, each
//! replaced by its shell-quoted value. Anything else in braces is left alone, so `${HOME}` or
//! `{a,b}` keep their shell meaning. `{{` and `}}` give literal braces.

use std::path::Path;

use serde::Serialize;

use super::AgentError;
use crate::error::{Error, Result, similar_name};
use crate::forge::manifest::{Droid, Forge};
use crate::util::text::shell_quote;

/// A named agent command line (see docs/agents.md for why each flag is there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preset {
    pub name: &'static str,
    pub template: &'static str,
    /// What the agent is (for docs and `--help`).
    pub about: &'static str,
}

/// The built-in presets, from shared/agent-clis.md.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "droid",
        template: "droid exec --auto medium --cwd {worktree} -o json -f {brief}",
        about: "Factory `droid exec`: edits, builds and local commits allowed, brief from a file",
    },
    Preset {
        name: "claude",
        template: "claude -p --permission-mode acceptEdits --output-format json < {brief}",
        about: "Claude Code print mode: edits accepted, brief on stdin",
    },
    Preset {
        name: "codex",
        template: "codex exec --sandbox workspace-write -C {worktree} --json - < {brief}",
        about: "Codex exec: writes only inside the worktree, brief on stdin",
    },
    Preset {
        name: "aider",
        template: "aider --message-file {brief} --yes-always --no-auto-commits --no-stream --no-pretty --no-check-update",
        about: "Aider: one message from the brief file, no prompts, droidforge commits",
    },
    Preset {
        name: "gemini",
        template: "gemini --skip-trust --approval-mode auto_edit -o json -p \"Follow the brief on stdin.\" < {brief}",
        about: "Gemini CLI headless: edits auto-approved, brief on stdin",
    },
];

/// The preset used when neither the command line nor the manifest names one.
pub const DEFAULT_PRESET: &str = "droid";

pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// A resolved command for one droid: where it came from and the shell line to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentCommand {
    /// `preset droid`, `--cmd`, `manifest [forge] agent`, …
    pub source: String,
    /// The template before substitution.
    pub template: String,
    /// The shell command line after substitution.
    pub command: String,
}

/// Values substituted into a template.
#[derive(Debug, Clone)]
pub struct Placeholders<'a> {
    pub brief: &'a Path,
    pub droid: &'a str,
    pub worktree: &'a Path,
    pub branch: &'a str,
}

/// Pick the command for `droid`: `--cmd` beats `--agent`, which beats the droid's own `agent`
/// in the manifest, then `[forge] agent`, then the `droid` preset.
pub fn resolve_command(
    forge: &Forge,
    droid: &Droid,
    cli_agent: Option<&str>,
    cli_cmd: Option<&str>,
    values: &Placeholders<'_>,
) -> Result<AgentCommand> {
    let (source, template) = if let Some(cmd) = cli_cmd {
        ("--cmd".to_owned(), cmd.to_owned())
    } else if let Some(name) = cli_agent {
        if name == "custom" {
            return Err(AgentError::CustomNeedsTemplate.into());
        }
        let p = preset(name).ok_or_else(|| unknown_preset(name, "--agent"))?;
        (format!("preset `{}`", p.name), p.template.to_owned())
    } else if let Some(value) = droid.agent.as_deref() {
        from_manifest(value, &format!("droid `{}` agent", droid.name))?
    } else if let Some(value) = forge.manifest.forge.agent.as_deref() {
        from_manifest(value, "[forge] agent")?
    } else {
        let p = preset(DEFAULT_PRESET).expect("the default preset exists");
        (format!("preset `{}`", p.name), p.template.to_owned())
    };
    if template.trim().is_empty() {
        return Err(AgentError::EmptyCommand { from: source }.into());
    }
    let command = render(&template, values);
    Ok(AgentCommand {
        source,
        template,
        command,
    })
}

/// A manifest `agent` value: a preset name, or a template (anything with a space or a brace).
fn from_manifest(value: &str, key: &str) -> Result<(String, String)> {
    if let Some(p) = preset(value.trim()) {
        return Ok((
            format!("preset `{}` ({key})", p.name),
            p.template.to_owned(),
        ));
    }
    if value.contains(char::is_whitespace) || value.contains('{') {
        return Ok((key.to_owned(), value.to_owned()));
    }
    Err(unknown_preset(value, key))
}

fn unknown_preset(name: &str, key: &str) -> Error {
    AgentError::UnknownPreset {
        name: name.to_owned(),
        from: key.to_owned(),
        similar: similar_name(name, PRESETS.iter().map(|p| p.name)),
    }
    .into()
}

/// Substitute the placeholders (shell-quoted) into a template.
pub fn render(template: &str, v: &Placeholders<'_>) -> String {
    let brief = shell_quote(&v.brief.to_string_lossy());
    let worktree = shell_quote(&v.worktree.to_string_lossy());
    let droid = shell_quote(v.droid);
    let branch = shell_quote(v.branch);
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("{{") {
            out.push('{');
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix("}}") {
            out.push('}');
            rest = r;
            continue;
        }
        let mut matched = false;
        for (key, value) in [
            ("{brief}", &brief),
            ("{droid}", &droid),
            ("{worktree}", &worktree),
            ("{branch}", &branch),
        ] {
            if let Some(r) = rest.strip_prefix(key) {
                out.push_str(value);
                rest = r;
                matched = true;
                break;
            }
        }
        if !matched {
            out.push_str(&rest[..1]);
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Placeholders<'static> {
        Placeholders {
            brief: Path::new("/r/wt/core droid/.droidforge/BRIEF.md"),
            droid: "core-droid",
            worktree: Path::new("/r/wt/it's"),
            branch: "droidforge/core-droid",
        }
    }

    #[test]
    fn placeholders_are_quoted() {
        let out = render(
            "agent -f {brief} -C {worktree} --name {droid} {branch}",
            &values(),
        );
        assert_eq!(
            out,
            "agent -f '/r/wt/core droid/.droidforge/BRIEF.md' -C '/r/wt/it'\\''s' --name core-droid droidforge/core-droid"
        );
    }

    #[test]
    fn other_braces_are_left_alone() {
        let out = render("echo ${HOME} {a,b} {{droid}} {unknown}", &values());
        assert_eq!(out, "echo ${HOME} {a,b} {droid} {unknown}");
    }

    #[test]
    fn precedence_cmd_agent_droid_forge_default() {
        let text = "[forge]\nagent = \"claude\"\n[[phase]]\nid = 1\n\
            [[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"a/**\"]\nagent = \"run-a {droid}\"\n\
            [[droid]]\nname = \"b\"\nphases = [1]\nowns = [\"b/**\"]\n";
        let forge = Forge::parse(text, "forge.toml", false).unwrap();
        let v = values();
        let a = forge.droid("a").unwrap();
        let b = forge.droid("b").unwrap();
        let cmd = |d, agent, cmd| resolve_command(&forge, d, agent, cmd, &v).unwrap();
        assert_eq!(
            cmd(a, Some("codex"), Some("x {droid}")).command,
            "x core-droid"
        );
        assert!(
            cmd(a, Some("codex"), None)
                .command
                .starts_with("codex exec")
        );
        assert_eq!(cmd(a, None, None).command, "run-a core-droid");
        assert!(cmd(b, None, None).command.starts_with("claude -p"));
        let bare = Forge::parse(
            "[[phase]]\nid = 1\n[[droid]]\nname = \"c\"\nphases = [1]\nowns = [\"c/**\"]\n",
            "forge.toml",
            false,
        )
        .unwrap();
        let c = bare.droid("c").unwrap();
        let out = resolve_command(&bare, c, None, None, &v).unwrap();
        assert!(out.command.starts_with("droid exec"), "{}", out.command);
        let err = resolve_command(&bare, c, Some("custom"), None, &v).unwrap_err();
        assert!(err.message.contains("custom"));
    }

    #[test]
    fn every_preset_mentions_the_brief() {
        for p in PRESETS {
            assert!(p.template.contains("{brief}"), "{}", p.name);
        }
    }
}
