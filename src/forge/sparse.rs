//! Which paths a sparse droid worktree checks out, as git sparse-checkout patterns.
//!
//! A sparse droid gets the paths its brief names — what it owns and reads, the manifest's
//! shared paths, its TODO file, `INTERFACES.md` — plus the forge manifest directory and every
//! file at the repository root (build files, READMEs: cheap, and what tools look for first).
//!
//! Cone or non-cone: git's cone mode (directories only, fast matching, what `git
//! sparse-checkout` recommends) is used when every path is a directory, a `dir/**` pattern, a
//! path that does not exist yet, or a file at the root. A path that does not exist yet becomes a
//! cone directory: in cone mode the files directly inside the parents of a selected directory are
//! checked out too, so a new file there is inside the definition whether the droid creates it as a
//! file or as a directory (`git add` refuses new paths outside the definition). Any other glob or
//! an existing file below the root can only be expressed without cone mode; the patterns are
//! then the ownership globs anchored at the root (`/docs/*.md`), which mean the same thing in
//! gitignore syntax (`*` never crosses `/`, `**` does, a match on a directory covers what is
//! below it). A `{a,b}` alternative has no gitignore spelling: its literal leading directory
//! is checked out instead (more than needed, never less).

use super::brief::INTERFACES_FILE;
use super::manifest::Droid;

/// What a path is in the tree the worktree is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Dir,
    File,
    Missing,
}

/// The sparse-checkout definition of one droid worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseSet {
    /// Cone mode (`core.sparseCheckoutCone = true`).
    pub cone: bool,
    /// What `git sparse-checkout list` prints: cone directories, or the non-cone patterns.
    pub list: Vec<String>,
}

/// One path of the selection, classified.
enum Entry {
    /// A directory checked out whole (cone-compatible).
    Dir(String),
    /// A pattern that cone mode cannot say.
    Pattern(String),
    /// A literal path that does not exist yet (file or directory): a cone directory, or the
    /// path itself without cone mode.
    Missing(String),
    /// A literal path at the root (always checked out in either mode).
    Root,
}

/// The glob metacharacters of ownership patterns.
fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '[', '{', '\\'])
}

/// The normalized form of a manifest pattern: trimmed, no `./`, no trailing `/`.
fn normalized(p: &str) -> &str {
    let t = p.trim().trim_end_matches('/');
    t.strip_prefix("./").unwrap_or(t)
}

/// The literal leading directory of a glob (`src/a/*.rs` -> `src/a`), maybe empty.
fn literal_dir(glob: &str) -> String {
    let parts: Vec<&str> = glob.split('/').collect();
    let literal: Vec<&str> = parts[..parts.len().saturating_sub(1)]
        .iter()
        .take_while(|c| !c.is_empty() && !has_glob(c))
        .copied()
        .collect();
    literal.join("/")
}

