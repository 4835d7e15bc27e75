//! Requests between droids (`droidforge ask`): when a droid needs a change in files it does
//! not own, it asks the owner instead of editing them. A request lives in the state store until
//! someone closes it, is journaled (`asked` / `answered`), and shows up in the owner's brief
//! (section OPEN REQUESTS, rewritten in its worktree right away) and in `status`.

use crate::error::{Error, Result};
use crate::state::{Event, EventKind, Request};
use crate::util::text::one_line;
use crate::util::time::now;
use crate::workspace::Workspace;

/// The sender name used when nobody's droid is asking (the main worktree).
pub const HUMAN: &str = "human";

/// The counter in the store that hands out request ids.
const ID_COUNTER: &str = "request-id";

/// Longest message accepted: a request is a note, not a document (it is copied into a brief).
const MAX_MESSAGE: usize = 4000;

/// Who is asking: `--from` if given (a droid of the manifest or `human`), else the droid whose
/// worktree this is, else `human`.
pub fn sender(ws: &Workspace, from: Option<&str>) -> Result<String> {
    match from {
        Some(HUMAN) => Ok(HUMAN.to_owned()),
        Some(name) => Ok(ws.forge.require_droid(name)?.name.clone()),
        None => Ok(ws.current_droid().unwrap_or_else(|| HUMAN.to_owned())),
    }
}

/// Record a request from `from` to the droid `to`; returns it with its new id.
pub fn ask(ws: &Workspace, to: &str, from: &str, message: &str) -> Result<Request> {
    let to = ws.forge.require_droid(to)?.name.clone();
    if to == from {
        return Err(Error::usage(format!("`{to}` cannot ask itself"))
            .hint("name the droid that owns the files you need changed"));
    }
    let message = message.trim();
    if message.is_empty() {
        return Err(Error::usage("the request has no message")
            .hint("say what you need: droidforge ask <droid> \"<message>\""));
    }
    if message.chars().count() > MAX_MESSAGE {
        return Err(Error::usage(format!(
            "the request is longer than {MAX_MESSAGE} characters"
        ))
        .hint("write the details into INTERFACES.md and ask with a short note pointing there"));
    }
    ws.state.ensure()?;
    let at = now();
    let request = ws.state.store().update(|state| {
        let counter = state.counters.entry(ID_COUNTER.to_owned()).or_default();
        // Ids are never reused, even if the counter was lost while requests stayed.
        let highest = state.requests.iter().map(|r| r.id).max().unwrap_or(0);
        *counter = (*counter).max(highest) + 1;
        let request = Request {
            id: *counter,
            to: to.clone(),
            from: from.to_owned(),
            message: message.to_owned(),
            at,
        };
        state.requests.push(request.clone());
        request
    })?;
    ws.event_with(
        Event::new(
            EventKind::Asked,
            Some(&to),
            format!(
                "#{} from {}: {}",
                request.id,
                request.from,
                one_line(message)
            ),
        )
        .with_data(serde_json::json!({ "id": request.id, "from": request.from })),
    );
    Ok(request)
}

/// Close the open request `id`; `by` is who closed it (a droid or `human`).
pub fn close(ws: &Workspace, id: u64, by: &str) -> Result<Request> {
    let closed = ws.state.store().update(|state| {
        let index = state.requests.iter().position(|r| r.id == id)?;
        Some(state.requests.remove(index))
    })?;
    let Some(request) = closed else {
        return Err(Error::usage(format!("there is no open request #{id}"))
            .hint("`droidforge ask --list` shows the open requests"));
    };
    ws.event_with(
        Event::new(
            EventKind::Answered,
            Some(&request.to),
            format!("#{id} closed by {by}"),
        )
        .with_data(serde_json::json!({ "id": id, "from": request.from, "by": by })),
    );
    Ok(request)
}

/// Open requests, oldest first; only those to `to` when given.
pub fn open(ws: &Workspace, to: Option<&str>) -> Result<Vec<Request>> {
    let state = ws.state.store().read()?;
    Ok(state
        .requests
        .into_iter()
        .filter(|r| to.is_none_or(|t| r.to == t))
        .collect())
}
