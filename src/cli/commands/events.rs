//! `droidforge events`: print the event journal, optionally following new lines.

use std::io::{BufRead, Seek, SeekFrom};
use std::time::Duration;

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Context, Result};
use droidforge::state::Event;
use droidforge::util::time::utc_parts;
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &EventsArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    // Events of droids removed from the manifest are still worth reading: the name is
    // checked against the manifest only when the journal has never heard of it.
    // Inside a droid's worktree the droid is inferred, like every command; `--all` shows all.
    let droid = match (&args.droid, args.all) {
        (Some(name), _) => Some(name.clone()),
        (None, true) => None,
        (None, false) => ws.current_droid(),
    };
    let journal = ws.state.journal();
    let path = journal.path().to_owned();
    let since_ms = args
        .since
        .map(|d| droidforge::util::time::now_ms().saturating_sub(d.as_millis() as i64));
    let keep = |e: &Event| {
        droid
            .as_deref()
            .is_none_or(|d| e.droid.as_deref() == Some(d))
            && since_ms.is_none_or(|t| e.at_ms >= t)
    };
    // The journal is read line by line: memory holds what is printed (or the last N), never
    // the whole journal. Text without `--last` is printed as it is read.
    let stream = !args.json && args.last.is_none();
    let mut kept: std::collections::VecDeque<Event> = Default::default();
    let mut seen = 0usize;
    let mut offset = scan(&path, 0, |e| {
        if !keep(&e) {
            return true;
        }
        seen += 1;
        if stream {
            print_event(ctx, &e, false);
        } else {
            kept.push_back(e);
            if args.last.is_some_and(|n| kept.len() > n) {
                kept.pop_front();
            }
        }
        args.limit.is_none_or(|n| seen < n)
    })?;
    if let Some(name) = &droid
        && seen == 0
        && ws.forge.droid(name).is_none()
    {
        ws.forge.require_droid(name)?;
    }
    if args.json && !args.follow {
        ctx.ui.json(&serde_json::json!({ "events": kept }));
        return Ok(0);
    }
    for e in &kept {
        print_event(ctx, e, args.json);
    }
    if !args.follow {
        return Ok(0);
    }
    if args.limit.is_some() {
        // `--limit` stopped early: follow from the end, not from where it stopped.
        offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    // Poll for appended lines; only whole lines are consumed (a writer may be mid-line).
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < offset {
            // The journal was replaced or truncated: start over.
            offset = 0;
        }
        if len == offset {
            continue;
        }
        offset = scan(&path, offset, |e| {
            if keep(&e) {
                print_event(ctx, &e, args.json);
            }
            true
        })?;
    }
}

fn print_event(ctx: &Ctx, e: &Event, json: bool) {
    if json {
        if let Ok(line) = crate::cli::ui::json::to_line(e) {
            ctx.ui.data(&line);
        }
    } else {
        ctx.ui.data(&format_event(e));
    }
}

/// `YYYY-MM-DD HH:MM:SS kind droid message` (UTC): a journal spans days, so the date is shown.
pub fn format_event(e: &Event) -> String {
    let (date, time) = utc_parts(e.at_ms);
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let line = format!(
        "{date} {time} {kind:<12} {:<16} {}",
        e.droid.as_deref().unwrap_or("-"),
        e.message
    );
    line.trim_end().to_owned()
}

/// Read the journal from byte `offset`, one whole line at a time (a line without its `\n` yet
/// is a writer mid-line: left for the next read), calling `f` with each event that parses
/// until it returns false. Returns the offset after the last line consumed.
fn scan(path: &std::path::Path, offset: u64, mut f: impl FnMut(Event) -> bool) -> Result<u64> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read `{}`", path.display()));
        }
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    reader
        .seek(SeekFrom::Start(offset))
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut at = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(at);
        }
        at += n as u64;
        // Lines that do not parse (a torn write after a crash) are skipped.
        if let Ok(event) = serde_json::from_slice::<Event>(&line)
            && !f(event)
        {
            return Ok(at);
        }
    }
}
