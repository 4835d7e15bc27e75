//! Reading the event journal across its segments in constant memory: forward from the oldest
//! segment ([`Journal::scan`]), backward from the newest ([`Journal::last`]), and following
//! appends through rotations ([`Follower`]).
//!
//! Segments are state files anyone on the machine can tamper with: one that is not a regular
//! file (a link, a FIFO, a directory) is an error naming it; a line that does not parse as an
//! event (a torn write after a crash, garbage) is skipped, and so is a line longer than
//! [`MAX_LINE`] (never held in memory whole).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::events::{Event, EventKind, Journal, JournalError, io_err, is_current};
use crate::error::Result;

/// The longest line read as an event; longer ones are skipped without being held in memory.
pub const MAX_LINE: usize = 1 << 20;

/// Events appended out of order by at most this much (clocks read before the lock) still
/// count for `--since`: a rotated segment is skipped whole only when its last event is older
/// than the cut by more than this.
const SINCE_SLACK_MS: i64 = 60_000;

const CHUNK: usize = 1 << 16;

/// Which events a reader wants.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub droid: Option<String>,
    /// Epoch milliseconds: only events at or after it.
    pub since_ms: Option<i64>,
    /// Only events of this kind.
    pub kind: Option<EventKind>,
}

impl EventFilter {
    pub fn keeps(&self, e: &Event) -> bool {
        self.droid
            .as_deref()
            .is_none_or(|d| e.droid.as_deref() == Some(d))
            && self.since_ms.is_none_or(|t| e.at_ms >= t)
            && self.kind.is_none_or(|k| e.kind == k)
    }

    /// Parse a line into an event this filter keeps. Lines droidforge wrote start with
    /// `{"at_ms":<digits>,`: events before `since_ms` are dropped without a full parse.
    fn parse(&self, line: &[u8], needle: Option<&[u8]>) -> Option<Event> {
        if let (Some(since), Some(at)) = (self.since_ms, leading_at_ms(line))
            && at < since
        {
            return None;
        }
        // A line without the kind's name cannot be an event of that kind. Lines droidforge
        // wrote have it right after the time; others are searched whole.
        if let Some(needle) = needle {
            let matches = match leading_kind(line) {
                Some(kind) => kind == needle,
                None => contains(line, needle),
            };
            if !matches {
                return None;
            }
        }
        let event: Event = serde_json::from_slice(line).ok()?;
        self.keeps(&event).then_some(event)
    }
}

impl EventFilter {
    /// The kind as it is written in a line (`"guard-refused"`, quotes included).
    fn needle(&self) -> Option<Vec<u8>> {
        self.kind.and_then(|k| serde_json::to_vec(&k).ok())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `{"at_ms":<digits>,` at the start of a line: the digits and what follows the comma.
fn leading_at_ms_and_rest(line: &[u8]) -> Option<(i64, &[u8])> {
    let rest = line.strip_prefix(b"{\"at_ms\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    if end == 0 || end > 18 || rest[end] != b',' {
        return None;
    }
    let at = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    Some((at, &rest[end + 1..]))
}

fn leading_at_ms(line: &[u8]) -> Option<i64> {
    leading_at_ms_and_rest(line).map(|(at, _)| at)
}

/// The kind of a line that starts `{"at_ms":<digits>,"kind":"<name>",` (as droidforge writes
/// them): `"<name>"` with its quotes.
fn leading_kind(line: &[u8]) -> Option<&[u8]> {
    let (_, rest) = leading_at_ms_and_rest(line)?;
    let rest = rest.strip_prefix(b"\"kind\":\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    (rest[end] == b'"' && rest.get(end + 1) == Some(&b','))
        .then(|| &line[line.len() - rest.len() - 1..][..end + 2])
}

/// Identity of an open file: a segment keeps it across its rotation (a rename).
fn file_id(file: &File) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| (m.dev(), m.ino()))
}

/// Open a segment for reading without following a link or blocking on a FIFO; `None` when it
/// is gone (deleted by the retention policy between listing and opening).
fn open_segment(path: &Path) -> Result<Option<File>, JournalError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(JournalError::NotAFile {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io_err("read", path)(e)),
    };
    if !file.metadata().map_err(io_err("read", path))?.is_file() {
        return Err(JournalError::NotAFile {
            path: path.to_owned(),
        });
    }
    Ok(Some(file))
}

