//! TODO checkbox parsing and PROGRESS.md rendering (status tables per phase + merge log).
//!
//! A TODO file is Markdown with task-list items: `- [x]` done, `- [~]` in progress, `- [ ]`
//! open (`*` and `+` bullets and numbered items work too).

use serde::Serialize;

/// Checkbox counts of one TODO file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TodoProgress {
    pub done: usize,
    pub in_progress: usize,
    pub open: usize,
}

impl TodoProgress {
    pub fn total(&self) -> usize {
        self.done + self.in_progress + self.open
    }

    /// Percent done; an in-progress item counts half. `None` when there are no items.
    pub fn percent(&self) -> Option<u8> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let score = self.done * 2 + self.in_progress;
        Some(((score * 100) / (total * 2)) as u8)
    }
}

/// Count the checkboxes in a TODO file's text.
pub fn parse_todo(text: &str) -> TodoProgress {
    let mut p = TodoProgress::default();
    for line in text.lines() {
        let l = line.trim_start();
        let rest = if let Some(r) = l
            .strip_prefix("- ")
            .or_else(|| l.strip_prefix("* "))
            .or_else(|| l.strip_prefix("+ "))
        {
            r
        } else {
            // `1. [x] …`
            let digits = l.chars().take_while(|c| c.is_ascii_digit()).count();
            match l[digits..].strip_prefix(". ") {
                Some(r) if digits > 0 => r,
                _ => continue,
            }
        };
        let rest = rest.trim_start();
        if rest.len() < 3 || !rest.starts_with('[') || rest.as_bytes()[2] != b']' {
            continue;
        }
        match rest.as_bytes()[1] {
            b'x' | b'X' => p.done += 1,
            b'~' => p.in_progress += 1,
            b' ' => p.open += 1,
            _ => {}
        }
    }
    p
}

/// The text of the first item of a TODO file that is not done (`- [ ]` or `- [~]`): what the
/// droid works on next.
pub fn first_open_item(text: &str) -> Option<String> {
    for line in text.lines() {
        let l = line.trim_start();
        let rest = l
            .strip_prefix("- ")
            .or_else(|| l.strip_prefix("* "))
            .or_else(|| l.strip_prefix("+ "))
            .or_else(|| {
                let digits = l.chars().take_while(|c| c.is_ascii_digit()).count();
                l[digits..].strip_prefix(". ").filter(|_| digits > 0)
            });
        let Some(rest) = rest.map(str::trim_start) else {
            continue;
        };
        if let Some(item) = rest
            .strip_prefix("[ ]")
            .or_else(|| rest.strip_prefix("[~]"))
        {
            let item = item.trim();
            if !item.is_empty() {
                return Some(item.to_owned());
            }
        }
    }
    None
}

/// One row of a phase's status table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    pub droid: String,
    /// Symbol and word, e.g. `🟢 merged`.
    pub status: String,
    pub todo: Option<u8>,
    pub merged_commit: Option<String>,
    /// The first TODO item not done yet.
    pub next: Option<String>,
    /// Agent attempts `run --land` made (none when no loop ran it).
    pub attempts: Option<u32>,
    pub notes: String,
}

/// The status table of one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseTable {
    pub title: String,
    pub rows: Vec<StatusRow>,
}

/// One row of the merge log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogRow {
    pub merge_id: String,
    pub date: String,
    pub droid: String,
    pub commits: usize,
    pub result: String,
    pub reasons: String,
}

pub const PROGRESS_PATH: &str = "PROGRESS.md";
const LOG_HEADING: &str = "## Merge log";
const LOG_HEADER: &str = "| Merge | Date | Droid | Commits | Result | Reasons |";
const LOG_RULE: &str = "|---|---|---|---|---|---|";

/// The rows of the merge log in an existing PROGRESS.md, verbatim (each a `| … |` line).
pub fn parse_merge_log(text: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut in_log = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("## ") {
            in_log = t == LOG_HEADING;
            continue;
        }
        if !in_log || !t.starts_with('|') {
            continue;
        }
        if t == LOG_HEADER || t.trim_start_matches('|').starts_with("---") {
            continue;
        }
        rows.push(t.to_owned());
    }
    rows
}

