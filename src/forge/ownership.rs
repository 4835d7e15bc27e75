//! Ownership rules: which droid may change which path.
//!
//! Patterns are relative to the repository root and follow gitignore/CODEOWNERS globbing:
//! `*` and `?` never cross `/`, `**` does, and a pattern that names a directory also covers
//! everything below it. Unlike gitignore, a pattern without a slash is *not* matched at any
//! depth: `Cargo.lock` means the root `Cargo.lock`; write `**/Cargo.lock` for every one.
//! (Ownership is about exact files; silently owning every `mod.rs` in the tree would surprise.)

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Why a pattern could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("`{0}` is empty")]
    Empty(String),
    #[error("`{0}` is an absolute path; patterns are relative to the repository root")]
    Absolute(String),
    #[error("`{0}` escapes the repository with `..`")]
    Escapes(String),
    #[error("`{pattern}` is not a valid glob: {reason}")]
    Invalid { pattern: String, reason: String },
}

/// A path as a pattern that matches exactly it: every glob character, the backslash included,
/// stands alone in a class (`[*]`, `[\]`). `globset::escape` leaves the backslash alone, so
/// `A\` came out as a dangling escape; a backslash escape (`\{`) would make a path that
/// starts with a glob character read as an absolute one.
pub fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

/// Check a pattern for escapes and compile it, returning the globs it expands to.
pub fn compile_pattern(pattern: &str) -> Result<Vec<globset::Glob>, PatternError> {
    compile_base(pattern, checked_base(pattern)?)
}

/// Is `pattern` usable (the errors of [`compile_pattern`])? A plain path, the common case, has
/// no glob syntax that could fail to parse, so only the others are compiled.
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    let base = checked_base(pattern)?;
    for candidate in candidates(base) {
        if Plain::of(&candidate).is_none() {
            compile_candidate(pattern, &candidate)?;
        }
    }
    Ok(())
}

/// The glob texts a checked base expands to: the pattern itself and everything below it.
fn candidates(base: &str) -> impl Iterator<Item = String> {
    [base.to_owned(), format!("{base}/**")]
        .into_iter()
        .filter(|c| !c.ends_with("/**/**"))
}

/// The checked, normalized form of `pattern` that [`compile_pattern`] compiles: trimmed, no
/// trailing `/`, no leading `./`. Cheap (no glob is built), so callers can decide from it
/// whether a pattern is worth compiling at all.
fn checked_base(pattern: &str) -> Result<&str, PatternError> {
    let trimmed = pattern.trim();
    if trimmed.is_empty() {
        return Err(PatternError::Empty(pattern.to_owned()));
    }
    if trimmed.starts_with('/') || trimmed.starts_with('\\') || looks_like_windows_drive(trimmed) {
        return Err(PatternError::Absolute(pattern.to_owned()));
    }
    if trimmed.split(['/', '\\']).any(|c| c == "..") {
        return Err(PatternError::Escapes(pattern.to_owned()));
    }
    let base = trimmed.trim_end_matches('/');
    Ok(base.strip_prefix("./").unwrap_or(base))
}

/// Compile a base from [`checked_base`] into the pattern and its `/**` expansion.
fn compile_base(pattern: &str, base: &str) -> Result<Vec<globset::Glob>, PatternError> {
    candidates(base)
        .map(|candidate| compile_candidate(pattern, &candidate))
        .collect()
}

/// Compile one glob text of `pattern` (see [`candidates`]).
fn compile_candidate(pattern: &str, candidate: &str) -> Result<globset::Glob, PatternError> {
    GlobBuilder::new(candidate)
        .literal_separator(true)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
        .map_err(|e| PatternError::Invalid {
            pattern: pattern.to_owned(),
            reason: e.kind().to_string(),
        })
}

fn looks_like_windows_drive(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The ownership class of one path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classification {
    pub protected: bool,
    pub shared: bool,
    /// Indexes of the owning droids, in manifest order.
    pub owners: Vec<usize>,
}

impl Classification {
    /// May droid number `droid` change this path?
    pub fn allows(&self, droid: usize) -> bool {
        !self.protected && (self.shared || self.owners.contains(&droid))
    }
}

/// Compiled ownership rules for a whole forge.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Globs indexed by their literal leading directories, so that a path is only tested
    /// against the few globs that can match it (100k paths × 1,000 globs in milliseconds; one
    /// big set of 2,000 regexes thrashes the lazy DFA).
    nodes: Vec<Node>,
    pub droid_names: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: std::collections::HashMap<String, usize>,
    /// Globs whose literal prefix ends at this node, and what each grants.
    set: Option<GlobSet>,
    grants: Vec<Grant>,
    /// Globs of this node that are a plain path or a plain directory's contents, matched by
    /// string comparison instead of through `set` (see [`Plain`]).
    plain: Vec<(Plain, Grant)>,
}

