//! The scripted agent: the hidden `scripted-agent --script FILE` mode of the droidforge
//! binary follows a JSON list of [`Step`]s in its current directory, as a real child process
//! (the demo's droids and tests run it through the same runner as `run`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::git::Repo;

/// One step of a scripted agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Print a line (it ends up in the droid's log).
    Say(String),
    /// Create or overwrite a file.
    Write {
        path: String,
        text: String,
    },
    /// Append one line to a file.
    Append {
        path: String,
        line: String,
    },
    /// Replace the first occurrence of `from` with `to` in a file.
    Replace {
        path: String,
        from: String,
        to: String,
    },
    /// Tick the TODO item whose text contains `item`: `- [ ]` becomes `- [x]`.
    Check {
        path: String,
        item: String,
    },
    SleepMs(u64),
    /// Act like a coding agent's edit tool under its hook protocol: read the recorded hook
    /// input `payload` (a file; `{{WORKTREE}}` becomes the working directory, `{{KEY}}` the
    /// value of `vars.KEY`), run every hook that the agent's settings file in the working
    /// directory registers for the tool (`sh -c`, the input on stdin), and make `writes` only
    /// when every hook allows the call: exit 2 or a JSON `deny` blocks it, as the agents do.
    HookEdit {
        agent: crate::ops::hooks::HookAgent,
        payload: PathBuf,
        #[serde(default)]
        vars: std::collections::BTreeMap<String, String>,
        writes: Vec<FileWrite>,
    },
    /// `git add -A && git commit -m MESSAGE`.
    Commit(String),
    /// Stop here with this exit code.
    Exit(i32),
}

/// One file a [`Step::HookEdit`] writes when its hooks allow it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileWrite {
    pub path: String,
    pub text: String,
}

/// A scripted agent's whole script.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Script {
    pub steps: Vec<Step>,
}

/// Follow `script` in `dir`; `say` receives what the agent prints. Returns the exit code.
pub fn run_script(dir: &Path, script: &Script, say: &dyn Fn(&str)) -> Result<i32> {
    for step in &script.steps {
        match step {
            Step::Say(text) => say(text),
            Step::Write { path, text } => {
                let p = inside(dir, path)?;
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create `{}`", parent.display()))?;
                }
                std::fs::write(&p, text)
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("wrote {path}"));
            }
            Step::Append { path, line } => {
                let p = inside(dir, path)?;
                let mut text = std::fs::read_to_string(&p).unwrap_or_default();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(line);
                text.push('\n');
                std::fs::write(&p, text)
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("appended to {path}"));
            }
            Step::Replace { path, from, to } => {
                let p = inside(dir, path)?;
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read `{}`", p.display()))?;
                if !text.contains(from.as_str()) {
                    return Err(Error::failure(format!("`{from}` is not in `{path}`")));
                }
                std::fs::write(&p, text.replacen(from.as_str(), to, 1))
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("edited {path}"));
            }
            Step::Check { path, item } => {
                let p = inside(dir, path)?;
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read `{}`", p.display()))?;
                let mut found = false;
                let out: Vec<String> = text
                    .lines()
                    .map(|l| {
                        if !found && l.contains("[ ]") && l.contains(item.as_str()) {
                            found = true;
                            l.replacen("[ ]", "[x]", 1)
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect();
                if !found {
                    return Err(Error::failure(format!(
                        "no open TODO item `{item}` in `{path}`"
                    )));
                }
                std::fs::write(&p, out.join("\n") + "\n")
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("done: {item}"));
            }
            Step::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Step::HookEdit {
                agent,
                payload,
                vars,
                writes,
            } => {
                let input = hook_input(dir, payload, vars)?;
                match ask_hooks(dir, *agent, &input)? {
                    Some(reason) => say(&format!("blocked by hook: {}", reason.trim_end())),
                    None => {
                        for w in writes {
                            let p = inside(dir, &w.path)?;
                            if let Some(parent) = p.parent() {
                                std::fs::create_dir_all(parent).with_context(|| {
                                    format!("cannot create `{}`", parent.display())
                                })?;
                            }
                            std::fs::write(&p, &w.text)
                                .with_context(|| format!("cannot write `{}`", p.display()))?;
                            say(&format!("wrote {} (hooks allowed it)", w.path));
                        }
                    }
                }
            }
            Step::Commit(message) => {
                Repo::git_cli(dir, &["add", "-A"])?;
                Repo::git_cli(dir, &["commit", "--quiet", "--no-verify", "-m", message])?;
                say(&format!("committed: {message}"));
            }
            Step::Exit(code) => return Ok(*code),
        }
    }
    Ok(0)
}

