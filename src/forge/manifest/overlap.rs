//! Ownership overlaps between droids, found in near-linear time for the common manifests.
//!
//! Comparing every pattern with every other one is quadratic and each comparison builds two
//! automata; a 10,000-droid manifest took minutes. Instead:
//! - identical patterns are grouped with a hash map (10,000 droids owning `src/**` is one
//!   finding, not 50 million pairs);
//! - plain subtrees (`src/api`, `src/api/**`) overlap exactly when one root is an ancestor of
//!   the other, answered by looking up each root's ancestors in a hash map;
//! - every other glob can only meet patterns whose literal prefix starts with its own, or whose
//!   literal prefix its own starts with: a range of the prefix-sorted list. Only those
//!   candidates are intersected, each pattern compiled once.
//!
//! The work is capped: after [`MAX_FINDINGS`] findings or [`MAX_CANDIDATES`] automaton
//! intersections the analysis stops and says so (`truncated`), so a pathological manifest
//! (hundreds of droids owning `**/*N*`, which all overlap pairwise) still answers at once.
//!
//! [`overlap_problems`] turns the findings into warnings placed on the manifest's lines.

use std::collections::HashMap;

use super::schema::Manifest;
use super::validate::{Problem, line_of};
use crate::forge::ownership::{PatternAutomaton, automata_intersect, literal_prefix};

/// Findings reported before the analysis stops.
pub const MAX_FINDINGS: usize = 200;
/// Automaton intersections tried before the analysis stops.
pub const MAX_CANDIDATES: usize = 50_000;

/// Droids whose `owns` patterns can match a common path. `droids[k]` owns by `patterns[k]`;
/// there are always at least two different droids.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Overlap {
    pub droids: Vec<String>,
    pub patterns: Vec<String>,
    /// A path every listed pattern matches.
    pub example: String,
    /// Manifest index of each droid (for ordering and line lookup; not serialized).
    #[serde(skip)]
    pub droid_indexes: Vec<usize>,
}

/// The result of the overlap analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlaps {
    pub found: Vec<Overlap>,
    /// The analysis stopped at a cap; more overlaps may exist.
    pub truncated: bool,
}

/// One distinct normalized pattern and the droids that own it.
struct Unique {
    /// As written by the first droid that owns it.
    pattern: String,
    /// (droid index, pattern as that droid wrote it), in manifest order, one per droid.
    owners: Vec<(usize, String)>,
    /// Literal text every matched path starts with.
    prefix: String,
    /// `Some(root)` when the pattern is exactly "`root` and everything below it".
    subtree: Option<String>,
}

/// The form `compile_pattern` matches: trimmed, without `./` and trailing slashes.
fn normalize(p: &str) -> &str {
    let t = p.trim().trim_end_matches('/');
    t.strip_prefix("./").unwrap_or(t)
}

fn has_glob_syntax(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '{', '}', '\\', '!'])
}

/// `src/api` and `src/api/**` both mean the subtree rooted at `src/api`.
fn subtree_root(norm: &str) -> Option<String> {
    let root = norm.strip_suffix("/**").unwrap_or(norm);
    let plain = !root.is_empty()
        && !has_glob_syntax(root)
        && root
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    plain.then(|| root.to_owned())
}

/// A path both subtree patterns match: the deeper root (or something inside it when that
/// pattern only covers the contents).
fn subtree_example(deeper: &Unique) -> String {
    let root = deeper.subtree.as_deref().unwrap_or_default();
    if normalize(&deeper.pattern).ends_with("/**") {
        format!("{root}/a")
    } else {
        root.to_owned()
    }
}