/// Escape a table cell: no pipes or newlines.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Render the whole PROGRESS.md: a header, one status table per phase, what is blocked
/// (`blocked`: one line each, e.g. "`infra-droid` waits for `core-droid`"), and the merge log
/// (the old rows followed by the new ones).
pub fn render_progress(
    tables: &[PhaseTable],
    blocked: &[String],
    old_log: &[String],
    new_log: &[LogRow],
) -> String {
    let mut out = String::new();
    out.push_str("# Progress\n\n");
    out.push_str(
        "<!-- Generated by droidforge (`droidforge merge`, `droidforge progress --write`). \
         Do not edit by hand: droids may not change this file. -->\n\n",
    );
    out.push_str(
        "Status: 🔵 pending · 🟡 in progress · 🟢 merged · 🔴 conflict · ⛔ violation · ⏭ skipped\n",
    );
    for table in tables {
        out.push_str(&format!("\n## {}\n\n", table.title));
        out.push_str("| Droid | Status | TODO | Next | Attempts | Merged commit | Notes |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for r in &table.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                cell(&r.droid),
                cell(&r.status),
                r.todo
                    .map(|p| format!("{p}%"))
                    .unwrap_or_else(|| "–".to_owned()),
                r.next
                    .as_deref()
                    .map(cell)
                    .unwrap_or_else(|| "–".to_owned()),
                r.attempts
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "–".to_owned()),
                r.merged_commit
                    .as_deref()
                    .map(|c| format!("`{c}`"))
                    .unwrap_or_else(|| "–".to_owned()),
                cell(&r.notes),
            ));
        }
    }
    out.push_str("\n## Blocked\n\n");
    if blocked.is_empty() {
        out.push_str("Nothing is blocked.\n");
    }
    for line in blocked {
        out.push_str(&format!("- {}\n", line.replace(['\n', '\r'], " ")));
    }
    out.push_str(&format!("\n{LOG_HEADING}\n\n{LOG_HEADER}\n{LOG_RULE}\n"));
    for row in old_log {
        out.push_str(row);
        out.push('\n');
    }
    for r in new_log {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(&r.merge_id),
            cell(&r.date),
            cell(&r.droid),
            r.commits,
            cell(&r.result),
            cell(&r.reasons),
        ));
    }
    out
}

/// Fuzzing entry point for the TODO checkbox parser (shared by `fuzz/fuzz_targets/todo.rs` and
/// the proptest in `cargo test`): any bytes, read as lossy UTF-8 like a TODO file, never panic
/// and give counts that add up. `Err` describes a broken contract.
#[doc(hidden)]
pub fn fuzz_todo(bytes: &[u8]) -> std::result::Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let p = parse_todo(&text);
    let lines = text.lines().count();
    let counted = p.done + p.open + p.in_progress;
    if counted > lines {
        return Err(format!("{counted} checkboxes counted in {lines} lines"));
    }
    if p.percent().is_some_and(|v| v > 100) {
        return Err(format!("{p:?} is over 100 %"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_item_is_the_first_not_done() {
        let text = "# T\n- [x] a\n1. [~] half done\n- [ ] c\n";
        assert_eq!(first_open_item(text).as_deref(), Some("half done"));
        assert_eq!(
            first_open_item("- [x] a\n- [ ]   \n* [ ] b\n").as_deref(),
            Some("b")
        );
        assert_eq!(first_open_item("- [x] a\n"), None);
    }

    #[test]
    fn counts_checkboxes() {
        let text = "# T\n- [x] a\n- [~] b\n  - [ ] c\n* [X] d\n1. [ ] e\n- not a box\n- [?] odd\n";
        let p = parse_todo(text);
        assert_eq!((p.done, p.in_progress, p.open), (2, 1, 2));
        assert_eq!(p.percent(), Some(50));
        assert_eq!(parse_todo("nothing").percent(), None);
    }

    #[test]
    fn merge_log_round_trips() {
        let table = PhaseTable {
            title: "Phase 1 — One".into(),
            rows: vec![StatusRow {
                droid: "a".into(),
                status: "🟢 merged".into(),
                todo: Some(50),
                merged_commit: Some("abc1234".into()),
                next: Some("write | tests".into()),
                attempts: Some(2),
                notes: "x | y".into(),
            }],
        };
        let row = |id: &str| LogRow {
            merge_id: id.into(),
            date: "2026-01-01 00:00 UTC".into(),
            droid: "a".into(),
            commits: 2,
            result: "🟢 merged".into(),
            reasons: String::new(),
        };
        let first = render_progress(std::slice::from_ref(&table), &[], &[], &[row("m1")]);
        assert!(first.contains("x \\| y"));
        assert!(first.contains("| write \\| tests | 2 |"), "{first}");
        assert!(
            first.contains("## Blocked\n\nNothing is blocked.\n"),
            "{first}"
        );
        let old = parse_merge_log(&first);
        assert_eq!(old.len(), 1);
        let second = render_progress(&[table], &["`b` waits for `a`".into()], &old, &[row("m2")]);
        assert!(
            second.contains("## Blocked\n\n- `b` waits for `a`\n"),
            "{second}"
        );
        let rows = parse_merge_log(&second);
        assert_eq!(rows.len(), 2);
        assert!(rows[0].contains("m1") && rows[1].contains("m2"));
    }
}
