//! `droidforge events`: print the event journal, optionally following new lines.

use std::time::Duration;

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::Result;
use droidforge::state::{Event, EventFilter};
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
    let filter = EventFilter {
        droid: droid.clone(),
        since_ms: args
            .since
            .map(|d| droidforge::util::time::now_ms().saturating_sub(d.as_millis() as i64)),
        kind: None,
    };
    // Started first, so what is appended while the journal is read is printed once, by it.
    let mut follower = if args.follow {
        Some(journal.follower()?)
    } else {
        None
    };
    // Memory holds what is printed (or the last N), never the journal; text without `--last`
    // is printed as it is read.
    let stream = !args.json && args.last.is_none();
    let mut kept: Vec<Event> = Vec::new();
    let mut seen = 0usize;
    match args.last {
        Some(n) => kept = journal.last(n, &filter, follower.as_ref())?,
        None => journal.scan(&filter, follower.as_ref(), |e| {
            seen += 1;
            if stream {
                print_event(ctx, &e, false);
            } else {
                kept.push(e);
            }
            args.limit.is_none_or(|n| seen < n)
        })?,
    }
    if let Some(name) = &droid
        && seen == 0
        && kept.is_empty()
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
    let Some(follower) = follower.as_mut() else {
        return Ok(0);
    };
    // Poll for appended lines; only whole lines are read (a writer may be mid-line).
    loop {
        std::thread::sleep(Duration::from_millis(200));
        follower.poll(&filter, |e| print_event(ctx, &e, args.json))?;
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