/// Find the droids whose `owns` patterns overlap. Invalid patterns are skipped (validation
/// reports them).
pub fn find(m: &Manifest) -> Overlaps {
    let mut uniques: Vec<Unique> = Vec::new();
    let mut by_norm: HashMap<&str, usize> = HashMap::new();
    for (d, droid) in m.droids.iter().enumerate() {
        for p in &droid.owns {
            if crate::forge::ownership::compile_pattern(p).is_err() {
                continue;
            }
            let norm = normalize(p);
            let u = *by_norm.entry(norm).or_insert_with(|| {
                uniques.push(Unique {
                    pattern: p.clone(),
                    owners: Vec::new(),
                    prefix: literal_prefix(norm).to_owned(),
                    subtree: subtree_root(norm),
                });
                uniques.len() - 1
            });
            if uniques[u].owners.last().is_none_or(|(o, _)| *o != d) {
                uniques[u].owners.push((d, p.clone()));
            }
        }
    }

    let mut search = Search {
        m,
        uniques: &uniques,
        automata: HashMap::new(),
        out: Overlaps::default(),
        candidates: 0,
    };

    // Identical patterns owned by several droids.
    for (u, uq) in uniques.iter().enumerate() {
        if uq.owners.len() > 1 {
            search.identical(u);
        }
    }

    // Subtree against subtree: ancestors by hash lookup.
    let mut by_root: HashMap<&str, Vec<usize>> = HashMap::new();
    for (u, uq) in uniques.iter().enumerate() {
        if let Some(root) = &uq.subtree {
            by_root.entry(root.as_str()).or_default().push(u);
        }
    }
    'subtrees: for (u, uq) in uniques.iter().enumerate() {
        let Some(root) = &uq.subtree else { continue };
        // The same root written differently (`src` and `src/**`): pair once.
        for &v in &by_root[root.as_str()] {
            // One of the two is `root`, the other `root/**`: a path inside matches both.
            if v < u && !search.pair(v, u, |_| Some(format!("{root}/a"))) {
                break 'subtrees;
            }
        }
        for (i, _) in root.match_indices('/') {
            if let Some(ancestors) = by_root.get(&root[..i]) {
                for &v in ancestors {
                    if !search.pair(v, u, |_| Some(subtree_example(&uniques[u]))) {
                        break 'subtrees;
                    }
                }
            }
        }
    }

    // Globs against everything whose literal prefix is compatible with theirs.
    let mut sorted: Vec<usize> = (0..uniques.len()).collect();
    sorted.sort_by(|&a, &b| uniques[a].prefix.cmp(&uniques[b].prefix).then(a.cmp(&b)));
    let mut by_prefix: HashMap<&str, Vec<usize>> = HashMap::new();
    for (u, uq) in uniques.iter().enumerate() {
        by_prefix.entry(uq.prefix.as_str()).or_default().push(u);
    }
    'globs: for (u, uq) in uniques.iter().enumerate() {
        if search.out.truncated {
            break;
        }
        if uq.subtree.is_some() {
            // Subtrees meet globs from the glob's side.
            continue;
        }
        // Patterns whose prefix starts with ours (a contiguous range of the sorted list).
        let start = sorted.partition_point(|&x| uniques[x].prefix.as_str() < uq.prefix.as_str());
        for &v in &sorted[start..] {
            let other = &uniques[v];
            if !other.prefix.starts_with(uq.prefix.as_str()) {
                break;
            }
            if v == u || (other.subtree.is_none() && other.prefix == uq.prefix && v < u) {
                continue;
            }
            if !search.intersect(u, v) {
                break 'globs;
            }
        }
        // Subtrees whose root is a proper prefix of ours (globs with a shorter prefix find us
        // from their side).
        for end in 0..uq.prefix.len() {
            if !uq.prefix.is_char_boundary(end) {
                continue;
            }
            for &v in by_prefix.get(&uq.prefix[..end]).into_iter().flatten() {
                if uniques[v].subtree.is_some() && !search.intersect(u, v) {
                    break 'globs;
                }
            }
        }
    }

    let mut out = search.out;
    out.found
        .sort_by(|a, b| a.droid_indexes.cmp(&b.droid_indexes));
    out
}

struct Search<'a> {
    m: &'a Manifest,
    uniques: &'a [Unique],
    automata: HashMap<usize, Option<PatternAutomaton>>,
    out: Overlaps,
    candidates: usize,
}

