//! What the merger said: the feedback section a rejected droid finds in its brief, one per
//! rejected attempt ("What the merger said (attempt N)"), newest first, in the seed's prompt
//! shape (an upper-case label, the facts as a list, numbered steps to take).
//!
//! Pure: the sections are rendered from plain data ([`Feedback`], kept in the state so that
//! every later rewrite of the brief — a re-spawn, a new request — shows them again). The op
//! that builds the data from a merge rejection is `ops::feedback`.

use serde::{Deserialize, Serialize};

use crate::forge::brief::BriefRequest;
use crate::util::text::shell_quote;

/// How many lines of a failed verification's output a section shows.
pub const VERIFY_TAIL_LINES: usize = 60;

/// The merger's verdict on one rejected attempt of one droid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Feedback {
    /// 1 for the first rejection since the droid last landed, then 2, 3, ...
    pub attempt: u32,
    /// The merge run that rejected it.
    pub merge_id: String,
    /// Short name of the integration branch.
    pub integration: String,
    /// The rejected commit (the ready mark), full hex.
    #[serde(default)]
    pub ready: Option<String>,
    pub said: Said,
}

/// What went wrong, with what the droid needs to fix it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Said {
    /// The droid's commits do not apply on the integration branch.
    Conflict {
        /// The droid commit that stopped the replay.
        #[serde(default)]
        commit: Option<CommitRef>,
        /// The conflicting paths (empty when the merger refused for another reason).
        paths: Vec<ConflictPath>,
        /// The merger's reason when there are no paths (a merge commit in the range, a ready
        /// mark that is not a commit, ...).
        #[serde(default)]
        reason: Option<String>,
    },
    /// The droid changed paths it may not change.
    Violation { paths: Vec<ViolationPath> },
    /// The verification command failed on the droid's work merged onto the integration tip.
    VerifyFailed {
        command: String,
        /// The merger's one-line summary (exit status and the last lines).
        detail: String,
        /// The last [`VERIFY_TAIL_LINES`] lines of its output (stdout, then stderr).
        output: Vec<String>,
    },
}

/// A commit named in feedback: abbreviated id and subject line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommitRef {
    pub id: String,
    pub subject: String,
}

/// One conflicting path and the landed work it conflicts with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConflictPath {
    pub path: String,
    /// `content`, `add/add`, `modify/delete`, ...
    pub kind: String,
    /// The last integration commit that changed the path since the droid's base.
    #[serde(default)]
    pub landed: Option<LandedChange>,
}

/// An integration commit and the droid whose work it is (`None`: not a droid's, e.g. a human
/// commit on the integration branch).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LandedChange {
    pub commit: CommitRef,
    #[serde(default)]
    pub droid: Option<String>,
}

/// One path outside the droid's ownership.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ViolationPath {
    pub path: String,
    /// `added`, `modified`, `deleted`, `renamed-from`, `renamed-to`, `mode-changed`,
    /// `invalid-entry`.
    pub kind: String,
    /// The droid commit that made the change (abbreviated; empty when unknown).
    pub commit: String,
    /// The merger's owner text: "owned by `x`", "shared", "unowned", "protected", or why git
    /// refuses the entry.
    pub owner: String,
    /// The owning droid, when another droid owns the path.
    #[serde(default)]
    pub owner_droid: Option<String>,
}

impl Said {
    /// `conflict`, `violation` or `verify-failed` (the journal's `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Said::Conflict { .. } => "conflict",
            Said::Violation { .. } => "violation",
            Said::VerifyFailed { .. } => "verify-failed",
        }
    }
}

/// The heading of one section; tests and agents look for it.
pub fn heading(attempt: u32) -> String {
    format!("What the merger said (attempt {attempt})")
}

/// Render every section for `droid`, newest attempt first; empty without feedback. `requests`
/// are the open requests; those addressed to `droid` are named in the newest section, since
/// answering them may be what another droid waits for.
pub fn render(droid: &str, feedback: &[Feedback], requests: &[BriefRequest<'_>]) -> String {
    let mut sorted: Vec<&Feedback> = feedback.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.attempt));
    let mut out = String::new();
    for (i, f) in sorted.iter().enumerate() {
        let open: &[BriefRequest<'_>] = if i == 0 { requests } else { &[] };
        out.push_str(&render_one(droid, f, open));
        out.push('\n');
    }
    out
}

