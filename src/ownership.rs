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

/// Check a pattern for escapes and compile it, returning the globs it expands to.
pub fn compile_pattern(pattern: &str) -> Result<Vec<globset::Glob>, PatternError> {
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
    let base = base.strip_prefix("./").unwrap_or(base);
    let mut globs = Vec::with_capacity(2);
    for candidate in [base.to_owned(), format!("{base}/**")] {
        if candidate.ends_with("/**/**") {
            continue;
        }
        let glob = GlobBuilder::new(&candidate)
            .literal_separator(true)
            .backslash_escape(true)
            .empty_alternates(true)
            .build()
            .map_err(|e| PatternError::Invalid {
                pattern: pattern.to_owned(),
                reason: e.kind().to_string(),
            })?;
        globs.push(glob);
    }
    Ok(globs)
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
    set: GlobSet,
    /// For each glob in `set`, what it grants.
    grants: Vec<Grant>,
    pub droid_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Protected,
    Shared,
    Droid(usize),
}

impl Rules {
    /// Build rules from protected, shared and per-droid patterns. Errors name the bad pattern.
    pub fn new<'a>(
        protected: impl IntoIterator<Item = &'a str>,
        shared: impl IntoIterator<Item = &'a str>,
        droids: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<Rules, PatternError> {
        let mut builder = GlobSetBuilder::new();
        let mut grants = Vec::new();
        let mut add = |pattern: &str, grant: Grant| -> Result<(), PatternError> {
            for glob in compile_pattern(pattern)? {
                builder.add(glob);
                grants.push(grant);
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
        let set = builder.build().map_err(|e| PatternError::Invalid {
            pattern: e.glob().unwrap_or("").to_owned(),
            reason: e.kind().to_string(),
        })?;
        Ok(Rules {
            set,
            grants,
            droid_names,
        })
    }

    pub fn classify(&self, path: &str) -> Classification {
        let mut hits = Vec::new();
        self.classify_into(path, &mut hits)
    }

    /// Like [`classify`](Self::classify) but reuses a scratch buffer; the hot loop of ownership checks.
    pub fn classify_into(&self, path: &str, scratch: &mut Vec<usize>) -> Classification {
        self.set.matches_into(path, scratch);
        let mut out = Classification::default();
        for &hit in scratch.iter() {
            match self.grants[hit] {
                Grant::Protected => out.protected = true,
                Grant::Shared => out.shared = true,
                Grant::Droid(d) => {
                    if !out.owners.contains(&d) {
                        out.owners.push(d);
                    }
                }
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
// overlaps in `plan` and for lock conflicts. Works on the pattern language directly, so it
// finds overlaps even for files that do not exist yet, and produces an example path.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `?`: one character except `/`.
    One,
    /// `[...]`: one character from a set (we keep the chars/ranges; negation supported).
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    /// `*`: any run of characters except `/`.
    Star,
    /// `**` as a whole component: any run of characters including `/`.
    GlobStar,
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    // `**/` also matches zero directories; model `**/` as GlobStar followed by an
                    // optional `/`, which we express by expanding to GlobStar then checking
                    // either `/` or nothing; a plain GlobStar over-approximates just slightly.
                    out.push(Token::GlobStar);
                    i += 2;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                } else {
                    out.push(Token::Star);
                    i += 1;
                }
            }
            '?' => {
                out.push(Token::One);
                i += 1;
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!') | Some('^'));
                if negated {
                    j += 1;
                }
                let mut items = Vec::new();
                let start = j;
                while j < chars.len() && (chars[j] != ']' || j == start) {
                    if j + 2 < chars.len() && chars[j + 1] == '-' && chars[j + 2] != ']' {
                        items.push((chars[j], chars[j + 2]));
                        j += 3;
                    } else {
                        items.push((chars[j], chars[j]));
                        j += 1;
                    }
                }
                if j < chars.len() {
                    out.push(Token::Class { negated, items });
                    i = j + 1;
                } else {
                    out.push(Token::Lit('['));
                    i += 1;
                }
            }
            '\\' if i + 1 < chars.len() => {
                out.push(Token::Lit(chars[i + 1]));
                i += 2;
            }
            c => {
                out.push(Token::Lit(c));
                i += 1;
            }
        }
    }
    out
}

/// Expand `{a,b}` alternatives (non-nested is enough for ownership patterns; nested ones expand too).
fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let mut depth = 0;
    let mut close = None;
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut last = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[last..i]);
                last = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[last..]);
    parts
        .into_iter()
        .flat_map(|p| expand_braces(&format!("{head}{p}{tail}")))
        .collect()
}

