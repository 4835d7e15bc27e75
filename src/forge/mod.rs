//! The forge model, pure: the manifest, ownership rules, TODO/PROGRESS.md files, briefs and the
//! files `init` scaffolds. Nothing here touches git.

pub mod brief;
pub mod feedback;
pub mod file_ownership;
pub mod manifest;
pub mod ownership;
pub mod progress;
pub mod scaffold;
pub mod sparse;