/// One section, ending with a newline.
pub fn render_one(droid: &str, f: &Feedback, requests: &[BriefRequest<'_>]) -> String {
    let mut s = String::new();
    let mut line = |text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    let integration = f.integration.as_str();
    line(&format!("{} — merge {}:", heading(f.attempt), f.merge_id));
    match &f.said {
        Said::Conflict {
            commit,
            paths,
            reason,
        } => {
            line(&format!(
                "CONFLICT: your work does not apply on `{integration}` any more, so none of it landed."
            ));
            if let Some(reason) = reason.as_deref().filter(|_| paths.is_empty()) {
                line(&format!("The merger: {reason}."));
            }
            if !paths.is_empty() {
                match commit {
                    Some(c) => line(&format!(
                        "Your commit {} \"{}\" conflicts with work that already landed:",
                        c.id, c.subject
                    )),
                    None => line("Your work conflicts with work that already landed:"),
                }
            }
            for p in paths {
                let with = match &p.landed {
                    Some(LandedChange {
                        commit,
                        droid: Some(d),
                    }) => format!(": landed by `{d}` in {} \"{}\"", commit.id, commit.subject),
                    Some(LandedChange {
                        commit,
                        droid: None,
                    }) => format!(
                        ": changed on `{integration}` in {} \"{}\"",
                        commit.id, commit.subject
                    ),
                    None => String::new(),
                };
                line(&format!("- `{}` ({}){with}", p.path, p.kind));
            }
            line("HOW TO RESOLVE:");
            line(&format!(
                "1. If `git status` does not say \"rebase in progress\", run `droidforge sync` in this worktree: it rebases your branch onto `{integration}` and stops at the first commit that conflicts, with conflict markers in the files."
            ));
            line(
                "2. In each conflicting file keep both what landed and what you meant, remove the markers (`<<<<<<<`, `=======`, `>>>>>>>`), then `git add <file>`.",
            );
            line(
                "3. `GIT_EDITOR=true git rebase --continue`; repeat steps 2-3 while git stops on further commits.",
            );
            line("4. Run the tests, then `droidforge done`.");
            line(
                "Stuck? `droidforge sync --abort` puts your branch back as it was. Never commit conflict markers.",
            );
        }
        Said::Violation { paths } => {
            line(
                "OWNERSHIP VIOLATION: your commits change files you may not change, so none of your work landed.",
            );
            for p in paths {
                let commit = if p.commit.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", p.commit)
                };
                line(&format!("- `{}` ({}{commit}): {}", p.path, p.kind, p.owner));
            }
            let quoted: Vec<String> = paths.iter().map(|p| shell_quote(&p.path)).collect();
            let mut quoted_unique: Vec<String> = Vec::new();
            for q in quoted {
                if !quoted_unique.contains(&q) {
                    quoted_unique.push(q);
                }
            }
            line("WHAT TO DO INSTEAD, for each file above (one of):");
            line(&format!(
                "1. Revert it. Every commit of yours lands, so take it out of your history, not only out of your last commit: `B=$(git merge-base HEAD {integration}) && git reset --soft \"$B\" && git restore --source=\"$B\" --staged --worktree -- {}`, then commit again.",
                quoted_unique.join(" ")
            ));
            let owners: Vec<&str> = {
                let mut o: Vec<&str> = Vec::new();
                for p in paths {
                    if let Some(d) = p.owner_droid.as_deref()
                        && d != droid
                        && !o.contains(&d)
                    {
                        o.push(d);
                    }
                }
                o
            };
            if owners.is_empty() {
                line(
                    "2. Need the change? Ask the human, or the owner of the file: `droidforge ask <droid> \"<what you need>\"`.",
                );
            } else {
                let asks: Vec<String> = owners
                    .iter()
                    .map(|d| format!("`droidforge ask {d} \"<what you need>\"`"))
                    .collect();
                line(&format!(
                    "2. Need the change? Ask its owner: {}.",
                    asks.join(", ")
                ));
            }
            line("3. Or move the change into a file you own (YOUR FILES).");
            line("Then commit and run `droidforge done`.");
        }
        Said::VerifyFailed {
            command,
            detail,
            output,
        } => {
            line(&format!(
                "VERIFY FAILED: `{command}` failed on your work merged onto `{integration}`."
            ));
            line(&format!("The merger: {detail}."));
            if output.is_empty() {
                line("It printed nothing.");
            } else {
                line(&format!(
                    "The last {} of its output:",
                    crate::util::text::count(output.len(), "line")
                ));
                let fence = fence_for(output);
                line(&format!("{fence}text"));
                for l in output {
                    line(l);
                }
                line(&fence);
            }
            line("WHAT TO DO:");
            line(&format!(
                "1. Run `droidforge sync` (so you test what would land on `{integration}`), then `{command}` in this worktree, and fix what fails."
            ));
            line("2. Commit, then `droidforge done`.");
        }
    }
    let mine: Vec<&BriefRequest<'_>> = requests.iter().filter(|r| r.to == droid).collect();
    if !mine.is_empty() {
        line("Also waiting for you (OPEN REQUESTS below):");
        for r in mine {
            line(&format!(
                "- #{} from {}: {}",
                r.id,
                r.from,
                crate::util::text::one_line(r.message)
            ));
        }
    }
    s
}

