//! Dynamic shell-completion values for the clap definitions in `args.rs`: droid names and
//! phase ids read from the manifest of the repository around the current directory.

use clap_complete::engine::CompletionCandidate;

/// The forge of the repository around the current directory, for shell completion (which must
/// never fail loudly: no repository or no manifest completes nothing).
fn completion_forge() -> Option<droidforge::forge::manifest::Forge> {
    let cwd = std::env::current_dir().ok()?;
    let root = droidforge::git::Repo::discover(&cwd)
        .ok()?
        .main_workdir()
        .ok()?;
    let path = root.join(droidforge::forge::manifest::MANIFEST_PATH);
    let text = std::fs::read_to_string(&path).ok()?;
    droidforge::forge::manifest::Forge::parse(&text, &path.to_string_lossy(), false).ok()
}

/// Droid names from the manifest, with their roles as help.
pub fn droid_candidates() -> Vec<CompletionCandidate> {
    completion_forge()
        .map(|f| {
            f.droids()
                .iter()
                .map(|d| CompletionCandidate::new(&d.name).help(Some(d.role.clone().into())))
                .collect()
        })
        .unwrap_or_default()
}

/// Phase ids from the manifest, with their names as help.
pub fn phase_candidates() -> Vec<CompletionCandidate> {
    completion_forge()
        .map(|f| {
            f.manifest
                .phases
                .iter()
                .map(|p| {
                    CompletionCandidate::new(p.id.to_string()).help(Some(p.name.clone().into()))
                })
                .collect()
        })
        .unwrap_or_default()
}