/// A glob without any glob syntax but a trailing `/**`: the forms that `dir/` and `file`
/// patterns compile to, by far the most common ones. globset matches them exactly like this
/// (a literal is `^lit$`, a trailing `/**` is `/.*` with `.` matching any byte), but building
/// a `GlobSet` for them (regexes, Aho-Corasick automata) costs far more than a whole `spawn`
/// of a small repository does otherwise; comparing strings costs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plain {
    /// Matches exactly this path.
    Exact(String),
    /// Matches every path that starts with this (`dir/`).
    Below(String),
}

/// One glob of a pattern on its way into [`Rules`]: plain text, or compiled by globset.
enum Candidate {
    Plain(String, Plain),
    Glob(globset::Glob),
}

impl Candidate {
    fn text(&self) -> &str {
        match self {
            Candidate::Plain(text, _) => text,
            Candidate::Glob(glob) => glob.glob(),
        }
    }
}

impl Plain {
    /// The plain form of glob text (as compiled by [`compile_base`]), if it has one.
    fn of(glob: &str) -> Option<Plain> {
        // Every character but these is a literal to globset outside `[...]` and `{...}` (an
        // unopened `}` does not even parse); `,` is a literal outside alternates.
        let literal = |s: &str| !s.is_empty() && !s.contains(['*', '?', '[', ']', '{', '}', '\\']);
        match glob.strip_suffix("/**") {
            Some(dir) => literal(dir).then(|| Plain::Below(format!("{dir}/"))),
            None => literal(glob).then(|| Plain::Exact(glob.to_owned())),
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Plain::Exact(p) => path == p,
            Plain::Below(dir) => path.starts_with(dir.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Protected,
    Shared,
    Droid(usize),
}

/// The leading path components of a glob that contain no glob syntax.
fn literal_components(glob: &str) -> Vec<&str> {
    glob.split('/')
        .take_while(|c| !c.is_empty() && !c.contains(['*', '?', '[', '{', '\\']))
        .collect()
}

impl Rules {
    /// Build rules from protected, shared and per-droid patterns. Errors name the bad pattern.
    pub fn new<'a>(
        protected: impl IntoIterator<Item = &'a str>,
        shared: impl IntoIterator<Item = &'a str>,
        droids: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<Rules, PatternError> {
        Self::build(protected, shared, droids, None)
    }

    /// Like [`new`](Self::new), but only the globs that can match one of `paths` are compiled
    /// (those whose literal leading directories are a prefix of the path). Classifying any of
    /// `paths` gives the same answer as with all rules, at a fraction of the cost: compiling
    /// globs, not matching them, dominates a check of a few paths against a big manifest.
    pub fn new_for_paths<'a>(
        protected: impl IntoIterator<Item = &'a str>,
        shared: impl IntoIterator<Item = &'a str>,
        droids: impl IntoIterator<Item = (&'a str, &'a [String])>,
        paths: &[String],
    ) -> Result<Rules, PatternError> {
        Self::build(protected, shared, droids, Some(paths))
    }

    fn build<'a>(
        protected: impl IntoIterator<Item = &'a str>,
        shared: impl IntoIterator<Item = &'a str>,
        droids: impl IntoIterator<Item = (&'a str, &'a [String])>,
        only_for: Option<&[String]>,
    ) -> Result<Rules, PatternError> {
        let mut globs: Vec<(Candidate, Grant)> = Vec::new();
        // A glob sits in the index under its literal leading components, and `classify` only
        // consults the globs on the path's own chain of components; so a glob whose literal
        // components are not a prefix of any asked path's components can never decide one of
        // them. Both globs of a pattern (`base` and `base/**`) have the literal components of
        // `base`, so the test runs on the raw text, before the (costly) compile. Skipped
        // patterns are not checked for glob syntax: `only_for` callers classify a manifest that
        // was validated in full before.
        let can_match = |base: &str| {
            only_for.is_none_or(|paths| {
                let lit = literal_components(base);
                paths.iter().any(|p| {
                    let mut comps = p.split('/');
                    lit.iter().all(|l| comps.next() == Some(l))
                })
            })
        };
        let mut add = |pattern: &str, grant: Grant| -> Result<(), PatternError> {
            let base = checked_base(pattern)?;
            if !can_match(base) {
                return Ok(());
            }
            // A plain glob has no syntax to parse: it is matched as text, never compiled.
            for text in candidates(base) {
                let candidate = match Plain::of(&text) {
                    Some(plain) => Candidate::Plain(text, plain),
                    None => Candidate::Glob(compile_candidate(pattern, &text)?),
                };
                debug_assert_eq!(
                    literal_components(candidate.text()),
                    literal_components(base)
                );
                globs.push((candidate, grant));
            }
            Ok(())
        };
        for p in protected {
            add(p, Grant::Protected)?;
        }
        for p in shared {
            add(p, Grant::Shared)?;
        }
        let mut droid_names = Vec::new();
        for (idx, (name, owns)) in droids.into_iter().enumerate() {
            droid_names.push(name.to_owned());
            for p in owns {
                add(p, Grant::Droid(idx))?;
            }
        }

        let mut nodes = vec![Node::default()];
        let mut pending: Vec<Vec<(Candidate, Grant)>> = vec![Vec::new()];
        for (glob, grant) in globs {
            let mut at = 0;
            for comp in literal_components(glob.text()) {
                at = match nodes[at].children.get(comp) {
                    Some(&next) => next,
                    None => {
                        nodes.push(Node::default());
                        pending.push(Vec::new());
                        let next = nodes.len() - 1;
                        nodes[at].children.insert(comp.to_owned(), next);
                        next
                    }
                };
            }
            pending[at].push((glob, grant));
        }
        for (node, globs) in nodes.iter_mut().zip(pending) {
            let mut builder = GlobSetBuilder::new();
            for (glob, grant) in globs {
                match glob {
                    Candidate::Plain(_, plain) => node.plain.push((plain, grant)),
                    Candidate::Glob(glob) => {
                        builder.add(glob);
                        node.grants.push(grant);
                    }
                }
            }
            if node.grants.is_empty() {
                continue;
            }
            node.set = Some(builder.build().map_err(|e| PatternError::Invalid {
                pattern: e.glob().unwrap_or("").to_owned(),
                reason: e.kind().to_string(),
            })?);
        }
        Ok(Rules { nodes, droid_names })
    }

    pub fn classify(&self, path: &str) -> Classification {
        let mut hits = Vec::new();
        self.classify_into(path, &mut hits)
    }

    /// Like [`classify`](Self::classify) but reuses a scratch buffer; the hot loop of ownership checks.
    pub fn classify_into(&self, path: &str, scratch: &mut Vec<usize>) -> Classification {
        let mut out = Classification::default();
        let mut at = 0;
        let mut components = path.split('/');
        let mut grant = |g: Grant| match g {
            Grant::Protected => out.protected = true,
            Grant::Shared => out.shared = true,
            Grant::Droid(d) => {
                if !out.owners.contains(&d) {
                    out.owners.push(d);
                }
            }
        };
        loop {
            let node = &self.nodes[at];
            for (plain, g) in &node.plain {
                if plain.matches(path) {
                    grant(*g);
                }
            }
            if let Some(set) = &node.set {
                set.matches_into(path, scratch);
                for &hit in scratch.iter() {
                    grant(node.grants[hit]);
                }
            }
            match components.next().and_then(|c| node.children.get(c)) {
                Some(&next) => at = next,
                None => break,
            }
        }
        out.owners.sort_unstable();
        out
    }

    /// Index of a droid by name.
    pub fn droid_index(&self, name: &str) -> Option<usize> {
        self.droid_names.iter().position(|n| n == name)
    }

    /// Human description of who may change `path`: "owned by `a`, `b`", "shared", "protected", "unowned".
    pub fn describe(&self, class: &Classification) -> String {
        if class.protected {
            return "protected".to_owned();
        }
        let mut parts = Vec::new();
        if !class.owners.is_empty() {
            let names: Vec<String> = class
                .owners
                .iter()
                .map(|&i| format!("`{}`", self.droid_names[i]))
                .collect();
            parts.push(format!("owned by {}", names.join(", ")));
        }
        if class.shared {
            parts.push("shared".to_owned());
        }
        if parts.is_empty() {
            "unowned".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Glob intersection: do two patterns match at least one common path? Used for ownership
// overlaps in `plan` and for lock conflicts. Works on the pattern language itself (so it finds
// overlaps for files that do not exist yet) and produces an example path.
//
// Exact by construction: each pattern is compiled by globset exactly as `Rules` compiles it
// (the pattern and its `/**` expansion), globset's regexes become lazy DFAs, and a
// breadth-first search over the product of the two DFAs and a tiny "well-formed relative
// path" automaton (no leading `/`, no `//`, no trailing `/`, not empty) finds the shortest
// common path. Checked against brute-force matching by a property test
// (`tests/cli/glob_intersect.rs`).

/// Literal text before the first glob metacharacter: every path a pattern matches starts with it.
pub fn literal_prefix(pattern: &str) -> &str {
    let p = pattern.trim();
    let p = p.strip_prefix("./").unwrap_or(p);
    let end = p.find(['*', '?', '[', '{', '\\']).unwrap_or(p.len());
    &p[..end]
}

/// Byte order in which the search tries characters, so examples read naturally.
fn preferred_bytes() -> &'static [u8] {
    static ORDER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| {
        let mut order: Vec<u8> = Vec::with_capacity(255);
        order.extend(b'a'..=b'z');
        order.extend(b'0'..=b'9');
        order.extend([b'_', b'-', b'.', b'/']);
        order.extend(b'A'..=b'Z');
        for b in 1..=255u8 {
            if !order.contains(&b) {
                order.push(b);
            }
        }
        order
    })
}

/// One ownership pattern compiled for intersection tests: a lazy DFA and its cache. Compile
/// each pattern once and intersect it with many others (manifest overlap analysis).
pub struct PatternAutomaton {
    dfa: regex_automata::hybrid::dfa::DFA,
    cache: regex_automata::hybrid::dfa::Cache,
}

impl PatternAutomaton {
    /// Compile `pattern` (with its directory-covers-contents expansion); `None` if invalid.
    pub fn new(pattern: &str) -> Option<PatternAutomaton> {
        use regex_automata::{hybrid::dfa::DFA, nfa::thompson, util::syntax};
        let globs = compile_pattern(pattern).ok()?;
        let regexes: Vec<String> = globs.iter().map(|g| g.regex().to_owned()).collect();
        let dfa = DFA::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .configure(
                DFA::config()
                    .cache_capacity(8 << 20)
                    .skip_cache_capacity_check(true),
            )
            .build_many(&regexes)
            .ok()?;
        let cache = dfa.create_cache();
        Some(PatternAutomaton { dfa, cache })
    }
}

/// If two ownership patterns can match a common path, return an example of such a path.
///
/// Both patterns are taken with their directory-covers-contents expansion, exactly as
/// [`Rules`] matches them. An invalid pattern intersects nothing.
pub fn patterns_intersect(a: &str, b: &str) -> Option<String> {
    let (pa, pb) = (literal_prefix(a), literal_prefix(b));
    if !pa.starts_with(pb) && !pb.starts_with(pa) {
        return None;
    }
    let (mut da, mut db) = (PatternAutomaton::new(a)?, PatternAutomaton::new(b)?);
    automata_intersect(&mut da, &mut db)
}

/// [`patterns_intersect`] on already compiled patterns.
pub fn automata_intersect(a: &mut PatternAutomaton, b: &mut PatternAutomaton) -> Option<String> {
    use regex_automata::{Anchored, hybrid::LazyStateID, util::start};
    use std::collections::{HashMap, VecDeque};

    let (da, ca) = (&a.dfa, &mut a.cache);
    let (db, cb) = (&b.dfa, &mut b.cache);
    let cfg = start::Config::new().anchored(Anchored::Yes);
    let sa = da.start_state(ca, &cfg).ok()?;
    let sb = db.start_state(cb, &cfg).ok()?;

    // Path shape: 0 = nothing yet, 1 = just after `/`, 2 = inside a component.
    type Node = (LazyStateID, LazyStateID, u8);
    let start_node: Node = (sa, sb, 0);
    let mut parent: HashMap<Node, Option<(Node, u8)>> = HashMap::from([(start_node, None)]);
    let mut queue = VecDeque::from([start_node]);
    let order = preferred_bytes();
    let accepts = |dfa: &regex_automata::hybrid::dfa::DFA,
                   cache: &mut regex_automata::hybrid::dfa::Cache,
                   sid: LazyStateID| {
        dfa.next_eoi_state(cache, sid)
            .map(|s| s.is_match())
            .unwrap_or(false)
    };
    while let Some(node) = queue.pop_front() {
        let (s1, s2, shape) = node;
        if shape == 2 && accepts(da, ca, s1) && accepts(db, cb, s2) {
            let mut bytes = Vec::new();
            let mut cur = node;
            while let Some(Some((prev, byte))) = parent.get(&cur) {
                bytes.push(*byte);
                cur = *prev;
            }
            bytes.reverse();
            return Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        for &byte in order {
            let next_shape = match (byte, shape) {
                (b'/', 2) => 1,
                (b'/', _) => continue,
                _ => 2,
            };
            let n1 = da.next_state(ca, s1, byte).ok()?;
            if n1.is_dead() || n1.is_quit() {
                continue;
            }
            let n2 = db.next_state(cb, s2, byte).ok()?;
            if n2.is_dead() || n2.is_quit() {
                continue;
            }
            let next = (n1, n2, next_shape);
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(next) {
                e.insert(Some((node, byte)));
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
