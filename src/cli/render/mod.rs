//! Renderings of the library's reports for people (tables, text).

pub mod check;
pub mod droid;
pub mod land;
pub mod merge;
pub mod run;
pub mod status;
pub mod sync;