/// The sparse set for `droid` given the manifest's `shared` paths; `kind` says what a literal
/// path is in the tree being checked out.
pub fn select(droid: &Droid, shared: &[String], kind: impl Fn(&str) -> PathKind) -> SparseSet {
    let manifest_dir = super::manifest::MANIFEST_PATH
        .rsplit_once('/')
        .map(|(d, _)| d)
        .unwrap_or_default();
    // (pattern, is it a file even when it does not exist yet?)
    let sources = droid
        .owns
        .iter()
        .chain(&droid.reads)
        .chain(shared)
        .map(|p| (p.as_str(), false))
        .chain(droid.todo.as_deref().map(|t| (t, true)))
        .chain([(INTERFACES_FILE, true)]);
    let mut entries = vec![Entry::Dir(manifest_dir.to_owned())];
    for (raw, a_file) in sources {
        let p = normalized(raw);
        if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
            continue; // rejected by manifest validation; never widen or escape the set
        }
        if let Some(dir) = p.strip_suffix("/**").filter(|d| !has_glob(d)) {
            entries.push(Entry::Dir(dir.to_owned()));
        } else if p == "**" {
            return SparseSet::full();
        } else if !has_glob(p) {
            let below_root = p.contains('/');
            entries.push(match kind(p) {
                PathKind::Dir => Entry::Dir(p.to_owned()),
                PathKind::File | PathKind::Missing if !below_root && a_file => Entry::Root,
                PathKind::File if !below_root => Entry::Root,
                PathKind::File => Entry::Pattern(format!("/{p}")),
                PathKind::Missing => Entry::Missing(p.to_owned()),
            });
        } else if p.contains('{') {
            let dir = literal_dir(p);
            if dir.is_empty() {
                return SparseSet::full();
            }
            entries.push(Entry::Dir(dir));
        } else {
            // Anchored with `/`, so a leading `!` or `#` is literal, as in the manifest.
            entries.push(Entry::Pattern(format!("/{p}")));
        }
    }
    let cone = entries.iter().all(|e| !matches!(e, Entry::Pattern(_)));
    if cone {
        let mut dirs: Vec<String> = entries
            .into_iter()
            .filter_map(|e| match e {
                Entry::Dir(d) | Entry::Missing(d) => Some(d),
                _ => None,
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        // Drop directories inside another selected directory, as git does.
        let keep: Vec<String> = dirs
            .iter()
            .filter(|d| {
                !dirs.iter().any(|o| {
                    d.len() > o.len() && d.starts_with(o.as_str()) && d.as_bytes()[o.len()] == b'/'
                })
            })
            .cloned()
            .collect();
        return SparseSet { cone, list: keep };
    }
    let mut list = vec!["/*".to_owned(), "!/*/".to_owned()];
    for e in entries {
        let line = match e {
            Entry::Dir(d) => format!("/{}/", escape_glob(&d)),
            Entry::Missing(p) => format!("/{}", escape_glob(&p)),
            Entry::Pattern(p) => p,
            Entry::Root => continue, // `/*` has it
        };
        if !list.contains(&line) {
            list.push(line);
        }
    }
    SparseSet { cone, list }
}

/// Escape gitignore glob characters in a literal path (git's cone-mode `escaped_pattern`).
fn escape_glob(p: &str) -> String {
    let mut s = String::with_capacity(p.len());
    for c in p.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

impl SparseSet {
    /// A definition that checks out everything (a pattern covering the whole tree).
    fn full() -> SparseSet {
        SparseSet {
            cone: false,
            list: vec!["/*".to_owned()],
        }
    }

    /// The contents of `info/sparse-checkout`, byte for byte what `git sparse-checkout set`
    /// writes for the same list (cone: `set --cone DIRS`; non-cone: `set --no-cone PATTERNS`).
    pub fn file_text(&self) -> String {
        let mut s = String::new();
        if !self.cone {
            for line in &self.list {
                s.push_str(line);
                s.push('\n');
            }
            return s;
        }
        s.push_str("/*\n!/*/\n");
        // Every proper ancestor of a selected directory: its direct files only.
        let mut parents: Vec<String> = Vec::new();
        for d in &self.list {
            let mut at = 0;
            while let Some(i) = d[at..].find('/') {
                parents.push(d[..at + i].to_owned());
                at += i + 1;
            }
        }
        parents.sort();
        parents.dedup();
        for p in parents.iter().filter(|p| !self.list.contains(p)) {
            let p = escape_glob(p);
            s.push_str(&format!("/{p}/\n!/{p}/*/\n"));
        }
        for d in &self.list {
            s.push_str(&format!("/{}/\n", escape_glob(d)));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|s| s.to_string()).collect()
    }

    fn select_with(shared: Vec<String>, droid: &Droid, kind: fn(&str) -> PathKind) -> SparseSet {
        select(droid, &shared, kind)
    }

    fn droid(owns: &[&str], reads: &[&str], todo: Option<&str>) -> Droid {
        Droid {
            name: "d".into(),
            owns: owns.iter().map(|s| s.to_string()).collect(),
            reads: reads.iter().map(|s| s.to_string()).collect(),
            todo: todo.map(str::to_owned),
            ..Droid::default()
        }
    }

    fn kinds(p: &str) -> PathKind {
        match p {
            "src/lib.rs" | "Cargo.toml" | "TODO_D.md" | "INTERFACES.md" => PathKind::File,
            "src" | "src/ops" | "docs" | ".droidforge" => PathKind::Dir,
            _ => PathKind::Missing,
        }
    }

    #[test]
    fn directories_and_root_files_use_cone_mode() {
        let set = select_with(
            shared(&["Cargo.toml"]),
            &droid(
                &["src/ops/**", "src/ops/spawn"],
                &["docs/"],
                Some("TODO_D.md"),
            ),
            kinds,
        );
        assert!(set.cone);
        assert_eq!(set.list, vec![".droidforge", "docs", "src/ops"]);
        assert_eq!(
            set.file_text(),
            "/*\n!/*/\n/src/\n!/src/*/\n/.droidforge/\n/docs/\n/src/ops/\n"
        );
    }

    #[test]
    fn a_missing_path_is_a_cone_directory() {
        let set = select_with(shared(&[]), &droid(&["src/new.rs"], &[], None), kinds);
        assert!(set.cone);
        assert_eq!(set.list, vec![".droidforge", "src/new.rs"]);
        let non_cone = select_with(
            shared(&["docs/*.md"]),
            &droid(&["src/new"], &[], Some("T.md")),
            kinds,
        );
        assert_eq!(
            non_cone.list,
            vec!["/*", "!/*/", "/.droidforge/", "/src/new", "/docs/*.md"]
        );
    }

    #[test]
    fn files_below_the_root_and_globs_need_non_cone_mode() {
        let set = select_with(
            shared(&["docs/*.md"]),
            &droid(&["src/lib.rs", "src/ops/**", "!odd/**/x"], &[], None),
            kinds,
        );
        assert!(!set.cone);
        assert_eq!(
            set.list,
            vec![
                "/*",
                "!/*/",
                "/.droidforge/",
                "/src/lib.rs",
                "/src/ops/",
                "/!odd/**/x",
                "/docs/*.md"
            ]
        );
    }

    #[test]
    fn alternatives_fall_back_to_their_literal_directory() {
        let set = select_with(shared(&[]), &droid(&["src/{a,b}/**"], &[], None), kinds);
        assert!(set.cone);
        assert_eq!(set.list, vec![".droidforge", "src"]);
        let all = select_with(shared(&[]), &droid(&["{a,b}/x"], &[], None), kinds);
        assert_eq!(all, SparseSet::full());
    }

    #[test]
    fn escaping_patterns_are_dropped() {
        let set = select_with(shared(&[]), &droid(&["../x", "/abs"], &[], None), kinds);
        assert_eq!(set.list, vec![".droidforge"]);
    }
}
