//! The plan of a forge: phases, droids in merge order, waves and ownership overlaps — one
//! report rendered as text, Mermaid, Graphviz dot or JSON.

use serde::Serialize;

use crate::forge::manifest::{Forge, Overlap, Problem};

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub version: u32,
    pub integration: Option<String>,
    pub phases: Vec<PlanPhase>,
    /// Droids in merge order.
    pub droids: Vec<PlanDroid>,
    /// Groups of droids that can work at the same time.
    pub waves: Vec<Vec<String>>,
    pub overlaps: Vec<Overlap>,
    pub warnings: Vec<Problem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanPhase {
    pub id: u32,
    pub name: String,
    pub after: Vec<u32>,
    pub droids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanDroid {
    pub name: String,
    pub role: String,
    pub phases: Vec<u32>,
    pub after: Vec<String>,
    pub owns: Vec<String>,
    pub todo: Option<String>,
    pub branch: String,
}

/// Build the plan report; `overlaps` and `warnings` come from [`Forge::overlaps`] (computed
/// once by the caller, which also prints the warnings).
pub fn build(forge: &Forge, overlaps: Vec<Overlap>, warnings: Vec<Problem>) -> PlanReport {
    let m = &forge.manifest;
    let phases = m
        .phases
        .iter()
        .map(|p| PlanPhase {
            id: p.id,
            name: p.name.clone(),
            after: p.after.clone(),
            droids: forge
                .droids_in_phase(p.id)
                .iter()
                .map(|d| d.name.clone())
                .collect(),
        })
        .collect();
    let droids = forge
        .order()
        .into_iter()
        .map(|d| PlanDroid {
            name: d.name.clone(),
            role: d.role.clone(),
            phases: d.phases.clone(),
            after: d.after.clone(),
            owns: d.owns.clone(),
            todo: d.todo.clone(),
            branch: forge.branch_of(&d.name),
        })
        .collect();
    let waves = forge
        .waves()
        .into_iter()
        .map(|w| w.into_iter().map(|d| d.name.clone()).collect())
        .collect();
    PlanReport {
        version: 1,
        integration: forge.integration().map(str::to_owned),
        phases,
        droids,
        waves,
        overlaps,
        warnings,
    }
}

pub fn render_text(r: &PlanReport) -> String {
    let mut out = String::new();
    if let Some(i) = &r.integration {
        out.push_str(&format!("Integration branch: {i}\n\n"));
    }
    if !r.phases.is_empty() {
        out.push_str("Phases:\n");
        for p in &r.phases {
            let after = if p.after.is_empty() {
                String::new()
            } else {
                format!(
                    " (after {})",
                    p.after
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let droids = if p.droids.is_empty() {
                "no droids".to_owned()
            } else {
                p.droids.join(", ")
            };
            out.push_str(&format!("  {:>2}. {}{after}: {droids}\n", p.id, p.name));
        }
        out.push('\n');
    }
    out.push_str("Merge order:\n");
    for (i, d) in r.droids.iter().enumerate() {
        let after = if d.after.is_empty() {
            String::new()
        } else {
            format!(" after {}", d.after.join(", "))
        };
        let phases = d
            .phases
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        out.push_str(&format!(
            "  {}. {} [{}] phases {}{after}\n     owns {}\n",
            i + 1,
            d.name,
            if d.role.is_empty() { "-" } else { &d.role },
            if phases.is_empty() {
                "-".to_owned()
            } else {
                phases
            },
            if d.owns.is_empty() {
                "nothing".to_owned()
            } else {
                d.owns.join(", ")
            }
        ));
    }
    out.push_str("\nWaves (droids in one wave can run at the same time):\n");
    for (i, w) in r.waves.iter().enumerate() {
        out.push_str(&format!("  wave {}: {}\n", i + 1, w.join(", ")));
    }
    if r.overlaps.is_empty() {
        out.push_str("\nOwnership: no overlaps.\n");
    } else {
        out.push_str("\nOwnership overlaps:\n");
        for o in &r.overlaps {
            let owners: Vec<String> = o
                .droids
                .iter()
                .zip(&o.patterns)
                .map(|(d, p)| format!("{d} (`{p}`)"))
                .collect();
            let owners = match owners.as_slice() {
                [a, b] => format!("{a} and {b}"),
                _ => owners.join(", "),
            };
            out.push_str(&format!("  {owners}, e.g. `{}`\n", o.example));
        }
    }
    out
}

fn node_id(name: &str) -> String {
    name.replace('-', "_")
}

pub fn render_mermaid(r: &PlanReport) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut placed = std::collections::HashSet::new();
    for p in &r.phases {
        out.push_str(&format!(
            "  subgraph phase{}[\"Phase {}: {}\"]\n",
            p.id,
            p.id,
            p.name.replace('"', "'")
        ));
        for d in &p.droids {
            if placed.insert(d.clone()) {
                out.push_str(&format!("    {}[\"{}\"]\n", node_id(d), d));
            }
        }
        out.push_str("  end\n");
    }
    for d in &r.droids {
        if placed.insert(d.name.clone()) {
            out.push_str(&format!("  {}[\"{}\"]\n", node_id(&d.name), d.name));
        }
    }
    for d in &r.droids {
        for a in &d.after {
            out.push_str(&format!("  {} --> {}\n", node_id(a), node_id(&d.name)));
        }
    }
    out
}

pub fn render_dot(r: &PlanReport) -> String {
    let mut out = String::from("digraph forge {\n  rankdir=LR;\n  node [shape=box];\n");
    for p in &r.phases {
        out.push_str(&format!(
            "  subgraph cluster_phase{} {{\n    label=\"Phase {}: {}\";\n",
            p.id,
            p.id,
            p.name.replace('"', "'")
        ));
        for d in &p.droids {
            out.push_str(&format!("    \"{d}\";\n"));
        }
        out.push_str("  }\n");
    }
    for d in &r.droids {
        out.push_str(&format!("  \"{}\";\n", d.name));
        for a in &d.after {
            out.push_str(&format!("  \"{a}\" -> \"{}\";\n", d.name));
        }
    }
    out.push_str("}\n");
    out
}

/// Warnings about ownership that cannot be right on this repository: a droid's pattern that
/// matches no file of the integration branch (`paths`: its tree; a manifest written for another
/// layout, like the seed's TypeScript paths on a Rust repository), and a droid's task that names
/// a path the droid may not change (its brief would ask for an edit the merger rejects), and a
/// file the brief tells the droid to read that the branch does not have.
/// `text` is the manifest's text, for line numbers.
pub fn ownership_warnings(forge: &Forge, paths: &[String], text: &str) -> Vec<Problem> {
    use crate::forge::manifest::line_of;
    let mut out = Vec::new();
    let mut sorted: Vec<&str> = paths.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    // At most this many patterns are named one by one; the rest are counted (a generated
    // manifest of thousands of droids must not print thousands of lines).
    const NAMED: usize = 10;
    let mut unmatched = 0usize;
    for d in forge.droids() {
        for pattern in &d.owns {
            if pattern_matches_any(pattern, &sorted) {
                continue;
            }
            unmatched += 1;
            if unmatched <= NAMED {
                out.push(Problem::warning(
                    line_of(text, pattern),
                    format!(
                        "droid `{}` owns `{pattern}`, which matches no file on the integration branch",
                        d.name
                    ),
                    format!(
                        "fix the pattern, or ignore this if `{}` will create those files",
                        d.name
                    ),
                ));
            }
        }
    }
    if unmatched > NAMED {
        out.push(Problem::warning(
            None,
            format!(
                "{} more ownership patterns match no file on the integration branch",
                unmatched - NAMED
            ),
            "check that the manifest was written for this repository's layout".to_owned(),
        ));
    }
    for d in forge.droids() {
        for read in &d.reads {
            if !paths.iter().any(|p| p == read) {
                out.push(Problem::warning(
                    line_of(text, read),
                    format!(
                        "droid `{}` is told to read `{read}`, which is not on the integration branch",
                        d.name
                    ),
                    format!("commit `{read}`, or remove it from the droid's `reads`"),
                ));
            }
        }
        for task in &d.tasks {
            for path in crate::forge::brief::forbidden_paths_in(forge, d, task) {
                out.push(Problem::warning(
                    line_of(text, task),
                    format!(
                        "a task of droid `{d}` names `{path}`, which `{d}` may not change",
                        d = d.name
                    ),
                    format!(
                        "add `{path}` to the droid's `owns` or to `paths.shared`, or reword the task (the brief marks it read only)"
                    ),
                ));
            }
        }
    }
    out
}

/// Does `pattern` match one of `sorted` (sorted paths)? Only the paths under the pattern's
/// literal leading directories are tested, so a pattern for a directory the branch lacks costs
/// a binary search and no glob compilation.
fn pattern_matches_any(pattern: &str, sorted: &[&str]) -> bool {
    let Ok(globs) = crate::forge::ownership::compile_pattern(pattern) else {
        // An invalid pattern is reported by validation; not this warning's business.
        return true;
    };
    globs.iter().any(|glob| {
        let literal: Vec<&str> = glob
            .glob()
            .split('/')
            .take_while(|c| !c.is_empty() && !c.contains(['*', '?', '[', '{', '\\']))
            .collect();
        let prefix = literal.join("/");
        let start = sorted.partition_point(|p| *p < prefix.as_str());
        let end = start
            + sorted[start..]
                .iter()
                .take_while(|p| p.starts_with(prefix.as_str()))
                .count();
        if start == end {
            return false;
        }
        let matcher = glob.compile_matcher();
        sorted[start..end].iter().any(|p| matcher.is_match(p))
    })
}