/// The set of characters a single-char token accepts, as a predicate plus a witness chooser.
fn single_char_witness(a: &Token, b: &Token) -> Option<char> {
    // Candidate characters to try: literals from both tokens, class bounds, and a neutral char.
    let mut candidates = Vec::new();
    for t in [a, b] {
        match t {
            Token::Lit(c) => candidates.push(*c),
            Token::Class { items, .. } => {
                for (lo, hi) in items {
                    candidates.push(*lo);
                    candidates.push(*hi);
                }
            }
            _ => {}
        }
    }
    candidates.extend(['x', '0', '_', '-', '.']);
    candidates
        .into_iter()
        .find(|&c| accepts(a, c) && accepts(b, c))
}

fn accepts(t: &Token, c: char) -> bool {
    match t {
        Token::Lit(l) => *l == c,
        Token::One | Token::Star => c != '/',
        Token::GlobStar => true,
        Token::Class { negated, items } => {
            c != '/' && (items.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated)
        }
    }
}

fn is_repeating(t: &Token) -> bool {
    matches!(t, Token::Star | Token::GlobStar)
}

/// An example path matched by both tokenized patterns, if any.
fn intersect_tokens(a: &[Token], b: &[Token]) -> Option<String> {
    use std::collections::{HashMap, VecDeque};
    // BFS over (i, j) product states; parent pointers rebuild the witness.
    let start = (0usize, 0usize);
    type State = (usize, usize);
    let mut parent: HashMap<State, Option<(State, Option<char>)>> = HashMap::new();
    parent.insert(start, None);
    let mut queue = VecDeque::from([start]);
    while let Some((i, j)) = queue.pop_front() {
        if i == a.len() && j == b.len() {
            let mut path = Vec::new();
            let mut cur = (i, j);
            while let Some(Some((prev, ch))) = parent.get(&cur) {
                if let Some(ch) = ch {
                    path.push(*ch);
                }
                cur = *prev;
            }
            path.reverse();
            return Some(path.into_iter().collect());
        }
        let mut next = Vec::new();
        // Epsilon moves: a repeating token may match nothing.
        if i < a.len() && is_repeating(&a[i]) {
            next.push(((i + 1, j), None));
        }
        if j < b.len() && is_repeating(&b[j]) {
            next.push(((i, j + 1), None));
        }
        if i < a.len() && j < b.len() {
            if let Some(c) = single_char_witness(&a[i], &b[j]) {
                let ni = if is_repeating(&a[i]) { i } else { i + 1 };
                let nj = if is_repeating(&b[j]) { j } else { j + 1 };
                next.push(((ni, nj), Some(c)));
                // A repeating token matching a char can also stop after it.
                if is_repeating(&a[i]) && !is_repeating(&b[j]) {
                    next.push(((i + 1, nj), Some(c)));
                }
            }
            // `/` through a GlobStar needs separate handling so a witness can cross directories.
            if accepts(&a[i], '/') && accepts(&b[j], '/') {
                let ni = if is_repeating(&a[i]) { i } else { i + 1 };
                let nj = if is_repeating(&b[j]) { j } else { j + 1 };
                next.push(((ni, nj), Some('/')));
            }
        }
        for (state, ch) in next {
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(state) {
                e.insert(Some(((i, j), ch)));
                queue.push_back(state);
            }
        }
    }
    None
}

