//! TODO checkbox parsing (and, later, PROGRESS.md / FILE_OWNERSHIP.md rendering).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_checkboxes() {
        let text = "# T\n- [x] a\n- [~] b\n  - [ ] c\n* [X] d\n1. [ ] e\n- not a box\n- [?] odd\n";
        let p = parse_todo(text);
        assert_eq!((p.done, p.in_progress, p.open), (2, 1, 2));
        assert_eq!(p.percent(), Some(50));
        assert_eq!(parse_todo("nothing").percent(), None);
    }
}
