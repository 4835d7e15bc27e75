//! Agent edit hooks: droidforge stops a droid's agent at the edit, before a byte is written,
//! by registering `droidforge guard --hook <agent>` as a pre-tool hook in the agent's local
//! settings inside the droid's worktree (Claude Code: `.claude/settings.local.json`, Factory
//! droid: `.factory/settings.local.json`), and by reading the tool call the agent sends.
//!
//! Both agents use the same protocol (documented in docs/agents.md with sources): the hook
//! gets the tool call as JSON on stdin (`tool_name`, `tool_input`, `cwd`) and blocks it by
//! exiting with code 2, the reason on stderr; exit 0 lets it run. Gemini CLI's `BeforeTool`
//! hooks speak the same exit-code protocol, so `--hook gemini` reads its payloads too, but its
//! settings are not installed automatically (see docs/agents.md).
//!
//! The settings files are merged, never clobbered: the user's keys and hooks stay, only
//! droidforge's own entry (a hook whose command ends in `guard --hook <agent>`) is replaced,
//! and a re-run that changes nothing does not touch the file. A file that is not valid JSON is
//! refused and left alone.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Context, Error, Result};

/// An agent whose hook protocol droidforge speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HookAgent {
    Claude,
    Factory,
    Gemini,
}

impl HookAgent {
    /// The value of `guard --hook`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookAgent::Claude => "claude",
            HookAgent::Factory => "factory",
            HookAgent::Gemini => "gemini",
        }
    }

    /// The agent's file-editing tools (its hook matcher is these names joined by `|`).
    pub fn edit_tools(self) -> &'static [&'static str] {
        match self {
            HookAgent::Claude => &["Write", "Edit", "MultiEdit", "NotebookEdit"],
            HookAgent::Factory => &["Create", "Edit", "MultiEdit", "ApplyPatch"],
            HookAgent::Gemini => &["write_file", "replace"],
        }
    }

    /// Where the hook is installed, relative to the worktree (None: not installed).
    pub fn settings_path(self) -> Option<&'static str> {
        match self {
            HookAgent::Claude => Some(".claude/settings.local.json"),
            HookAgent::Factory => Some(".factory/settings.local.json"),
            HookAgent::Gemini => None,
        }
    }

    /// The hook event the entry is registered under.
    pub fn event(self) -> &'static str {
        match self {
            HookAgent::Gemini => "BeforeTool",
            _ => "PreToolUse",
        }
    }
}

/// The agents whose hooks `spawn` installs.
pub const INSTALLED: [HookAgent; 2] = [HookAgent::Claude, HookAgent::Factory];

/// Seconds an agent waits for the hook before giving up on it.
const HOOK_TIMEOUT_SECS: u64 = 30;

/// The lines `spawn` adds to `info/exclude` so the settings files never show up as changes.
pub fn exclude_lines() -> Vec<String> {
    INSTALLED
        .iter()
        .filter_map(|a| a.settings_path())
        .map(|p| format!("/{p}"))
        .collect()
}

/// What the agent is about to do, as far as ownership is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub tool: String,
    /// The agent's working directory (relative paths are relative to it).
    pub cwd: Option<PathBuf>,
    /// Every path the call writes, creates, deletes or moves to, as the agent gave them.
    pub paths: Vec<String>,
}

/// Read a hook payload. `Ok(None)`: not a file-editing tool, nothing to check. An edit tool
/// whose paths cannot be found is an error, so the hook fails closed.
pub fn parse_payload(agent: HookAgent, bytes: &[u8]) -> Result<Option<ToolCall>> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::failure(format!(
            "the {} hook input is not JSON: {e}",
            agent.as_str()
        ))
    })?;
    let tool = value
        .get("tool_name")
        .or_else(|| value.get("toolName"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !agent.edit_tools().contains(&tool.as_str()) {
        return Ok(None);
    }
    let cwd = value.get("cwd").and_then(Value::as_str).map(PathBuf::from);
    let input = value
        .get("tool_input")
        .or_else(|| value.get("toolInput"))
        .unwrap_or(&Value::Null);
    let mut paths = Vec::new();
    for key in ["file_path", "notebook_path", "path", "filePath"] {
        if let Some(p) = input.get(key).and_then(Value::as_str) {
            push_unique(&mut paths, p);
        }
    }
    // A patch (Factory `ApplyPatch`, or any edit tool given one) names its files inside.
    collect_patch_paths(input, &mut paths);
    if paths.is_empty() {
        return Err(Error::failure(format!(
            "the {} `{tool}` call names no file droidforge can check",
            agent.as_str()
        ))
        .hint("the agent's hook format may have changed: see docs/agents.md"));
    }
    Ok(Some(ToolCall { tool, cwd, paths }))
}

fn push_unique(paths: &mut Vec<String>, p: &str) {
    let p = p.trim();
    if !p.is_empty() && !paths.iter().any(|q| q == p) {
        paths.push(p.to_owned());
    }
}

/// Every string in `value` that looks like a patch contributes the files it touches.
fn collect_patch_paths(value: &Value, paths: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains("*** ") => {
            for p in patch_paths(s) {
                push_unique(paths, &p);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_patch_paths(v, paths)),
        Value::Object(map) => map.values().for_each(|v| collect_patch_paths(v, paths)),
        _ => {}
    }
}

/// The files an `apply_patch` envelope touches: `*** Add File:`, `*** Update File:`,
/// `*** Delete File:` and the destination of `*** Move to:`.
pub fn patch_paths(patch: &str) -> Vec<String> {
    const HEADERS: [&str; 4] = [
        "*** Add File:",
        "*** Update File:",
        "*** Delete File:",
        "*** Move to:",
    ];
    let mut out: Vec<String> = Vec::new();
    for line in patch.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = HEADERS.iter().find_map(|h| line.strip_prefix(h)) {
            push_unique(&mut out, rest);
        }
    }
    out
}

