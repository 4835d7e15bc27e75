//! Entries in the shared `info/exclude`, so droidforge's own files never show up as changes.

use super::Repo;
use crate::error::{Context, Result};

impl Repo {
    /// Append `patterns` to `<common-dir>/info/exclude` unless already present. Returns the
    /// patterns that were added.
    pub fn ensure_excluded(&self, patterns: &[&str]) -> Result<Vec<String>> {
        let dir = self.common_dir().join("info");
        let path = dir.join("exclude");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        let existing = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(crate::error::Error::failure(format!(
                    "cannot read `{}`",
                    path.display()
                ))
                .with_source(e));
            }
        };
        let missing: Vec<String> = patterns
            .iter()
            .filter(|p| !existing.lines().any(|l| l.trim() == **p))
            .map(|p| (*p).to_owned())
            .collect();
        if missing.is_empty() {
            return Ok(missing);
        }
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# droidforge\n");
        for p in &missing {
            text.push_str(p);
            text.push('\n');
        }
        crate::util::safe_fs::write_atomic(&path, text.as_bytes())?;
        Ok(missing)
    }
}
