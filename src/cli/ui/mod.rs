//! All terminal output goes through [`Ui`]: data to stdout, status/warnings/hints to stderr,
//! progress bars only on a terminal.

use std::io::{IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub mod json;
pub mod live;

/// Output settings shared by every command.
#[derive(Debug, Clone)]
pub struct Ui {
    pub quiet: bool,
    stderr_is_terminal: bool,
}

impl Ui {
    pub fn new(quiet: bool) -> Ui {
        Ui {
            quiet,
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Is stderr an interactive terminal (progress bars allowed)?
    pub fn is_terminal(&self) -> bool {
        self.stderr_is_terminal
    }

    /// Command output a script may read. A closed pipe (`| head`) is not an error.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// Like [`Ui::data`], but reports a closed stdout so that loops (`status --watch`) can stop.
    pub fn try_data(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Print a report as a versioned JSON document on stdout (the convention of docs/json.md:
    /// `version`, RFC 3339 timestamps, explicit nulls; see [`json::document`]).
    pub fn json<T: serde::Serialize + ?Sized>(&self, value: &T) {
        match json::to_string_pretty(value) {
            Ok(s) => self.data(&s),
            Err(e) => self.warn(&format!("cannot serialize output: {e}")),
        }
    }

    /// A status line ("Spawned core-droid …"), suppressed by `--quiet`.
    pub fn status(&self, verb: &str, text: &str) {
        if self.quiet {
            return;
        }
        self.err_line(&format!("{verb:>12} {text}"));
    }

    /// A message that must reach the user even with `--quiet` (a refusal an agent has to read).
    pub fn message(&self, text: &str) {
        for line in text.lines() {
            self.err_line(line);
        }
    }

    pub fn warn(&self, text: &str) {
        self.err_line(&format!("warning: {text}"));
    }

    pub fn hint(&self, text: &str) {
        if !self.quiet {
            self.err_line(&format!("hint: {text}"));
        }
    }

    /// Print an error with its causes and hints.
    pub fn error(&self, err: &droidforge::error::Error) {
        self.err_line(&format!("error: {}", err.message));
        for cause in err.causes() {
            self.err_line(&format!("  caused by: {cause}"));
        }
        for hint in crate::cli::error::hints(err) {
            self.err_line(&format!("hint: {hint}"));
        }
    }

    fn err_line(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }

    /// A progress bar for `len` items, hidden when not on a terminal or quiet.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if self.quiet || !self.stderr_is_terminal {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:>12} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        bar
    }

    /// A multi-progress container (hidden when not on a terminal or quiet).
    pub fn multi(&self) -> MultiProgress {
        if self.quiet || !self.stderr_is_terminal {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        } else {
            MultiProgress::new()
        }
    }
}

/// The terminal's width in columns when stdout is a terminal; `None` for a pipe or a file
/// (whose reader gets every column in full). `$COLUMNS` overrides the terminal's own answer.
pub fn stdout_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    if let Some(cols) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(cols);
    }
    Some(
        terminal_size::terminal_size_of(std::io::stdout())
            .map(|(w, _)| w.0 as usize)
            .filter(|w| *w > 0)
            .unwrap_or(80),
    )
}

/// Render rows as a left-aligned text table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut parts = Vec::new();
        for (i, c) in cells.enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            parts.push(format!("{c}{}", " ".repeat(pad)));
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}