/// The hook input of a [`Step::HookEdit`]: the recorded payload with its placeholders filled.
fn hook_input(
    dir: &Path,
    payload: &Path,
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut text = std::fs::read_to_string(payload)
        .with_context(|| format!("cannot read the hook payload `{}`", payload.display()))?;
    // Values go inside JSON strings: escape them as JSON does.
    let escape = |v: &str| {
        let quoted = serde_json::Value::String(v.to_owned()).to_string();
        quoted[1..quoted.len() - 1].to_owned()
    };
    text = text.replace("{{WORKTREE}}", &escape(&dir.to_string_lossy()));
    for (key, value) in vars {
        text = text.replace(&format!("{{{{{key}}}}}"), &escape(value));
    }
    Ok(text.into_bytes())
}

/// Run the hooks `agent`'s settings file in `dir` registers for the tool named in `input`, the
/// way the agent does. Returns the reason when one of them blocks the call.
fn ask_hooks(
    dir: &Path,
    agent: crate::ops::hooks::HookAgent,
    input: &[u8],
) -> Result<Option<String>> {
    use std::io::Write as _;
    let payload: serde_json::Value =
        serde_json::from_slice(input).context("the hook payload is not JSON")?;
    let tool = payload["tool_name"].as_str().unwrap_or_default();
    let Some(rel) = agent.settings_path() else {
        return Ok(None);
    };
    let settings = match std::fs::read_to_string(dir.join(rel)) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text)
            .with_context(|| format!("`{rel}` is not JSON"))?,
        Err(_) => return Ok(None),
    };
    let groups = settings["hooks"][agent.event()]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for group in groups {
        // Matchers are tool names joined by `|`; `*` or an empty matcher matches every tool.
        let matcher = group["matcher"].as_str().unwrap_or("");
        if !(matcher.is_empty() || matcher == "*" || matcher.split('|').any(|m| m == tool)) {
            continue;
        }
        for hook in group["hooks"].as_array().cloned().unwrap_or_default() {
            let Some(command) = hook["command"].as_str() else {
                continue;
            };
            let mut child = std::process::Command::new("sh")
                .args(["-c", command])
                .current_dir(dir)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("cannot run the hook `{command}`"))?;
            if let Some(mut stdin) = child.stdin.take() {
                // A hook may exit without reading its input; that is its right.
                let _ = stdin.write_all(input);
            }
            let out = child
                .wait_with_output()
                .with_context(|| format!("cannot wait for the hook `{command}`"))?;
            if out.status.code() == Some(2) {
                return Ok(Some(String::from_utf8_lossy(&out.stderr).into_owned()));
            }
            if out.status.success()
                && let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            {
                let specific = &answer["hookSpecificOutput"];
                if specific["permissionDecision"] == "deny" || answer["decision"] == "deny" {
                    let reason = specific["permissionDecisionReason"]
                        .as_str()
                        .or(answer["reason"].as_str())
                        .unwrap_or("denied");
                    return Ok(Some(reason.to_owned()));
                }
            }
            // Any other exit code is a non-blocking hook error: the agents carry on.
        }
    }
    Ok(None)
}

fn inside(dir: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::usage(format!(
            "the script path `{rel}` leaves the working directory"
        )));
    }
    Ok(dir.join(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script {
            steps: vec![Step::Write {
                path: "../escape".into(),
                text: "x".into(),
            }],
        };
        assert!(run_script(dir.path(), &script, &|_| {}).is_err());
    }

    #[test]
    fn check_ticks_one_box() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("T.md"), "- [ ] a\n- [ ] b\n").unwrap();
        let script = Script {
            steps: vec![
                Step::Check {
                    path: "T.md".into(),
                    item: "b".into(),
                },
                Step::Exit(7),
            ],
        };
        assert_eq!(run_script(dir.path(), &script, &|_| {}).unwrap(), 7);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("T.md")).unwrap(),
            "- [ ] a\n- [x] b\n"
        );
    }
}
