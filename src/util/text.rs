//! English for messages: counted nouns ("1 commit", "2 commits") instead of "commit(s)".

/// `n` and the noun, plural unless `n` is 1: `count(1, "commit")` is "1 commit".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(super::count(0, "commit"), "0 commits");
        assert_eq!(super::count(1, "commit"), "1 commit");
        assert_eq!(super::count(2, "droid"), "2 droids");
    }
}
