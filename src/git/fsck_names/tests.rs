//! Unit tests of the fsck name rules (kept beside the module so it stays readable).

use super::*;

fn bad(name: &str) -> bool {
    entry_problem(name.as_bytes(), MODE_BLOB).is_some()
}

#[test]
fn dotgit_variants_are_refused_on_every_platform() {
    for name in [
        ".git",
        ".GIT",
        ".Git",
        ".git ",
        ".git.",
        ".git. . ",
        "git~1",
        "GIT~1",
        ".git::$INDEX_ALLOCATION",
        "git~1:stream",
        ".g\u{200c}it",
        "\u{feff}.git",
        "foo\\.git",
        ".git\\foo",
    ] {
        assert!(bad(name), "{name:?} should be refused");
    }
    for name in [
        ".gitignore",
        ".github",
        "git",
        ".gitx",
        "git~2",
        "a.git",
        "..a",
    ] {
        assert!(!bad(name), "{name:?} should be allowed");
    }
}

#[test]
fn structural_names_are_refused() {
    for name in ["", ".", "..", "a/b", "../x", "a\\..\\b"] {
        assert!(bad(name), "{name:?} should be refused");
    }
}

#[test]
fn gitmodules_must_be_a_regular_file() {
    for name in [
        ".gitmodules",
        ".GITMODULES",
        "gitmod~1",
        ".gitmodules ",
        "gi7eba~1",
    ] {
        assert!(
            entry_problem(name.as_bytes(), MODE_LINK).is_some(),
            "{name:?}"
        );
        assert!(
            entry_problem(name.as_bytes(), MODE_TREE).is_some(),
            "{name:?}"
        );
        assert!(
            entry_problem(name.as_bytes(), MODE_BLOB).is_none(),
            "{name:?}"
        );
    }
    assert!(entry_problem(b".gitmodulesx", MODE_LINK).is_none());
}

#[test]
fn gitmodules_and_gitattributes_contents() {
    assert!(gitmodules_problem(b"[submodule \"../../x\"]\n\tpath = x\n").is_some());
    assert!(gitmodules_problem(b"[submodule \"x\"]\n\turl = --upload-pack=evil\n").is_some());
    assert!(gitmodules_problem(b"[submodule \"x\"]\n\turl = https://a/%0ab\n").is_some());
    assert!(gitmodules_problem(b"[submodule \"x\"]\n\turl = ../../:evil\n").is_some());
    assert!(gitmodules_problem(b"[submodule \"x\"]\n\tpath = -x\n").is_some());
    assert!(gitmodules_problem(b"[submodule \"x\"]\n\tupdate = !rm -rf /\n").is_some());
    let ok = b"[submodule \"lib/x\"]\n\tpath = lib/x\n\turl = ../x.git\n\tupdate = rebase\n";
    assert!(gitmodules_problem(ok).is_none());
    assert!(gitattributes_problem(&[b'a'; 3000]).is_some());
    assert!(gitattributes_problem(b"*.rs diff=rust\n").is_none());
    assert!(is_gitattributes(b".GITATTRIBUTES") && is_gitattributes(b"gitatt~1"));
}

#[test]
fn modes_and_order() {
    assert!(mode_problem(0o100664, false).is_some());
    assert!(mode_problem(0o40000, true).is_some());
    assert!(mode_problem(0o100644, false).is_none());
    assert_eq!(verify_ordered(MODE_BLOB, b"a", MODE_BLOB, b"a"), Err(true));
    assert_eq!(verify_ordered(MODE_BLOB, b"a.c", MODE_TREE, b"a"), Ok(()));
    assert_eq!(
        verify_ordered(MODE_TREE, b"a", MODE_BLOB, b"a.c"),
        Err(false)
    );
    assert_eq!(verify_ordered(MODE_BLOB, b"a", MODE_TREE, b"a"), Err(true));
}

/// Names built from the spellings the rules look for (`.git`, short names, `.gitmodules`,
/// HFS+-ignored code points, …), with what may precede and follow them.
fn name_near_a_rule() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let special = proptest::sample::select(vec![
        "",
        ".",
        "..",
        ".git",
        ".GiT",
        "git~1",
        "GIT~1",
        "gitmod~1",
        "GITMOD~4",
        "gi7eba~1",
        "gi7eba~9",
        "~1",
        "~9",
        "gitatt~1",
        "gi7d29~2",
        ".gitmodules",
        ".GITMODULES",
        ".gitattributes",
        "\u{200c}.git",
        "\u{feff}.gitmodules",
        "g",
        "gi",
    ]);
    let piece = proptest::sample::select(b" .:x/\\~1gGaT".to_vec());
    (
        proptest::option::of(proptest::sample::select(b"aZ_-9".to_vec())),
        special,
        proptest::collection::vec(piece, 0..4),
    )
        .prop_map(|(lead, special, tail)| {
            let mut name: Vec<u8> = lead.into_iter().collect();
            name.extend_from_slice(special.as_bytes());
            name.extend(tail);
            name
        })
}

proptest::proptest! {
    /// The shortcut that skips the rules for a plain name (one that does not start with `.`,
    /// `g`, `G`, `~` or a non-ASCII byte and holds no `/` or `\`) must never skip a name a rule
    /// refuses, or a `.gitmodules`/`.gitattributes` spelling whose contents git reads.
    #[test]
    fn a_plain_name_is_one_no_rule_applies_to(
        name in name_near_a_rule(),
        mode in proptest::sample::select(vec![MODE_BLOB, MODE_EXEC, MODE_LINK, MODE_TREE, MODE_GITLINK]),
    ) {
        if is_plain_name(&name) {
            proptest::prop_assert_eq!(name_problem(&name, mode), None);
            proptest::prop_assert!(!is_gitmodules(&name) && !is_gitattributes(&name));
        } else {
            proptest::prop_assert_eq!(entry_problem(&name, mode), name_problem(&name, mode));
        }
    }
}
