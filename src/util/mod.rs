//! Small utilities shared by every layer, using nothing of the crate but errors: the clock and
//! date formats ([`time`]), duration parsing, text (counted nouns, one-line messages, shell
//! quoting), the safe file writers (no-follow, atomic), signals to process groups and ordered
//! parallel jobs ([`par`]).

pub mod duration;
pub mod par;
pub mod process;
pub mod safe_fs;
pub mod text;
pub mod time;