/// A code fence longer than any run of backticks in `lines`.
fn fence_for(lines: &[String]) -> String {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`').map(str::len))
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feedback(attempt: u32, said: Said) -> Feedback {
        Feedback {
            attempt,
            merge_id: format!("20261130-0000{attempt:02}-abcdef"),
            integration: "main".into(),
            ready: None,
            said,
        }
    }

    fn conflict() -> Said {
        Said::Conflict {
            commit: Some(CommitRef {
                id: "5d6e7f8".into(),
                subject: "Add lexer".into(),
            }),
            paths: vec![ConflictPath {
                path: "src/lib.rs".into(),
                kind: "content".into(),
                landed: Some(LandedChange {
                    commit: CommitRef {
                        id: "1a2b3c4".into(),
                        subject: "Add parser".into(),
                    },
                    droid: Some("core-droid".into()),
                }),
            }],
            reason: None,
        }
    }

    #[test]
    fn a_conflict_names_paths_the_landed_droid_its_subject_and_how_to_resolve() {
        let text = render("test-droid", &[feedback(1, conflict())], &[]);
        assert!(
            text.starts_with(
                "What the merger said (attempt 1) — merge 20261130-000001-abcdef:\nCONFLICT:"
            ),
            "{text}"
        );
        assert!(
            text.contains("Your commit 5d6e7f8 \"Add lexer\" conflicts"),
            "{text}"
        );
        assert!(
            text.contains(
                "- `src/lib.rs` (content): landed by `core-droid` in 1a2b3c4 \"Add parser\"\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("run `droidforge sync` in this worktree"),
            "{text}"
        );
        assert!(text.contains("git rebase --continue"), "{text}");
    }

    #[test]
    fn a_violation_names_owner_and_the_three_ways_out() {
        let said = Said::Violation {
            paths: vec![
                ViolationPath {
                    path: "src/infra/lib.rs".into(),
                    kind: "modified".into(),
                    commit: "1234567".into(),
                    owner: "owned by `infra-droid`".into(),
                    owner_droid: Some("infra-droid".into()),
                },
                ViolationPath {
                    path: "odd name.txt".into(),
                    kind: "added".into(),
                    commit: "1234567".into(),
                    owner: "unowned".into(),
                    owner_droid: None,
                },
            ],
        };
        let text = render("core-droid", &[feedback(2, said)], &[]);
        assert!(
            text.contains("- `src/infra/lib.rs` (modified in 1234567): owned by `infra-droid`"),
            "{text}"
        );
        assert!(
            text.contains("-- src/infra/lib.rs 'odd name.txt'`"),
            "{text}"
        );
        assert!(
            text.contains("`droidforge ask infra-droid \"<what you need>\"`"),
            "{text}"
        );
        assert!(text.contains("into a file you own"), "{text}");
    }

    #[test]
    fn a_failed_verify_shows_the_command_and_its_output_tail_in_a_safe_fence() {
        let output: Vec<String> = vec!["ok 1".into(), "```not a fence".into(), "FAIL".into()];
        let said = Said::VerifyFailed {
            command: "make test".into(),
            detail: "`make test` failed (exit code 2)".into(),
            output,
        };
        let text = render("core-droid", &[feedback(1, said)], &[]);
        assert!(text.contains("VERIFY FAILED: `make test` failed"), "{text}");
        assert!(
            text.contains("````text\nok 1\n```not a fence\nFAIL\n````\n"),
            "{text}"
        );
    }

    #[test]
    fn attempts_are_newest_first_and_requests_only_in_the_newest() {
        let requests = [BriefRequest {
            id: 7,
            to: "core-droid",
            from: "test-droid",
            message: "export it",
        }];
        let text = render(
            "core-droid",
            &[feedback(1, conflict()), feedback(2, conflict())],
            &requests,
        );
        let two = text.find(&heading(2)).unwrap();
        let one = text.find(&heading(1)).unwrap();
        assert!(two < one, "{text}");
        assert_eq!(text.matches("#7 from test-droid").count(), 1, "{text}");
        assert!(text.find("#7 from").unwrap() < one, "{text}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let text: String = (1..=100).map(|i| format!("l{i}\n")).collect();
        let tail = tail_lines(&text, VERIFY_TAIL_LINES);
        assert_eq!(tail.len(), 60);
        assert_eq!(tail[0], "l41");
        assert_eq!(tail[59], "l100");
    }
}
