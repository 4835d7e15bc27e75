//! Manifest rules beyond the schema: names, references, cycles, globs, escapes, overlaps.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::schema::Manifest;
use crate::forge::ownership::check_pattern;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with the line where we could place it and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub line: Option<usize>,
    pub message: String,
    pub fix: String,
}

impl Problem {
    pub fn error(line: Option<usize>, message: String, fix: String) -> Problem {
        Problem {
            severity: Severity::Error,
            line,
            message,
            fix,
        }
    }

    pub fn warning(line: Option<usize>, message: String, fix: String) -> Problem {
        Problem {
            severity: Severity::Warning,
            line,
            message,
            fix,
        }
    }

    /// `file:line: message` followed by an indented `help:` line.
    pub fn render(&self, source: &str) -> String {
        let at = match self.line {
            Some(l) => format!("{source}:{l}"),
            None => source.to_owned(),
        };
        format!("{at}: {}\n    help: {}", self.message, self.fix)
    }
}

/// The 1-based line of the first occurrence of `"value"` (a quoted TOML string) or, failing
/// that, of the bare text.
pub fn line_of(text: &str, value: &str) -> Option<usize> {
    let quoted = format!("\"{value}\"");
    let single = format!("'{value}'");
    let pos = text
        .find(&quoted)
        .or_else(|| text.find(&single))
        .or_else(|| find_escaped(text, value))
        .or_else(|| text.find(value))?;
    Some(text[..pos].lines().count().max(1) + usize::from(text[..pos].ends_with('\n')))
        .map(|l| l.min(text.lines().count().max(1)))
}

/// The byte position of the first one-line TOML basic string (`"…"`) whose unescaped value is
/// `value`: a hostile name written with escapes (`"a\"b"`, `"\u0000"`) still gets its line.
fn find_escaped(text: &str, value: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i;
        let mut out = String::new();
        let mut chars = text[i + 1..].char_indices();
        let mut end = None;
        while let Some((j, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1 + j);
                    break;
                }
                '\n' => break,
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('e') => out.push('\u{1b}'),
                    Some(k @ ('u' | 'U' | 'x')) => {
                        let n = match k {
                            'u' => 4,
                            'U' => 8,
                            _ => 2,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        if let Some(ch) =
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            out.push(ch);
                        }
                    }
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        match end {
            Some(_) if out == value => return Some(start),
            Some(e) => i = e + 1,
            None => i += 1,
        }
    }
    None
}

fn valid_droid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn suggest_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    // `CoreDroid` reads better as `core-droid`.
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && !out.ends_with('-') {
            out.push('-');
        }
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        });
    }
    if out.chars().any(|c| c.is_ascii_alphanumeric()) {
        s = out;
    }
    let s = s.trim_matches('-').to_owned();
    let mut collapsed = String::new();
    for c in s.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    if collapsed.is_empty() {
        "droid-1".to_owned()
    } else {
        collapsed
    }
}

fn valid_ref_part(s: &str) -> bool {
    !s.is_empty()
        && !s.contains("..")
        && !s.contains("@{")
        && !s.starts_with('/')
        && !s.starts_with('-')
        && !s.ends_with(".lock")
        && !s.contains("//")
        && s.chars().all(|c| {
            !c.is_control() && !matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        })
}

/// The form patterns are matched in: trimmed, without `./` and trailing slashes.
fn normalized(p: &str) -> &str {
    let t = p.trim().trim_end_matches('/');
    t.strip_prefix("./").unwrap_or(t)
}

fn has_glob_syntax(p: &str) -> bool {
    p.contains(['*', '?', '[', '{', '\\'])
}

/// `.` reads as "the whole repository" but as a glob matches no path at all: reject it rather
/// than let a droid silently own nothing. (`**` stays allowed: a one-droid forge owns it all.)
fn owns_everything(p: &str) -> bool {
    matches!(normalized(p), "" | ".")
}

fn path_escapes(p: &str) -> bool {
    let p = p.trim();
    p.starts_with('/') || p.starts_with('\\') || p.split(['/', '\\']).any(|c| c == "..") || {
        let b = p.as_bytes();
        b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
    }
}

