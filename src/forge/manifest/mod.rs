//! The forge manifest: load `.droidforge/forge.toml`, validate it, and answer questions about
//! droids, phases and dependency order.
//!
//! The merger and CI read the manifest from the integration branch (the trusted side), so
//! loading works on text from any source; [`Forge::parse`] takes the text plus a label used
//! in error messages.

pub mod overlap;
mod schema;
mod validate;

pub use overlap::{Overlap, Overlaps};
pub use schema::*;
pub use validate::{Problem, Severity, line_of};

use crate::error::{Error, ExitKind, Result};
use crate::forge::ownership::Rules;

/// Where the manifest lives, relative to the repository root.
pub const MANIFEST_PATH: &str = ".droidforge/forge.toml";

/// A validated manifest with its compiled ownership rules.
#[derive(Debug, Clone)]
pub struct Forge {
    pub manifest: Manifest,
    pub rules: Rules,
    /// The manifest text, to place overlap findings on their lines.
    pub(crate) text: String,
    /// Label used in messages: a path, or `main:.droidforge/forge.toml`.
    pub source: String,
}

impl Forge {
    /// Parse and validate manifest bytes as read from a file or blob: text that is not UTF-8
    /// is an invalid manifest (exit 2) placed at its line and byte offset.
    pub fn parse_bytes(bytes: &[u8], source: &str, strict: bool) -> Result<Forge> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Forge::parse(text, source, strict),
            Err(e) => {
                let at = e.valid_up_to();
                let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
                let problem = Problem::error(
                    Some(line),
                    format!("the manifest is not valid UTF-8 (byte offset {at})"),
                    "save the file as UTF-8 (TOML requires it)".to_owned(),
                );
                Err(invalid(source, &[problem]))
            }
        }
    }

    /// Parse and validate manifest text. Ownership overlaps are not analysed (that is
    /// [`Forge::overlaps`], for `plan`), except that `strict` makes any overlap an error.
    pub fn parse(text: &str, source: &str, strict: bool) -> Result<Forge> {
        let manifest: Manifest = match toml::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                let line = e
                    .span()
                    // 1-based: newlines before the error's start, plus one.
                    .map(|s| {
                        text.as_bytes()[..s.start.min(text.len())]
                            .iter()
                            .filter(|b| **b == b'\n')
                            .count()
                            + 1
                    });
                let problem = Problem::error(line, toml_message(&e), toml_hint(&e));
                return Err(invalid(source, &[problem]));
            }
        };
        let errors = validate::validate(&manifest, text);
        if !errors.is_empty() {
            return Err(invalid(source, &errors));
        }
        let rules = build_rules(&manifest).map_err(|p| invalid(source, &[p]))?;
        let forge = Forge {
            manifest,
            rules,
            text: text.to_owned(),
            source: source.to_owned(),
        };
        if strict {
            let found = forge.overlaps();
            if !found.found.is_empty() {
                let errors: Vec<Problem> = forge
                    .overlap_problems(&found)
                    .into_iter()
                    .map(|p| Problem {
                        severity: Severity::Error,
                        ..p
                    })
                    .collect();
                return Err(invalid(source, &errors));
            }
        }
        Ok(forge)
    }

    /// Droids whose `owns` patterns can match a common path (see [`overlap`]).
    pub fn overlaps(&self) -> Overlaps {
        overlap::find(&self.manifest)
    }

    /// Overlap findings as warnings with their manifest lines: the first few, then a summary.
    pub fn overlap_problems(&self, found: &Overlaps) -> Vec<Problem> {
        overlap::overlap_problems(&self.text, found)
    }

    pub fn droids(&self) -> &[Droid] {
        &self.manifest.droids
    }

    pub fn droid(&self, name: &str) -> Option<&Droid> {
        self.manifest.droids.iter().find(|d| d.name == name)
    }

    /// Look a droid up by name, with a "did you mean" hint on failure.
    pub fn require_droid(&self, name: &str) -> Result<&Droid> {
        self.droid(name).ok_or_else(|| {
            let mut err = Error::usage(format!("no droid named `{name}` in {}", self.source));
            if let Some(similar) = crate::error::similar_name(
                name,
                self.manifest.droids.iter().map(|d| d.name.as_str()),
            ) {
                err = err.hint(format!("a droid with a similar name exists: `{similar}`"));
            } else {
                let names: Vec<&str> = self
                    .manifest
                    .droids
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect();
                err = err.hint(format!("known droids: {}", names.join(", ")));
            }
            err
        })
    }

    pub fn branch_prefix(&self) -> &str {
        &self.manifest.forge.branch_prefix
    }

    /// The droid branch's short name, e.g. `droidforge/core-droid`.
    pub fn branch_of(&self, droid: &str) -> String {
        format!("{}{}", self.manifest.forge.branch_prefix, droid)
    }

    /// The droid whose branch is `branch` (short name), if any.
    pub fn droid_of_branch(&self, branch: &str) -> Option<&Droid> {
        let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
        let name = branch.strip_prefix(self.branch_prefix())?;
        self.droid(name)
    }

    pub fn phase(&self, id: u32) -> Option<&Phase> {
        self.manifest.phases.iter().find(|p| p.id == id)
    }

    /// Droids that work in phase `id` (manifest order).
    pub fn droids_in_phase(&self, id: u32) -> Vec<&Droid> {
        self.manifest
            .droids
            .iter()
            .filter(|d| d.phases.contains(&id))
            .collect()
    }

    /// Resolve a user selection: explicit names, a phase, or all droids. Errors on unknown names
    /// and on an unknown or empty phase.
    pub fn select(&self, names: &[String], phase: Option<u32>, all: bool) -> Result<Vec<&Droid>> {
        if let Some(id) = phase {
            if self.phase(id).is_none()
                && !self.manifest.droids.iter().any(|d| d.phases.contains(&id))
            {
                let ids: Vec<String> = self
                    .manifest
                    .phases
                    .iter()
                    .map(|p| p.id.to_string())
                    .collect();
                return Err(Error::usage(format!("no phase {id} in {}", self.source))
                    .hint(format!("known phases: {}", ids.join(", "))));
            }
            let droids = self.droids_in_phase(id);
            if droids.is_empty() {
                return Err(
                    Error::usage(format!("phase {id} has no droids")).hint(format!(
                        "add `{id}` to the `phases` of a droid in {}",
                        self.source
                    )),
                );
            }
            return Ok(droids);
        }
        if all || names.is_empty() {
            return Ok(self.manifest.droids.iter().collect());
        }
        let mut out: Vec<&Droid> = Vec::new();
        for name in names {
            let droid = self.require_droid(name)?;
            if !out.iter().any(|d| d.name == droid.name) {
                out.push(droid);
            }
        }
        Ok(out)
    }

    /// Deterministic merge order over all droids: topological by `after`, ties broken by first
    /// phase, then name. Validation already rejected cycles.
    pub fn order(&self) -> Vec<&Droid> {
        use std::cmp::Reverse;
        use std::collections::{BinaryHeap, HashMap};
        // Kahn's algorithm with a min-heap on (first phase, name): each step takes the smallest
        // droid whose known dependencies are all placed. Linear-logarithmic, so 10,000 droids
        // order at once.
        let droids = &self.manifest.droids;
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, d) in droids.iter().enumerate() {
            by_name.entry(d.name.as_str()).or_default().push(i);
        }
        let mut waiting = vec![0usize; droids.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); droids.len()];
        for (i, d) in droids.iter().enumerate() {
            for dep in &d.after {
                // Unknown dependencies are ignored (validation reports them).
                for &j in by_name.get(dep.as_str()).into_iter().flatten() {
                    waiting[i] += 1;
                    dependents[j].push(i);
                }
            }
        }
        let key = |i: usize| Reverse((droids[i].first_phase(), droids[i].name.as_str(), i));
        let mut ready: BinaryHeap<_> = (0..droids.len())
            .filter(|&i| waiting[i] == 0)
            .map(key)
            .collect();
        let mut placed = vec![false; droids.len()];
        let mut done: Vec<usize> = Vec::with_capacity(droids.len());
        while done.len() < droids.len() {
            let pick = match ready.pop() {
                Some(Reverse((_, _, i))) => i,
                // A cycle cannot pass validation; keep going deterministically anyway.
                None => match (0..droids.len())
                    .filter(|&i| !placed[i])
                    .min_by_key(|&i| (droids[i].first_phase(), droids[i].name.as_str(), i))
                {
                    Some(i) => i,
                    None => break,
                },
            };
            if placed[pick] {
                continue;
            }
            placed[pick] = true;
            done.push(pick);
            for &k in &dependents[pick] {
                waiting[k] = waiting[k].saturating_sub(1);
                if waiting[k] == 0 && !placed[k] {
                    ready.push(key(k));
                }
            }
        }
        done.into_iter().map(|i| &droids[i]).collect()
    }

    /// Waves: groups of droids that may run at the same time (every `after` dependency sits in
    /// an earlier wave).
    pub fn waves(&self) -> Vec<Vec<&Droid>> {
        let order = self.order();
        let mut level: std::collections::HashMap<&str, usize> = Default::default();
        let mut waves: Vec<Vec<&Droid>> = Vec::new();
        for d in order {
            let lvl = d
                .after
                .iter()
                .filter_map(|dep| level.get(dep.as_str()))
                .map(|l| l + 1)
                .max()
                .unwrap_or(0);
            level.insert(&d.name, lvl);
            if waves.len() <= lvl {
                waves.resize_with(lvl + 1, Vec::new);
            }
            waves[lvl].push(d);
        }
        waves
    }

    /// All droids that (transitively) depend on `name`.
    pub fn dependents_of(&self, name: &str) -> Vec<&Droid> {
        let mut out: Vec<&Droid> = Vec::new();
        let mut frontier = vec![name.to_owned()];
        while let Some(cur) = frontier.pop() {
            for d in &self.manifest.droids {
                if d.after.contains(&cur) && !out.iter().any(|o| o.name == d.name) {
                    out.push(d);
                    frontier.push(d.name.clone());
                }
            }
        }
        out
    }

    /// Protected patterns including the built-in ones.
    pub fn protected_patterns(&self) -> Vec<String> {
        protected_patterns(&self.manifest)
    }

    /// The integration branch named by the manifest, if any.
    pub fn integration(&self) -> Option<&str> {
        self.manifest.forge.integration.as_deref()
    }

    /// Serialize back to TOML (used by `init`).
    pub fn to_toml(manifest: &Manifest) -> String {
        toml::to_string_pretty(manifest).expect("manifest types always serialize")
    }
}

