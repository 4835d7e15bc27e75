//! Text for messages: counted nouns ("1 commit", "2 commits") instead of "commit(s)", and
//! free text folded onto one line for journals, tables and briefs, and values quoted for `sh`.

/// `n` and the noun, plural unless `n` is 1: `count(1, "commit")` is "1 commit".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `message` on one line: every run of whitespace (newlines included) becomes one space.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Quote a value for POSIX `sh`: bare when it is made of safe characters, else single-quoted
/// (agent command templates, the demo's agent command, droidforge's own git hooks).
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c));
    if safe {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_quoting_is_bare_only_for_safe_text() {
        use super::shell_quote;
        assert_eq!(shell_quote("plain/path-1.txt"), "plain/path-1.txt");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("~/hooks"), "'~/hooks'");
    }

    #[test]
    fn one_line_folds_every_whitespace_run() {
        assert_eq!(
            super::one_line("  export\n\t `Manager::new`  "),
            "export `Manager::new`"
        );
    }

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(super::count(0, "commit"), "0 commits");
        assert_eq!(super::count(1, "commit"), "1 commit");
        assert_eq!(super::count(2, "droid"), "2 droids");
    }
}