pub fn validate(m: &Manifest, text: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let err = |out: &mut Vec<Problem>, needle: &str, msg: String, fix: String| {
        out.push(Problem::error(line_of(text, needle), msg, fix));
    };

    // [forge]
    if let Some(int) = &m.forge.integration
        && !crate::git::valid_branch_name(int)
    {
        err(
            &mut out,
            int,
            format!("integration branch `{int}` is not a valid branch name"),
            "use a branch name like `main`".into(),
        );
    }
    let prefix = &m.forge.branch_prefix;
    if prefix.is_empty() {
        err(
            &mut out,
            "branch_prefix",
            "branch_prefix is empty: droid branches would be named like any other branch (a droid `main` would own the branch `main`)".into(),
            "use a prefix such as `droidforge/`".into(),
        );
    } else if !valid_ref_part(prefix) || !crate::git::valid_branch_name(&format!("{prefix}x")) {
        err(
            &mut out,
            prefix,
            format!("branch_prefix `{prefix}` cannot be part of a branch name"),
            "use something like `droidforge/`".into(),
        );
    }
    let wt = m.forge.worktree_dir.trim().trim_end_matches('/');
    let wt = wt.strip_prefix("./").unwrap_or(wt);
    let first = wt.split('/').next().unwrap_or_default();
    if wt.is_empty() || path_escapes(wt) {
        err(
            &mut out,
            &m.forge.worktree_dir,
            format!(
                "worktree_dir `{}` must be a relative path inside the repository",
                m.forge.worktree_dir
            ),
            "use a path like `.droidforge/worktrees`".into(),
        );
    } else if wt == "." || first.eq_ignore_ascii_case(".git") {
        err(
            &mut out,
            &m.forge.worktree_dir,
            format!(
                "worktree_dir `{}` would put droid worktrees in the repository root or inside `.git`",
                m.forge.worktree_dir
            ),
            "use a dedicated directory like `.droidforge/worktrees`".into(),
        );
    }

    // [[phase]]
    let mut phase_ids = HashSet::new();
    for p in &m.phases {
        if !phase_ids.insert(p.id) {
            err(
                &mut out,
                &format!("id = {}", p.id),
                format!("phase {} is defined twice", p.id),
                "give every [[phase]] a unique `id`".into(),
            );
        }
    }
    for p in &m.phases {
        for a in &p.after {
            if !phase_ids.contains(a) {
                err(
                    &mut out,
                    &format!("id = {}", p.id),
                    format!("phase {} runs after phase {a}, which does not exist", p.id),
                    format!("define a [[phase]] with id = {a} or remove it from `after`"),
                );
            }
        }
    }
    let phase_graph: BTreeMap<String, Vec<String>> = m
        .phases
        .iter()
        .map(|p| {
            (
                p.id.to_string(),
                p.after.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect();
    if let Some(cycle) = find_cycle(&phase_graph) {
        let shown: Vec<String> = cycle.iter().map(|c| format!("phase {c}")).collect();
        out.push(Problem::error(
            line_of(text, "after"),
            format!(
                "phases depend on each other in a cycle: {}",
                shown.join(" → ")
            ),
            "remove one of these `after` entries".into(),
        ));
    }

    // [[droid]]
    let protected_list = super::protected_patterns(m);
    let protected = crate::forge::ownership::Rules::new(
        protected_list.iter().map(String::as_str),
        [],
        std::iter::empty::<(&str, &[String])>(),
    )
    .ok();
    let mut names = HashSet::new();
    for d in &m.droids {
        if !valid_droid_name(&d.name) {
            err(
                &mut out,
                &d.name,
                format!(
                    "droid name `{}` is not allowed: names become branch and directory names, so use lowercase letters, digits and `-`, starting with a letter or digit",
                    d.name
                ),
                format!("rename it to `{}`", suggest_name(&d.name)),
            );
        } else if !names.insert(d.name.as_str()) {
            err(
                &mut out,
                &d.name,
                format!("droid `{}` is defined twice", d.name),
                "give every [[droid]] a unique name".into(),
            );
        }
        if valid_droid_name(&d.name)
            && let Some(int) = &m.forge.integration
            && format!("{prefix}{}", d.name) == *int
        {
            err(
                &mut out,
                &d.name,
                format!(
                    "droid `{}` would work on the branch `{int}`, which is the integration branch",
                    d.name
                ),
                "rename the droid or set `branch_prefix` (e.g. `droidforge/`)".into(),
            );
        }
        for ph in &d.phases {
            if !phase_ids.contains(ph) {
                err(
                    &mut out,
                    &d.name,
                    format!(
                        "droid `{}` works in phase {ph}, which does not exist",
                        d.name
                    ),
                    format!("add a [[phase]] with id = {ph}, or remove {ph} from its `phases`"),
                );
            }
        }
        for p in d.owns.iter() {
            if let Err(e) = check_pattern(p) {
                err(
                    &mut out,
                    p,
                    format!("droid `{}` owns {e}", d.name),
                    pattern_fix(p),
                );
            } else if owns_everything(p) {
                err(
                    &mut out,
                    p,
                    format!("droid `{}` owns `{p}`, the whole repository", d.name),
                    "list the directories it works in (e.g. `src/feature/**`); to really give it every path, write `**`".into(),
                );
            } else if let Some(rules) = &protected
                && !has_glob_syntax(p)
                && rules.classify(normalized(p)).protected
            {
                err(
                    &mut out,
                    p,
                    format!(
                        "droid `{}` owns `{p}`, which is protected (only droidforge and humans on the integration branch change it)",
                        d.name
                    ),
                    "remove it from `owns`".into(),
                );
            }
        }
        if let (Some(t), Some(rules)) = (&d.todo, &protected)
            && !path_escapes(t)
            && !t.trim().is_empty()
            && rules.classify(normalized(t)).protected
        {
            err(
                &mut out,
                t,
                format!(
                    "droid `{}` keeps its TODO list in `{t}`, a protected path",
                    d.name
                ),
                format!("use a path the droid may change, e.g. `TODO-{}.md`", d.name),
            );
        }
        for p in d.reads.iter().chain(d.todo.iter()) {
            if path_escapes(p) || p.trim().is_empty() {
                err(
                    &mut out,
                    p,
                    format!(
                        "droid `{}` refers to `{p}`, which is outside the repository",
                        d.name
                    ),
                    "use a path relative to the repository root, without `..`".into(),
                );
            }
        }
    }
    let known: HashSet<&str> = m.droids.iter().map(|d| d.name.as_str()).collect();
    for d in &m.droids {
        for a in &d.after {
            if a == &d.name {
                err(
                    &mut out,
                    a,
                    format!("droid `{}` lists itself in `after`", d.name),
                    "remove it from its own `after`".into(),
                );
            } else if !known.contains(a.as_str()) {
                let hint = crate::error::similar_name(a, known.iter().copied())
                    .map(|s| format!("a droid with a similar name exists: `{s}`"))
                    .unwrap_or_else(|| "remove it from `after` or define that droid".into());
                err(
                    &mut out,
                    a,
                    format!(
                        "droid `{}` runs after `{a}`, which is not a droid in this manifest",
                        d.name
                    ),
                    hint,
                );
            }
        }
    }
    let droid_graph: BTreeMap<String, Vec<String>> = m
        .droids
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                d.after.iter().filter(|a| **a != d.name).cloned().collect(),
            )
        })
        .collect();
    if let Some(cycle) = find_cycle(&droid_graph) {
        out.push(Problem::error(
            line_of(text, &format!("\"{}\"", cycle[0])).and(line_of(text, &cycle[0])),
            format!(
                "droids depend on each other in a cycle: {}",
                cycle.join(" → ")
            ),
            "remove one of these `after` entries so the droids can merge in order".into(),
        ));
    }

    // [paths]
    for p in m.paths.shared.iter().chain(m.paths.protected.iter()) {
        if let Err(e) = check_pattern(p) {
            err(&mut out, p, format!("path pattern {e}"), pattern_fix(p));
        }
    }

    out
}