impl Search<'_> {
    fn full(&mut self) -> bool {
        if self.out.found.len() >= MAX_FINDINGS || self.candidates >= MAX_CANDIDATES {
            self.out.truncated = true;
        }
        self.out.truncated
    }

    /// Several droids own the very same pattern.
    fn identical(&mut self, u: usize) {
        if self.full() {
            return;
        }
        let uq = &self.uniques[u];
        let example = match &uq.subtree {
            Some(_) => Some(subtree_example(uq)),
            None => {
                self.candidates += 1;
                self.automaton(u).and_then(|mut a| {
                    let mut b = PatternAutomaton::new(&uq.pattern)?;
                    let ex = automata_intersect(&mut a, &mut b);
                    self.automata.insert(u, Some(a));
                    ex
                })
            }
        };
        if let Some(example) = example {
            self.push(uq.owners.to_vec(), example);
        }
    }

    /// Record the overlap of two distinct patterns if `example` finds a common path.
    /// Returns false once the analysis must stop.
    fn pair(
        &mut self,
        u: usize,
        v: usize,
        example: impl FnOnce(&mut Self) -> Option<String>,
    ) -> bool {
        if self.full() {
            return false;
        }
        let (a, b) = (&self.uniques[u], &self.uniques[v]);
        // A droid overlapping only with itself is no finding.
        if a.owners.len() == 1 && b.owners.len() == 1 && a.owners[0].0 == b.owners[0].0 {
            return true;
        }
        if let Some(example) = example(self) {
            let (a, b) = (&self.uniques[u], &self.uniques[v]);
            let mut owners: Vec<(usize, String)> = a.owners.clone();
            owners.extend(b.owners.iter().cloned());
            self.push(owners, example);
        }
        !self.full()
    }

    /// Intersect two distinct patterns with their automata.
    fn intersect(&mut self, u: usize, v: usize) -> bool {
        self.pair(u, v, |s| {
            s.candidates += 1;
            let mut a = s.automaton(u)?;
            let ex = match s.automaton(v) {
                Some(mut b) => {
                    let ex = automata_intersect(&mut a, &mut b);
                    s.automata.insert(v, Some(b));
                    ex
                }
                None => None,
            };
            s.automata.insert(u, Some(a));
            ex
        })
    }

    /// Take the compiled automaton of a pattern out of the memo (the caller puts it back).
    fn automaton(&mut self, u: usize) -> Option<PatternAutomaton> {
        match self.automata.remove(&u) {
            Some(a) => a,
            None => PatternAutomaton::new(&self.uniques[u].pattern),
        }
    }

    fn push(&mut self, mut owners: Vec<(usize, String)>, example: String) {
        owners.sort_by_key(|(d, _)| *d);
        owners.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let first = owners[0].0;
        if owners.iter().all(|(d, _)| *d == first) {
            return;
        }
        self.out.found.push(Overlap {
            droids: owners
                .iter()
                .map(|(d, _)| self.m.droids[*d].name.clone())
                .collect(),
            patterns: owners.iter().map(|(_, p)| p.clone()).collect(),
            droid_indexes: owners.iter().map(|(d, _)| *d).collect(),
            example,
        });
    }
}

/// Overlap findings shown one by one; the rest are summarized.
const OVERLAPS_SHOWN: usize = 20;
/// Droids named in one grouped finding.
const DROIDS_SHOWN: usize = 6;

/// Overlap findings as warnings placed on the line of the last droid's pattern.
pub fn overlap_problems(text: &str, found: &Overlaps) -> Vec<Problem> {
    let help = "give the path to one droid, or list it under [paths] shared if both must edit it (`plan --strict` makes this an error)";
    let mut out: Vec<Problem> = found
        .found
        .iter()
        .take(OVERLAPS_SHOWN)
        .map(|o| {
            let last = o.droids.len() - 1;
            let line = droid_line_of(text, o.droid_indexes[last], &o.patterns[last]);
            let message = if o.droids.len() == 2 {
                format!(
                    "droids `{}` (`{}`) and `{}` (`{}`) both own paths such as `{}`",
                    o.droids[0], o.patterns[0], o.droids[1], o.patterns[1], o.example
                )
            } else {
                format!(
                    "{} droids own paths such as `{}`: {}",
                    o.droids.len(),
                    o.example,
                    name_list(&o.droids, &o.patterns)
                )
            };
            Problem::warning(line, message, help.to_owned())
        })
        .collect();
    let hidden = found.found.len().saturating_sub(OVERLAPS_SHOWN);
    if hidden > 0 || found.truncated {
        let more = if found.truncated {
            format!("at least {hidden} more ownership overlaps (the analysis stopped early)")
        } else {
            format!("{hidden} more ownership overlaps")
        };
        out.push(Problem::warning(
            None,
            more,
            "`droidforge plan --format json` lists the overlaps found; fix these and run `plan --check` again".to_owned(),
        ));
    }
    out
}

