//! The demo's fixture text: the project the four droids start from and the script each one
//! follows. The text lives in files under `src/demo/fixtures/` (real files, easy to read and
//! diff), compiled in with `include_str!`.

use super::script::Script;

/// The demo's manifest (`.droidforge/forge.toml`).
const MANIFEST: &str = include_str!("fixtures/forge.toml");

/// The project's files at its first commit: (path in the repository, text).
pub fn project_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (".droidforge/forge.toml", MANIFEST),
        ("README.md", include_str!("fixtures/project/README.md")),
        (
            "INTERFACES.md",
            include_str!("fixtures/project/INTERFACES.md"),
        ),
        ("PROGRESS.md", include_str!("fixtures/project/PROGRESS.md")),
        (
            "FILE_OWNERSHIP.md",
            include_str!("fixtures/project/FILE_OWNERSHIP.md"),
        ),
        (
            "src/execution/manager.ts",
            include_str!("fixtures/project/src/execution/manager.ts"),
        ),
        (
            "TODO_CORE.md",
            include_str!("fixtures/project/TODO_CORE.md"),
        ),
        (
            "TODO_ISOLATION.md",
            include_str!("fixtures/project/TODO_ISOLATION.md"),
        ),
        (
            "TODO_INFRA.md",
            include_str!("fixtures/project/TODO_INFRA.md"),
        ),
        (
            "TODO_TEST.md",
            include_str!("fixtures/project/TODO_TEST.md"),
        ),
    ]
}

/// The four droids' scripts, as JSON (the format `scripted-agent --script` reads).
const SCRIPTS: &[(&str, &str)] = &[
    (
        "core-droid",
        include_str!("fixtures/scripts/core-droid.json"),
    ),
    (
        "isolation-droid",
        include_str!("fixtures/scripts/isolation-droid.json"),
    ),
    (
        "infra-droid",
        include_str!("fixtures/scripts/infra-droid.json"),
    ),
    (
        "test-droid",
        include_str!("fixtures/scripts/test-droid.json"),
    ),
];

/// The four droids' scripts. What each one does, and the two mistakes the demo is about
/// (isolation-droid appends to core-droid's `manager.ts`; test-droid and core-droid rewrite
/// the same `requestNext` line of INTERFACES.md differently), is in the JSON files.
pub fn scripts() -> Vec<(&'static str, Script)> {
    SCRIPTS
        .iter()
        .map(|(droid, json)| {
            let script = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("the demo script of {droid} is not valid: {e}"));
            (*droid, script)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_script_parses_and_round_trips() {
        let scripts = scripts();
        assert_eq!(scripts.len(), 4);
        for (_, script) in scripts {
            assert!(!script.steps.is_empty());
            let text = serde_json::to_string(&script).unwrap();
            let back: Script = serde_json::from_str(&text).unwrap();
            assert_eq!(back, script);
        }
    }

    #[test]
    fn the_fixture_manifest_is_valid() {
        let forge = crate::forge::manifest::Forge::parse(MANIFEST, "demo manifest", true).unwrap();
        assert_eq!(forge.manifest.droids.len(), 4);
    }
}
