//! `droidforge events`: print the event journal, optionally following new lines.

use std::io::{Read, Seek, SeekFrom};
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
    let keep = |e: &Event| match &droid {
        Some(d) => e.droid.as_deref() == Some(d.as_str()),
        None => true,
    };
    let (text, _) = read_from(&path, 0)?;
    let mut offset = text.rfind('\n').map(|i| i as u64 + 1).unwrap_or(0);
    let mut events: Vec<Event> = parse_lines(&text).into_iter().filter(keep).collect();
    if let Some(name) = &droid
        && events.is_empty()
        && ws.forge.droid(name).is_none()
    {
        ws.forge.require_droid(name)?;
    }
    if let Some(n) = args.last {
        let skip = events.len().saturating_sub(n);
        events.drain(..skip);
    }
    if args.json && !args.follow {
        ctx.ui.json(&serde_json::json!({ "events": events }));
        return Ok(0);
    }
    for e in &events {
        print_event(ctx, e, args.json);
    }
    if !args.follow {
        return Ok(0);
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
        let (text, _) = read_from(&path, offset)?;
        let Some(end) = text.rfind('\n') else {
            continue;
        };
        offset += (end + 1) as u64;
        for e in parse_lines(&text[..end + 1]).into_iter().filter(keep) {
            print_event(ctx, &e, args.json);
        }
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

fn parse_lines(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The journal's text from byte `offset`, and the file length read.
fn read_from(path: &std::path::Path, offset: u64) -> Result<(String, u64)> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), 0)),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read `{}`", path.display()));
        }
    };
    file.seek(SeekFrom::Start(offset))
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let len = offset + bytes.len() as u64;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), len))
}
