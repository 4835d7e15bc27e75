//! Small utilities shared by every layer, using nothing of the crate but errors: the clock and
//! date formats ([`time`]), duration parsing, text (counted nouns, one-line messages, shell
//! quoting) and the safe file writers (no-follow, atomic).

pub mod duration;
pub mod safe_fs;
pub mod text;
pub mod time;