/// The hook command for `agent`: the droidforge binary by absolute path (agents run hooks
/// from a cwd that may change, and PATH may not have droidforge).
pub fn hook_command(exe: &Path, agent: HookAgent) -> String {
    format!(
        "{} guard --hook {}",
        crate::util::text::shell_quote(&exe.to_string_lossy()),
        agent.as_str()
    )
}

/// Is `command` a droidforge hook for `agent` (whatever binary path it names)?
fn is_ours(command: &str, agent: HookAgent) -> bool {
    command
        .trim_end()
        .ends_with(&format!(" guard --hook {}", agent.as_str()))
        && command.contains("droidforge")
}

/// Merge droidforge's hook entry for `agent` into the settings `text` (None: no file yet).
/// Returns the new text, or None when the file already says exactly that.
pub fn merge_settings(
    text: Option<&str>,
    agent: HookAgent,
    exe: &Path,
    file: &Path,
) -> Result<Option<String>> {
    let refuse = |what: String| {
        Error::failure(format!(
            "`{}` {what}; droidforge left it unchanged and did not install its edit hook there",
            file.display()
        ))
        .hint("fix or delete the file, then run `droidforge spawn` for this droid again")
    };
    let mut root = match text {
        None => Value::Object(Map::new()),
        Some(t) if t.trim().is_empty() => Value::Object(Map::new()),
        Some(t) => serde_json::from_str::<Value>(t)
            .map_err(|e| refuse(format!("is not valid JSON ({e})")))?,
    };
    let before = root.clone();
    let Some(obj) = root.as_object_mut() else {
        return Err(refuse("is not a JSON object".to_owned()));
    };
    let hooks = obj
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(hooks) = hooks.as_object_mut() else {
        return Err(refuse(
            "has a `hooks` value that is not an object".to_owned(),
        ));
    };
    let groups = hooks
        .entry(agent.event())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(groups) = groups.as_array_mut() else {
        return Err(refuse(format!(
            "has a `hooks.{}` value that is not a list",
            agent.event()
        )));
    };
    // Drop droidforge's own hooks wherever they are (an older binary path, a moved entry);
    // a group is removed only when droidforge's hooks were all it had.
    groups.retain_mut(|group| {
        let Some(list) = group.get_mut("hooks").and_then(Value::as_array_mut) else {
            return true;
        };
        let had = list.len();
        list.retain(|h| {
            !h.get("command")
                .and_then(Value::as_str)
                .is_some_and(|c| is_ours(c, agent))
        });
        !(list.is_empty() && had > 0)
    });
    groups.push(serde_json::json!({
        "matcher": agent.edit_tools().join("|"),
        "hooks": [{
            "type": "command",
            "command": hook_command(exe, agent),
            "timeout": HOOK_TIMEOUT_SECS,
        }],
    }));
    if text.is_some() && root == before {
        return Ok(None);
    }
    let mut out = serde_json::to_string_pretty(&root).context("cannot serialize settings")?;
    out.push('\n');
    Ok(Some(out))
}

