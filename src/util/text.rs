//! Text for messages: counted nouns ("1 commit", "2 commits") instead of "commit(s)", and
//! free text folded onto one line for journals, tables and briefs.

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

#[cfg(test)]
mod tests {
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
