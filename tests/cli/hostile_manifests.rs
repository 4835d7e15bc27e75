//! The fuzz campaign kept in `cargo test`: thousands of generated manifests and TODO files go
//! through the same entry points as the cargo-fuzz targets (`droidforge::forge::manifest::fuzz_manifest`,
//! `droidforge::forge::progress::fuzz_todo`): no panic, every rejection exit 2 with a position.
//! A few generated bad manifests also go through the binary (`plan --check`).

use proptest::prelude::*;

use crate::common::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}",
        Just("main".to_owned()),
        Just("".to_owned()),
        "[ -~]{0,6}",
        "\\PC{0,4}",
    ]
}

fn glob() -> impl Strategy<Value = String> {
    prop_oneof![
        "(src|lib|docs|\\.droidforge|\\.\\.|/|\\*\\*|\\*|[a-z]{1,4})(/(\\*\\*|\\*|[a-z{},\\[\\]!]{1,5}|\\.\\.)){0,3}",
        Just(".".to_owned()),
        Just("PROGRESS.md".to_owned()),
        Just("**".to_owned()),
        "[ -~]{0,8}",
    ]
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn droid() -> impl Strategy<Value = String> {
    (
        name(),
        prop::collection::vec(0u8..4, 0..3),
        prop::collection::vec(glob(), 0..4),
        prop::collection::vec(name(), 0..3),
        prop::option::of(glob()),
        any::<bool>(),
    )
        .prop_map(|(name, phases, owns, after, todo, role)| {
            let mut s = format!("[[droid]]\nname = {}\n", toml_str(&name));
            if role {
                s.push_str("role = \"R\"\n");
            }
            s.push_str(&format!("phases = {phases:?}\n"));
            let owns: Vec<String> = owns.iter().map(|g| toml_str(g)).collect();
            s.push_str(&format!("owns = [{}]\n", owns.join(", ")));
            if !after.is_empty() {
                let after: Vec<String> = after.iter().map(|a| toml_str(a)).collect();
                s.push_str(&format!("after = [{}]\n", after.join(", ")));
            }
            if let Some(t) = todo {
                s.push_str(&format!("todo = {}\n", toml_str(&t)));
            }
            s
        })
}

fn manifest() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(0u8..4, 0..3),
        prop::collection::vec(droid(), 0..5),
        prop::option::of((name(), name(), glob())),
        prop::collection::vec(glob(), 0..3),
    )
        .prop_map(|(phases, droids, forge, shared)| {
            let mut s = String::new();
            if let Some((integration, prefix, worktree_dir)) = forge {
                s.push_str(&format!(
                    "[forge]\nintegration = {}\nbranch_prefix = {}\nworktree_dir = {}\n\n",
                    toml_str(&integration),
                    toml_str(&prefix),
                    toml_str(&worktree_dir)
                ));
            }
            if !shared.is_empty() {
                let shared: Vec<String> = shared.iter().map(|g| toml_str(g)).collect();
                s.push_str(&format!("[paths]\nshared = [{}]\n\n", shared.join(", ")));
            }
            for p in phases {
                s.push_str(&format!("[[phase]]\nid = {p}\n\n"));
            }
            for d in droids {
                s.push_str(&d);
                s.push('\n');
            }
            s
        })
}

/// Mutations a hostile or careless edit makes: cut, splice random bytes, duplicate a line.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        manifest(),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..6),
        0u8..3,
    )
        .prop_map(|(m, at, junk, how)| {
            let mut b = m.into_bytes();
            let i = if b.is_empty() { 0 } else { at.index(b.len()) };
            match how {
                0 => b.truncate(i),
                1 => {
                    b.splice(i..i, junk);
                }
                _ => {
                    let line: Vec<u8> = b[i..].split(|c| *c == b'\n').next().unwrap().to_vec();
                    b.splice(i..i, line.into_iter().chain([b'\n']));
                }
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_manifests_are_accepted_or_rejected_with_a_position(m in manifest()) {
        if let Err(broken) = droidforge::forge::manifest::fuzz_manifest(m.as_bytes()) {
            prop_assert!(false, "{broken}\n--- manifest ---\n{m}");
        }
    }

    #[test]
    fn mutated_manifests_are_accepted_or_rejected_with_a_position(b in mutated()) {
        if let Err(broken) = droidforge::forge::manifest::fuzz_manifest(&b) {
            prop_assert!(false, "{broken}\n--- manifest ---\n{}", String::from_utf8_lossy(&b));
        }
    }

    #[test]
    fn random_bytes_as_a_manifest_are_rejected_with_a_position(b in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Err(broken) = droidforge::forge::manifest::fuzz_manifest(&b) {
            prop_assert!(false, "{broken}");
        }
    }

    #[test]
    fn generated_todo_files_parse_without_panic(b in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "((\\s{0,3}([-*+]|[0-9]{1,3}\\.) \\[[ xX~?]?\\]?[^\n]{0,5})?\n){0,8}".prop_map(String::into_bytes),
    ]) {
        if let Err(broken) = droidforge::forge::progress::fuzz_todo(&b) {
            prop_assert!(false, "{broken}\n--- todo ---\n{}", String::from_utf8_lossy(&b));
        }
    }
}

/// Bad manifests through the binary: `plan --check` exits 2 and names a position.
#[test]
fn generated_bad_manifests_exit_2_with_a_position_from_plan_check() {
    let bad: [&[u8]; 5] = [
        b"[[phase]]\nid = 1\n[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"src/**\"\n",
        b"[[phase]]\nid = 1\n[[droid]]\nname = \"a b\"\nphases = [1]\nowns = [\"src/**\"]\n",
        b"[[phase]]\nid = 1\n[[droid]]\nname = \"a\"\nphases = [2]\nowns = [\"../x\"]\n",
        b"[[phase]]\nid = 1\n[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"src/**\"]\nafter = [\"zz\"]\n",
        b"[[phase]]\nid = 1\n[[droid]]\nname = \"\xff\xfe\"\n",
    ];
    for bytes in bad {
        let repo = TestRepo::new();
        repo.commit("init", &[("README.md", "r\n")]);
        std::fs::create_dir_all(repo.path(".droidforge")).unwrap();
        std::fs::write(repo.path(MANIFEST), bytes).unwrap();
        let out = repo.df(&["plan", "--check"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let placed = err
            .split(".droidforge/forge.toml:")
            .skip(1)
            .any(|r| r.starts_with(|c: char| c.is_ascii_digit()));
        assert!(placed, "no position in: {err}");
    }
}