/// Call `f` with each complete line (without its `\n`) of `file` from byte `from` up to byte
/// `to` (or its end), until `f` returns false. A last line without its `\n` is a writer
/// mid-line: left alone. Returns the offset after the last line consumed.
fn each_line(
    file: &File,
    from: u64,
    to: Option<u64>,
    mut f: impl FnMut(&[u8]) -> bool,
) -> std::io::Result<u64> {
    let mut reader = file;
    reader.seek(SeekFrom::Start(from))?;
    let mut reader = reader.take(to.map_or(u64::MAX, |t| t.saturating_sub(from)));
    let mut buf = vec![0u8; CHUNK];
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    let (mut at, mut consumed) = (from, from);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(consumed),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut rest = &buf[..n];
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            at += nl as u64 + 1;
            consumed = at;
            let keep_going = if too_long {
                true
            } else if line.is_empty() {
                f(&rest[..nl])
            } else {
                line.extend_from_slice(&rest[..nl]);
                f(&line)
            };
            line.clear();
            too_long = false;
            rest = &rest[nl + 1..];
            if !keep_going {
                return Ok(consumed);
            }
        }
        at += rest.len() as u64;
        if !too_long && line.len() + rest.len() <= MAX_LINE {
            line.extend_from_slice(rest);
        } else {
            line.clear();
            too_long = true;
        }
    }
}

/// Call `f` with the complete lines of `file` below byte `end`, last line first, until it
/// returns false. Lines longer than [`MAX_LINE`] are skipped.
fn each_line_backward(
    file: &File,
    end: u64,
    mut f: impl FnMut(&[u8]) -> bool,
) -> std::io::Result<()> {
    let mut reader = file;
    let mut pos = end;
    // Bytes after the last `\n` seen so far (read backward), in file order.
    let mut tail: Vec<u8> = Vec::new();
    let mut too_long = false;
    let mut first = true;
    let mut buf = vec![0u8; CHUNK];
    while pos > 0 {
        let n = CHUNK.min(pos as usize);
        pos -= n as u64;
        reader.seek(SeekFrom::Start(pos))?;
        reader.read_exact(&mut buf[..n])?;
        let mut chunk = &buf[..n];
        while let Some(nl) = chunk.iter().rposition(|&b| b == b'\n') {
            let piece = &chunk[nl + 1..];
            if first {
                // What follows the file's last `\n` is a writer mid-line.
                first = false;
            } else if !too_long && tail.len() + piece.len() <= MAX_LINE {
                let line = if tail.is_empty() {
                    piece.to_vec()
                } else {
                    [piece, &tail[..]].concat()
                };
                if !f(&line) {
                    return Ok(());
                }
            }
            tail.clear();
            too_long = false;
            chunk = &chunk[..nl];
        }
        if !too_long && tail.len() + chunk.len() <= MAX_LINE {
            tail.splice(0..0, chunk.iter().copied());
        } else {
            tail.clear();
            too_long = true;
        }
    }
    if !first && !too_long && !tail.is_empty() {
        f(&tail);
    }
    Ok(())
}

/// A segment to read and where to stop in it.
struct Part {
    file: File,
    path: std::path::PathBuf,
    /// Its number when rotated; `None` for the current segment.
    seq: Option<u64>,
    end: Option<u64>,
}