/// `` `a` (`src/**`), `b` (`src/*.rs`) … and N more ``.
pub fn name_list(droids: &[String], patterns: &[String]) -> String {
    let mut s: Vec<String> = droids
        .iter()
        .zip(patterns)
        .take(DROIDS_SHOWN)
        .map(|(d, p)| format!("`{d}` (`{p}`)"))
        .collect();
    if droids.len() > DROIDS_SHOWN {
        s.push(format!("and {} more", droids.len() - DROIDS_SHOWN));
    }
    s.join(", ")
}

/// The line of `pattern` inside the `index`-th `[[droid]]` table, or of its first occurrence.
fn droid_line_of(text: &str, index: usize, pattern: &str) -> Option<usize> {
    let mut offset = 0;
    let mut seen = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("[[droid]]") {
            if seen == index {
                let rest = &text[offset..];
                let local = line_of(rest, pattern)?;
                let before = text[..offset].matches('\n').count();
                return Some(before + local);
            }
            seen += 1;
        }
        offset += line.len();
    }
    line_of(text, pattern)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::manifest::Droid;

    fn manifest(owns: &[&[&str]]) -> Manifest {
        Manifest {
            droids: owns
                .iter()
                .enumerate()
                .map(|(i, o)| Droid {
                    name: format!("d{i}"),
                    owns: o.iter().map(|s| (*s).to_owned()).collect(),
                    ..Droid::default()
                })
                .collect(),
            ..Manifest::default()
        }
    }

    fn pairs(m: &Manifest) -> Vec<Vec<String>> {
        find(m).found.into_iter().map(|o| o.droids).collect()
    }

    /// The fast analysis finds exactly the droid pairs the all-pairs intersection finds.
    #[test]
    fn agrees_with_all_pairs_intersection() {
        let owns: &[&[&str]] = &[
            &["src/**"],
            &["src/api/*.rs"],
            &["src/api"],
            &["docs", "src/apix/**"],
            &["**/*.md"],
            &["tests/a_*.rs"],
            &["tests/b_*.rs"],
            &["tests"],
            &["src/ap?/x"],
            &["lib/**"],
            &["lib/**"],
            &["other/{a,b}/c"],
            &["other/b"],
        ];
        let m = manifest(owns);
        let found = find(&m);
        assert!(!found.truncated);
        let mut fast: Vec<(usize, usize)> = Vec::new();
        for o in &found.found {
            for (x, &a) in o.droid_indexes.iter().enumerate() {
                for &b in &o.droid_indexes[x + 1..] {
                    if a != b && !fast.contains(&(a, b)) {
                        fast.push((a, b));
                    }
                }
            }
        }
        fast.sort();
        let mut slow = Vec::new();
        for a in 0..owns.len() {
            for b in a + 1..owns.len() {
                let hit = owns[a].iter().any(|pa| {
                    owns[b]
                        .iter()
                        .any(|pb| crate::forge::ownership::patterns_intersect(pa, pb).is_some())
                });
                if hit {
                    slow.push((a, b));
                }
            }
        }
        assert_eq!(fast, slow);
    }

    #[test]
    fn identical_patterns_are_one_finding() {
        let owns: Vec<&[&str]> = vec![&["src/**"]; 5];
        let m = manifest(&owns);
        assert_eq!(pairs(&m), vec![vec!["d0", "d1", "d2", "d3", "d4"]]);
        assert_eq!(find(&m).found[0].example, "src/a");
    }

    #[test]
    fn pathological_overlaps_stop_at_the_cap() {
        let pats: Vec<String> = (0..30).map(|i| format!("**/*{i}*")).collect();
        let owns: Vec<Vec<&str>> = pats.iter().map(|p| vec![p.as_str()]).collect();
        let refs: Vec<&[&str]> = owns.iter().map(Vec::as_slice).collect();
        let found = find(&manifest(&refs));
        assert!(found.truncated);
        assert_eq!(found.found.len(), MAX_FINDINGS);
    }
}