fn pattern_fix(p: &str) -> String {
    if p.trim_start().starts_with('/') {
        format!(
            "write it relative to the repository root: `{}`",
            p.trim_start().trim_start_matches('/')
        )
    } else if p.contains("..") {
        "patterns may not leave the repository; remove the `..`".into()
    } else {
        "fix the glob: `*` matches within a directory, `**` across directories, `[...]` must be closed".into()
    }
}

/// Find one cycle in a dependency graph (node -> nodes it depends on); returns it closed
/// (`a → b → a`).
fn find_cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, Vec<String>>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle: Vec<String> =
                    stack[start..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Visiting);
        stack.push(node);
        for dep in graph.get(node).into_iter().flatten() {
            if graph.contains_key(dep.as_str())
                && let Some(c) = visit(dep, graph, marks, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for node in graph.keys() {
        let mut stack = Vec::new();
        if let Some(mut c) = visit(node, graph, &mut marks, &mut stack) {
            // Show the cycle in dependency order: `a` runs after `b` … reads as a → b.
            c.dedup();
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_kebab_case() {
        assert_eq!(suggest_name("CoreDroid"), "core-droid");
        assert_eq!(suggest_name("core_droid"), "core-droid");
        assert_eq!(suggest_name("___"), "droid-1");
    }

    #[test]
    fn cycle_is_named() {
        let g: BTreeMap<String, Vec<String>> = [
            ("a".to_owned(), vec!["b".to_owned()]),
            ("b".to_owned(), vec!["c".to_owned()]),
            ("c".to_owned(), vec!["a".to_owned()]),
        ]
        .into_iter()
        .collect();
        assert_eq!(find_cycle(&g).unwrap(), vec!["a", "b", "c", "a"]);
    }

    #[test]
    fn line_of_finds_quoted_value() {
        let text = "[forge]\n\n[[droid]]\nname = \"Bad\"\n";
        assert_eq!(line_of(text, "Bad"), Some(4));
    }
}