impl Journal {
    /// The journal's files at one moment, oldest first, each to its end, or, when `until` is
    /// a follower, only up to where it starts (what comes after is the follower's).
    fn parts(&self, until: Option<&Follower>) -> Result<Vec<Part>> {
        let current = open_segment(self.path())?;
        let current_id = current.as_ref().and_then(file_id);
        let mut parts = Vec::new();
        for (seq, path) in self.rotated()? {
            let Some(file) = open_segment(&path)? else {
                continue;
            };
            // Rotated after `current` was opened: it is read once, as the current segment.
            if file_id(&file).is_some() && file_id(&file) == current_id {
                continue;
            }
            parts.push(Part {
                file,
                path,
                seq: Some(seq),
                end: None,
            });
        }
        if let Some(file) = current {
            parts.push(Part {
                file,
                path: self.path().to_owned(),
                seq: None,
                end: None,
            });
        }
        if let Some(follower) = until {
            match follower.file.as_ref().and_then(file_id) {
                Some(id) => {
                    if let Some(i) = parts.iter().position(|p| file_id(&p.file) == Some(id)) {
                        parts.truncate(i + 1);
                        parts[i].end = Some(follower.offset);
                    }
                }
                // No current segment when the follower started: what was rotated by then is
                // ours, everything after is the follower's.
                None => parts.retain(|p| p.seq.is_some_and(|s| s <= follower.after)),
            }
        }
        Ok(parts)
    }

