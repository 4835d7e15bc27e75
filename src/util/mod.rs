//! Small utilities shared by every layer, using nothing of the crate but errors: the clock and
//! date formats ([`time`]), duration parsing, text (counted nouns, one-line messages, shell
//! quoting), the safe file writers (no-follow, atomic) and signals to process groups.

pub mod duration;
pub mod process;
pub mod safe_fs;
pub mod text;
pub mod time;