/// If two ownership patterns can match a common path, return an example of such a path.
///
/// Both patterns are taken with their directory-covers-contents expansion. The answer is exact
/// for `*`, `?`, `**`, literals, braces and character classes.
pub fn patterns_intersect(a: &str, b: &str) -> Option<String> {
    let expand = |p: &str| -> Vec<Vec<Token>> {
        let base = p.trim().trim_end_matches('/');
        let base = base.strip_prefix("./").unwrap_or(base).to_owned();
        expand_braces(&base)
            .into_iter()
            .flat_map(|e| [tokenize(&e), tokenize(&format!("{e}/**"))])
            .collect()
    };
    let (xs, ys) = (expand(a), expand(b));
    let mut best: Option<String> = None;
    for x in &xs {
        for y in &ys {
            if let Some(w) = intersect_tokens(x, y) {
                let w = w.trim_end_matches('/').to_owned();
                if w.is_empty() {
                    continue;
                }
                if best.as_ref().is_none_or(|b| w.len() < b.len()) {
                    best = Some(w);
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        let core = vec!["src/core/**".to_owned(), "src/lib.rs".to_owned()];
        let infra = vec!["src/infra/*.rs".to_owned(), "docs".to_owned()];
        Rules::new(
            [".droidforge/**", "PROGRESS.md"],
            ["INTERFACES.md"],
            [("core", core.as_slice()), ("infra", infra.as_slice())],
        )
        .unwrap()
    }

    #[test]
    fn star_does_not_cross_slash_but_globstar_does() {
        let r = rules();
        assert_eq!(r.classify("src/infra/a.rs").owners, vec![1]);
        assert!(r.classify("src/infra/deep/a.rs").owners.is_empty());
        assert_eq!(r.classify("src/core/a/b/c.rs").owners, vec![0]);
    }

    #[test]
    fn directory_pattern_covers_contents() {
        let r = rules();
        assert_eq!(r.classify("docs/guide/intro.md").owners, vec![1]);
        assert!(r.classify("docsx/a").owners.is_empty());
    }

    #[test]
    fn slashless_pattern_is_anchored_at_root() {
        let r = rules();
        assert!(r.classify("INTERFACES.md").shared);
        assert!(!r.classify("sub/INTERFACES.md").shared);
    }

    #[test]
    fn protected_wins_over_ownership() {
        let core = vec![".droidforge/**".to_owned()];
        let r = Rules::new([".droidforge/**"], [], [("core", core.as_slice())]).unwrap();
        let c = r.classify(".droidforge/forge.toml");
        assert!(c.protected && !c.allows(0));
    }

    #[test]
    fn escapes_are_rejected() {
        assert!(matches!(
            compile_pattern("../x"),
            Err(PatternError::Escapes(_))
        ));
        assert!(matches!(
            compile_pattern("a/../../x"),
            Err(PatternError::Escapes(_))
        ));
        assert!(matches!(
            compile_pattern("/etc/passwd"),
            Err(PatternError::Absolute(_))
        ));
        assert!(matches!(
            compile_pattern("src/[a"),
            Err(PatternError::Invalid { .. })
        ));
    }

    #[test]
    fn intersections() {
        assert!(patterns_intersect("src/**", "src/api/x.rs").is_some());
        assert!(patterns_intersect("tests/**", "src/**").is_none());
        assert!(patterns_intersect("src/*.rs", "src/a/b.rs").is_none());
        assert!(patterns_intersect("src/*.rs", "src/**").is_some());
        assert!(patterns_intersect("src", "src/x.rs").is_some());
        assert!(patterns_intersect("src/{a,b}.rs", "src/b.rs").is_some());
        assert!(patterns_intersect("src/[ab].rs", "src/c.rs").is_none());
        let w = patterns_intersect("src/core/**", "src/*/mod.rs").unwrap();
        assert!(
            globset::Glob::new("src/core/**")
                .unwrap()
                .compile_matcher()
                .is_match(&w),
            "{w}"
        );
    }
}
