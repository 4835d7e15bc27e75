//! `check` for people and for GitHub: the text report, workflow-command annotations and the
//! step summary of a [`CheckReport`].

use droidforge::git::{short, short_hex};
use droidforge::ops::check::{CheckMode, CheckReport};
use droidforge::ops::merge::{DroidReport, DroidStatus};

fn subject(r: &CheckReport) -> String {
    match (r.mode, &r.droid) {
        (CheckMode::Phase, _) => format!("phase merge onto `{}` @ {}", r.base_ref, short(r.base)),
        (_, Some(d)) => format!(
            "droid `{d}` (`{}` @ {}) against `{}` @ {}",
            r.head_ref,
            short(r.head),
            r.base_ref,
            short(r.base)
        ),
        (_, None) => format!(
            "`{}` @ {} against `{}` @ {} (not a droid branch)",
            r.head_ref,
            short(r.head),
            r.base_ref,
            short(r.base)
        ),
    }
}

fn droid_lines(d: &DroidReport, out: &mut String) {
    let label = super::droid::label(d);
    let verdict = match d.status {
        DroidStatus::Merged => format!(
            "pass ({} replay cleanly)",
            droidforge::util::text::count(d.commits.len(), "commit")
        ),
        DroidStatus::UpToDate => "pass (already contained in the base)".to_owned(),
        _ => super::droid::outcome(d, false),
    };
    out.push_str(&format!("  {} {label}: {verdict}\n", d.status.symbol()));
    for line in super::droid::details(d) {
        out.push_str(&format!("      {line}\n"));
    }
}

pub fn render_text(r: &CheckReport) -> String {
    let mut out = format!("droidforge check: {}\n", subject(r));
    for d in &r.droids {
        droid_lines(d, &mut out);
    }
    for n in &r.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out.push_str(&format!(
        "result: {} (exit code {})\n",
        r.result.as_str(),
        r.exit_code
    ));
    out
}

/// GitHub workflow-command escaping for messages and properties.
fn esc_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn esc_prop(s: &str) -> String {
    esc_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render_github(r: &CheckReport) -> String {
    let mut out = String::new();
    for d in &r.droids {
        let who = match &d.droid {
            Some(name) => format!("droid `{name}`"),
            None => "this branch".to_owned(),
        };
        for v in &d.violations {
            out.push_str(&format!(
                "::error file={},title={}::{}\n",
                esc_prop(&v.path),
                esc_prop("droidforge: ownership violation"),
                esc_data(&format!(
                    "{who} may not change `{}` ({} in {}); it is {}. Move the change to the owning droid, or change the manifest on the integration branch.",
                    v.path,
                    v.kind,
                    short_hex(&v.commit),
                    v.owner
                ))
            ));
        }
        for c in &d.conflicts {
            out.push_str(&format!(
                "::error file={},title={}::{}\n",
                esc_prop(&c.path),
                esc_prop("droidforge: merge conflict"),
                esc_data(&format!(
                    "{} conflict replaying {who} (commit {}) onto `{}`. Rebase the branch onto `{}` and resolve it.",
                    c.kind,
                    short_hex(&c.commit),
                    r.base_ref,
                    r.base_ref
                ))
            ));
        }
        if d.conflicts.is_empty() && d.status == DroidStatus::Conflict {
            out.push_str(&format!(
                "::error title={}::{}\n",
                esc_prop("droidforge: cannot replay"),
                esc_data(
                    d.reason
                        .as_deref()
                        .unwrap_or("the branch cannot be replayed")
                )
            ));
        }
        if d.status == DroidStatus::VerifyFailed {
            out.push_str(&format!(
                "::error title={}::{}\n",
                esc_prop("droidforge: verification failed"),
                esc_data(
                    d.reason
                        .as_deref()
                        .unwrap_or("the verification command failed")
                )
            ));
        }
        if d.status == DroidStatus::Skipped {
            out.push_str(&format!(
                "::warning title={}::{}\n",
                esc_prop("droidforge: skipped"),
                esc_data(&format!(
                    "{}: {}",
                    super::droid::label(d),
                    d.reason.as_deref().unwrap_or("skipped")
                ))
            ));
        }
    }
    for n in &r.notes {
        out.push_str(&format!("::notice title=droidforge::{}\n", esc_data(n)));
    }
    out.push_str(&render_text(r));
    out
}

pub fn render_summary(r: &CheckReport) -> String {
    let icon = if r.exit_code == 0 { "✅" } else { "❌" };
    let mut out = format!(
        "## {icon} droidforge check: {}\n\n{}\n\n",
        r.result.as_str(),
        subject(r)
    );
    out.push_str("| droid | result | commits | details |\n|---|---|---|---|\n");
    for d in &r.droids {
        let mut details: Vec<String> = Vec::new();
        for v in &d.violations {
            details.push(format!("`{}` {} ({})", v.path, v.kind, v.owner));
        }
        for c in &d.conflicts {
            details.push(format!("`{}` {} conflict", c.path, c.kind));
        }
        if details.is_empty()
            && let Some(r) = &d.reason
        {
            details.push(r.replace('|', "\\|"));
        }
        out.push_str(&format!(
            "| {} | {} {} | {} | {} |\n",
            super::droid::label(d),
            d.status.symbol(),
            d.status.as_str(),
            d.commits.len(),
            details.join("<br>")
        ));
    }
    for n in &r.notes {
        out.push_str(&format!("\n> {n}\n"));
    }
    out.push('\n');
    out
}
