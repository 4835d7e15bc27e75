//! Small utilities shared by every layer: the clock and duration parsing, counted nouns for
//! messages, and the no-follow file writer.

pub mod duration;
pub mod safe_fs;
pub mod text;
pub mod time;