pub(crate) fn protected_patterns(m: &Manifest) -> Vec<String> {
    let mut out: Vec<String> = BUILTIN_PROTECTED.iter().map(|s| (*s).to_owned()).collect();
    for p in &m.paths.protected {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

fn build_rules(m: &Manifest) -> std::result::Result<Rules, Problem> {
    build_rules_for(m, None)
}

/// The ownership rules of a manifest that was validated before, compiled only as far as needed
/// to classify `paths` (see [`Rules::new_for_paths`]): the guard's fast path.
pub fn rules_for_paths(m: &Manifest, paths: &[String]) -> Result<Rules> {
    build_rules_for(m, Some(paths)).map_err(|p| invalid(MANIFEST_PATH, &[p]))
}

fn build_rules_for(
    m: &Manifest,
    only_for: Option<&[String]>,
) -> std::result::Result<Rules, Problem> {
    let protected = protected_patterns(m);
    // A droid's TODO file is implicitly its own. It is a path, not a pattern: escaped, so that
    // `TODO[core].md` is that file and `{` is not an unclosed glob group.
    let owns: Vec<Vec<String>> = m
        .droids
        .iter()
        .map(|d| {
            let todo = d
                .todo
                .iter()
                .map(|t| crate::forge::ownership::escape_path(t));
            d.owns.iter().cloned().chain(todo).collect()
        })
        .collect();
    let droids = m
        .droids
        .iter()
        .zip(&owns)
        .map(|(d, o)| (d.name.as_str(), o.as_slice()));
    let protected = protected.iter().map(String::as_str);
    let shared = m.paths.shared.iter().map(String::as_str);
    match only_for {
        None => Rules::new(protected, shared, droids),
        Some(paths) => Rules::new_for_paths(protected, shared, droids, paths),
    }
    .map_err(|e| Problem::error(None, e.to_string(), "fix the pattern".to_owned()))
}

fn invalid(source: &str, problems: &[Problem]) -> Error {
    let mut msg = format!("invalid manifest `{source}`");
    for p in problems {
        msg.push_str("\n  ");
        msg.push_str(&p.render(source));
    }
    Error::new(ExitKind::Usage, msg)
}

fn toml_message(e: &toml::de::Error) -> String {
    let m = e.message().trim().to_owned();
    m.replace('\n', " ")
}

fn toml_hint(e: &toml::de::Error) -> String {
    let m = e.message();
    if m.contains("unknown field") {
        "remove the key or fix its spelling (see the manifest reference in the README)".to_owned()
    } else if m.contains("missing field") {
        "add the missing key".to_owned()
    } else {
        "fix the TOML syntax at that line".to_owned()
    }
}

/// Fuzzing entry point, shared by the cargo-fuzz target (`fuzz/fuzz_targets/manifest.rs`) and
/// the proptest in `cargo test`, so both exercise the very same code: parse and validate
/// `bytes` as a manifest, run the overlap analysis on what validates, and check the contract
/// for hostile manifests — never a panic (the caller notices), every rejection is exit 2 and
/// every problem in it carries a position (`file:line`, the line may come with a byte offset).
/// `Err` describes a broken contract.
#[doc(hidden)]
pub fn fuzz_manifest(bytes: &[u8]) -> std::result::Result<(), String> {
    match Forge::parse_bytes(bytes, MANIFEST_PATH, false) {
        Ok(forge) => {
            let found = forge.overlaps();
            let _ = forge.overlap_problems(&found);
            Ok(())
        }
        Err(e) => {
            if e.kind != ExitKind::Usage {
                return Err(format!(
                    "a rejection exits {} instead of 2: {}",
                    e.kind.code(),
                    e.full_message()
                ));
            }
            let problem_prefix = format!("\n  {MANIFEST_PATH}");
            let unplaced = e.message.split(&problem_prefix).skip(1).find(|rest| {
                !rest
                    .strip_prefix(':')
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            });
            match (e.message.contains(&problem_prefix), unplaced) {
                (false, _) => Err(format!("a rejection names no problem: {}", e.message)),
                (true, Some(_)) => Err(format!("a problem without a position: {}", e.message)),
                (true, None) => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod todo_path_tests {
    use super::*;

    fn forge_with_todo(todo: &str) -> Result<Forge> {
        let text = format!(
            "[[phase]]\nid = 1\n\n[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"src/**\"]\ntodo = \"{todo}\"\n"
        );
        Forge::parse_bytes(text.as_bytes(), MANIFEST_PATH, false)
    }

    /// Found by the manifest proptest: `todo = "{"` was compiled as a glob after validation
    /// and rejected without a line ("`{` is not a valid glob"), though it is a file name.
    #[test]
    fn a_todo_path_with_glob_characters_was_compiled_as_a_pattern() {
        for todo in ["{", "TODO[core].md", "TODO-{a,b}.md", "*.md"] {
            let forge =
                forge_with_todo(todo).unwrap_or_else(|e| panic!("{todo}: {}", e.full_message()));
            assert_eq!(forge.rules.classify(todo).owners, vec![0], "{todo}");
        }
        let forge = forge_with_todo("TODO[core].md").unwrap();
        assert!(
            forge.rules.classify("TODOc.md").owners.is_empty(),
            "a class matched"
        );
        let forge = forge_with_todo("*.md").unwrap();
        assert!(
            forge.rules.classify("README.md").owners.is_empty(),
            "a star matched"
        );
    }

    /// Found by the manifest proptest: `todo = "A\\"` (the path `A\`) was escaped with
    /// `globset::escape`, which leaves the backslash alone, and rejected as a dangling escape
    /// without a line, though it is a file name git allows.
    #[test]
    fn a_todo_path_with_a_backslash_was_a_dangling_glob_escape() {
        // The TOML text escapes the backslash; the path itself has one.
        for (toml, path) in [("A\\\\", "A\\"), ("TODO\\\\x.md", "TODO\\x.md")] {
            let forge =
                forge_with_todo(toml).unwrap_or_else(|e| panic!("{path}: {}", e.full_message()));
            assert_eq!(forge.rules.classify(path).owners, vec![0], "{path}");
            assert!(forge.rules.classify("TODOx.md").owners.is_empty(), "{path}");
        }
    }
}
