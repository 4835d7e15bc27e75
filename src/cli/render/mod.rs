//! Renderings of the library's reports for people (tables, text).

pub mod merge;
pub mod status;