    /// Every event `filter` keeps, oldest first, until `f` returns false; stops where
    /// `until` (a follower started before) takes over.
    pub fn scan(
        &self,
        filter: &EventFilter,
        until: Option<&Follower>,
        mut f: impl FnMut(Event) -> bool,
    ) -> Result<()> {
        let parts = self.parts(until)?;
        let needle = filter.needle();
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            if i < last
                && let Some(since) = filter.since_ms
                && self
                    .newest_at_ms(part)?
                    .is_some_and(|t| t + SINCE_SLACK_MS < since)
            {
                continue;
            }
            let mut go_on = true;
            each_line(&part.file, 0, part.end, |line| {
                if let Some(e) = filter.parse(line, needle.as_deref()) {
                    go_on = f(e);
                }
                go_on
            })
            .map_err(io_err("read", &part.path))?;
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// The last event of a segment that carries a time.
    fn newest_at_ms(&self, part: &Part) -> Result<Option<i64>> {
        let end = part
            .file
            .metadata()
            .map_err(io_err("read", &part.path))?
            .len();
        let mut at = None;
        each_line_backward(&part.file, end, |line| {
            at = serde_json::from_slice::<Event>(line).ok().map(|e| e.at_ms);
            at.is_none()
        })
        .map_err(io_err("read", &part.path))?;
        Ok(at)
    }

    /// The last `n` events `filter` keeps, oldest first, read from the end of the newest
    /// segment backward (the cost is in what is skipped to find them, not in the journal).
    pub fn last(
        &self,
        n: usize,
        filter: &EventFilter,
        until: Option<&Follower>,
    ) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        if n == 0 {
            return Ok(out);
        }
        let needle = filter.needle();
        for part in self.parts(until)?.iter().rev() {
            let end = match part.end {
                Some(end) => end,
                None => part
                    .file
                    .metadata()
                    .map_err(io_err("read", &part.path))?
                    .len(),
            };
            each_line_backward(&part.file, end, |line| {
                if let Some(e) = filter.parse(line, needle.as_deref()) {
                    out.push(e);
                }
                out.len() < n
            })
            .map_err(io_err("read", &part.path))?;
            if out.len() >= n {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// A follower positioned at the current end of the journal.
    pub fn follower(&self) -> Result<Follower> {
        // Listed before the current segment is opened: a rotation in between leaves the
        // follower on a newer file, never on one it counts as already read.
        let after = self.rotated()?.last().map_or(0, |(seq, _)| *seq);
        let file = open_segment(self.path())?;
        let offset = match &file {
            Some(f) => f.metadata().map_err(io_err("read", self.path()))?.len(),
            None => 0,
        };
        Ok(Follower {
            journal: self.clone(),
            file,
            offset,
            after,
        })
    }
}

/// Reads what is appended to the journal, across rotations: a rotated segment is read to its
/// end, then every segment rotated after it, then the new current one, so no event is missed
/// or seen twice (unless the retention policy deleted a segment before it was read).
#[derive(Debug)]
pub struct Follower {
    journal: Journal,
    /// The segment being read (the current one when last looked), and how far.
    file: Option<File>,
    offset: u64,
    /// Rotated segments up to this number are read (or came before the follower started).
    after: u64,
}

impl Follower {
    /// Call `f` with each complete event appended since the last poll that `filter` keeps.
    pub fn poll(&mut self, filter: &EventFilter, mut f: impl FnMut(Event)) -> Result<()> {
        let needle = filter.needle();
        let path = self.journal.path().to_owned();
        let mut read = |file: &File, from: u64| {
            each_line(file, from, None, |line| {
                if let Some(e) = filter.parse(line, needle.as_deref()) {
                    f(e);
                }
                true
            })
            .map_err(io_err("read", &path))
        };
        loop {
            if let Some(file) = &self.file {
                let len = file.metadata().map_err(io_err("read", &path))?.len();
                if len < self.offset {
                    // Truncated in place (not by droidforge): start over.
                    self.offset = 0;
                }
                self.offset = read(file, self.offset)?;
                if is_current(file, &path) {
                    return Ok(());
                }
                // Rotated away: its last lines may have landed after the read above, and
                // nothing is written to it any more.
                read(file, self.offset)?;
                let id = file_id(file);
                if let Some((seq, _)) =
                    self.journal.rotated()?.into_iter().find(|(_, p)| {
                        open_segment(p).ok().flatten().as_ref().and_then(file_id) == id
                    })
                {
                    self.after = self.after.max(seq);
                }
                self.file = None;
            }
            // Catch up on the segments rotated since, then take the current one.
            let current = open_segment(&path)?;
            let current_id = current.as_ref().and_then(file_id);
            for (seq, p) in self.journal.rotated()? {
                if seq <= self.after {
                    continue;
                }
                let Some(file) = open_segment(&p)? else {
                    continue;
                };
                if current_id.is_some() && file_id(&file) == current_id {
                    // The current segment was rotated meanwhile: read as the one followed.
                    break;
                }
                read(&file, 0)?;
                self.after = seq;
            }
            self.offset = 0;
            self.file = current;
            if self.file.is_none() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kind prefilter agrees with a full parse on lines droidforge writes and on lines
    /// whose fields come in another order (written by hand or by another tool).
    #[test]
    fn kind_prefilter_agrees_with_the_full_parse() {
        let filter = EventFilter {
            kind: Some(EventKind::GuardRefused),
            ..Default::default()
        };
        let needle = filter.needle();
        let ours = Event::new(EventKind::GuardRefused, Some("d"), "m");
        let line = serde_json::to_vec(&ours).unwrap();
        assert_eq!(leading_kind(&line), Some(&b"\"guard-refused\""[..]));
        assert!(filter.parse(&line, needle.as_deref()).is_some());
        let other =
            serde_json::to_vec(&Event::new(EventKind::Output, Some("d"), "guard-refused")).unwrap();
        assert!(filter.parse(&other, needle.as_deref()).is_none());
        let reordered = br#"{"kind":"guard-refused","at_ms":5,"droid":"d","pid":1}"#;
        assert_eq!(leading_kind(reordered), None);
        assert!(filter.parse(reordered, needle.as_deref()).is_some());
        let since = EventFilter {
            since_ms: Some(10),
            ..Default::default()
        };
        assert!(
            since
                .parse(br#"{"at_ms":9,"kind":"output","pid":1}"#, None)
                .is_none()
        );
        assert!(
            since
                .parse(br#"{"at_ms":10,"kind":"output","pid":1}"#, None)
                .is_some()
        );
    }
}