/// Install (or refresh) the hooks in `worktree`; returns the settings files written (relative
/// paths), empty when all were up to date. Stops at the first file it must refuse.
pub fn install(worktree: &Path, exe: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for agent in INSTALLED {
        let Some(rel) = agent.settings_path() else {
            continue;
        };
        let path = worktree.join(rel);
        // A droid branch may commit `.claude` as a link out of the worktree: neither read
        // nor write through it.
        if crate::util::safe_fs::is_link_under(worktree, Path::new(rel)) {
            return Err(crate::util::safe_fs::refuse(
                &path,
                "it or a directory on the way is a symbolic link",
            ));
        }
        let text = match std::fs::read(&path) {
            Ok(bytes) => Some(String::from_utf8(bytes).map_err(|_| {
                Error::failure(format!("`{}` is not UTF-8 text", path.display()))
                    .hint("fix or delete the file, then run `droidforge spawn` again")
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(
                    Error::failure(format!("cannot read `{}`", path.display())).with_source(e)
                );
            }
        };
        if let Some(new) = merge_settings(text.as_deref(), agent, exe, &path)? {
            crate::util::safe_fs::write_under(worktree, rel, new.as_bytes())?;
            written.push(rel.to_owned());
        }
    }
    Ok(written)
}

/// The droidforge binary the hooks should run: this process's executable.
pub fn current_exe() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the droidforge executable")?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &str = "/opt/bin/droidforge";

    fn merged(text: Option<&str>) -> Option<String> {
        merge_settings(text, HookAgent::Claude, Path::new(EXE), Path::new("s.json")).unwrap()
    }

    #[test]
    fn patch_headers_name_every_touched_file() {
        let patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Add File: b.txt\n+hi\n*** Delete File: c.md\n*** Update File: d.rs\n*** Move to: e/d.rs\n*** End Patch\n";
        assert_eq!(
            patch_paths(patch),
            vec!["src/a.rs", "b.txt", "c.md", "d.rs", "e/d.rs"]
        );
    }

    #[test]
    fn merge_keeps_user_keys_and_hooks_and_is_idempotent() {
        let user = r#"{"permissions":{"allow":["Bash(ls)"]},"hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"/usr/bin/audit"}]}]}}"#;
        let once = merged(Some(user)).expect("changed");
        let v: Value = serde_json::from_str(&once).unwrap();
        assert_eq!(v["permissions"]["allow"][0], "Bash(ls)");
        let groups = v["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0]["hooks"][0]["command"], "/usr/bin/audit");
        assert_eq!(groups[1]["matcher"], "Write|Edit|MultiEdit|NotebookEdit");
        assert_eq!(
            groups[1]["hooks"][0]["command"],
            format!("{EXE} guard --hook claude")
        );
        assert_eq!(merged(Some(&once)), None, "a second merge changes nothing");
    }

    #[test]
    fn merge_replaces_an_entry_from_an_older_binary() {
        let old = r#"{"hooks":{"PreToolUse":[{"matcher":"Write","hooks":[{"type":"command","command":"/old/droidforge guard --hook claude"}]}]}}"#;
        let new = merged(Some(old)).expect("changed");
        let v: Value = serde_json::from_str(&new).unwrap();
        let groups = v["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(groups.len(), 1, "{new}");
        assert_eq!(
            groups[0]["hooks"][0]["command"],
            format!("{EXE} guard --hook claude")
        );
    }

    #[test]
    fn merge_refuses_invalid_json_and_odd_shapes() {
        for bad in [
            "{not json",
            "[1]",
            r#"{"hooks":[]}"#,
            r#"{"hooks":{"PreToolUse":{}}}"#,
        ] {
            let err = merge_settings(
                Some(bad),
                HookAgent::Claude,
                Path::new(EXE),
                Path::new("s.json"),
            )
            .unwrap_err();
            assert!(
                err.message.contains("left it unchanged"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn payloads_of_other_tools_are_not_checked() {
        let read = br#"{"tool_name":"Read","tool_input":{"file_path":"/x"}}"#;
        assert_eq!(parse_payload(HookAgent::Claude, read).unwrap(), None);
        let empty = br#"{"tool_name":"Write","tool_input":{}}"#;
        assert!(parse_payload(HookAgent::Claude, empty).is_err());
        assert!(parse_payload(HookAgent::Claude, b"nope").is_err());
    }

    #[test]
    fn every_recorded_payload_names_its_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hooks");
        let cases = [
            ("claude-write.json", HookAgent::Claude, vec!["/w/a.rs"]),
            ("claude-edit.json", HookAgent::Claude, vec!["/w/a.rs"]),
            ("claude-multiedit.json", HookAgent::Claude, vec!["/w/a.rs"]),
            (
                "claude-notebookedit.json",
                HookAgent::Claude,
                vec!["/w/a.rs"],
            ),
            ("factory-create.json", HookAgent::Factory, vec!["/w/a.rs"]),
            ("factory-edit.json", HookAgent::Factory, vec!["/w/a.rs"]),
            (
                "factory-applypatch.json",
                HookAgent::Factory,
                vec!["a.rs", "b.md"],
            ),
            ("gemini-write_file.json", HookAgent::Gemini, vec!["/w/a.rs"]),
        ];
        for (file, agent, want) in cases {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let text = text
                .replace("{{WORKTREE}}", "/w")
                .replace("{{FILE}}", "a.rs")
                .replace("{{FILE2}}", "b.md");
            let call = parse_payload(agent, text.as_bytes())
                .unwrap()
                .unwrap_or_else(|| panic!("{file}: not an edit"));
            assert_eq!(call.paths, want, "{file}");
            assert_eq!(call.cwd.as_deref(), Some(Path::new("/w")), "{file}");
        }
    }
}
