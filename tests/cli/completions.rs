//! `droidforge completions` (dynamic: droid names and phase ids from the manifest) and
//! `droidforge man` (one page per command with `--dir`).

use std::process::Command;

use crate::common::*;

#[test]
fn completions_for_each_shell_register_the_dynamic_completer() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = df_in(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("droidforge") && text.contains("COMPLETE"),
            "{shell}: {text}"
        );
    }
    let out = df_in(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

/// What a shell's completion function gets for the words typed so far.
fn complete(dir: &std::path::Path, shell: &str, words: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(droidforge_bin());
    hermetic(&mut cmd);
    cmd.current_dir(dir)
        .env("COMPLETE", shell)
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .arg("--")
        .args(words);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{shell}: {}", stderr(&out));
    stdout(&out)
        .lines()
        // fish: `value<TAB>help`; zsh: `value:help`.
        .map(|l| l.split(['\t', ':']).next().unwrap_or("").to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Issue 11 item 13: completion knew the commands but not the forge's droids or phases.
#[test]
fn completions_are_thin_without_droid_names_and_phase_ids() {
    let repo = two_droid_repo();
    for shell in ["bash", "fish", "zsh"] {
        let got = complete(&repo.root, shell, &["droidforge", "spawn", "co"]);
        assert!(got.iter().any(|c| c == "core-droid"), "{shell}: {got:?}");
        assert!(!got.iter().any(|c| c == "infra-droid"), "{shell}: {got:?}");
        let got = complete(&repo.root, shell, &["droidforge", "merge", "--phase", ""]);
        assert!(got.iter().any(|c| c == "1"), "{shell}: {got:?}");
    }
    let got = complete(&repo.root, "bash", &["droidforge", "status", ""]);
    assert!(
        got.iter().any(|c| c == "core-droid") && got.iter().any(|c| c == "infra-droid"),
        "{got:?}"
    );
    // Outside a forge it completes no droid and does not fail.
    let dir = tempfile::tempdir().unwrap();
    let got = complete(dir.path(), "bash", &["droidforge", "spawn", "co"]);
    assert!(!got.iter().any(|c| c == "core-droid"), "{got:?}");
}

#[test]
fn man_page_is_roff_with_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = df_in(dir.path(), &["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(".TH droidforge"), "{text}");
    assert!(text.contains("merge") && text.contains("doctor"));
}

/// Issue 11 item 13: the top page refers to droidforge-init(1) and friends, which did not exist.
#[test]
fn man_renders_only_the_top_level_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = df_in(dir.path(), &["man", "--dir", "pages"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pages = dir.path().join("pages");
    let top = std::fs::read_to_string(pages.join("droidforge.1")).unwrap();
    // Every page the top page refers to exists and describes its command.
    let mut referred = 0;
    for sub in [
        "init", "plan", "spawn", "run", "status", "done", "merge", "check", "man",
    ] {
        assert!(
            top.contains(&format!("droidforge\\-{sub}(1)")),
            "{sub}: {top}"
        );
        let page = std::fs::read_to_string(pages.join(format!("droidforge-{sub}.1")))
            .unwrap_or_else(|_| panic!("droidforge-{sub}.1 missing"));
        assert!(page.contains(&format!(".TH droidforge-{sub} 1")), "{page}");
        referred += 1;
    }
    assert_eq!(referred, 9);
    // Hidden internal commands get no page.
    assert!(!pages.join("droidforge-scripted-agent.1").exists());
}
