//! `droidforge completions` and `droidforge man` print non-empty scripts and roff.

use crate::common::*;

#[test]
fn completions_for_each_shell_mention_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = df_in(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("droidforge") && text.contains("merge"),
            "{shell}: {text}"
        );
    }
    let out = df_in(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_is_roff_with_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = df_in(dir.path(), &["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(".ie") || text.contains(".TH droidforge"),
        "{text}"
    );
    assert!(text.contains("merge") && text.contains("doctor"));
}
