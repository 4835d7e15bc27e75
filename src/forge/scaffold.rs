//! The files `init` writes: manifests (the seed's four droids, or N examples), TODO files,
//! INTERFACES.md, a first PROGRESS.md, and the CI workflow.

use crate::forge::manifest::{Droid, ForgeSection, Manifest, PathsSection, Phase};

/// The four droids of the parallel-droids workflow, with its ten phases and files.
pub fn seed_manifest(integration: &str) -> Manifest {
    let phase = |id: u32, name: &str, after: &[u32]| Phase {
        id,
        name: name.to_owned(),
        after: after.to_vec(),
    };
    let exec = |f: &str| format!("src/mcp/execution/{f}");
    Manifest {
        forge: ForgeSection {
            integration: Some(integration.to_owned()),
            agent: Some("droid".to_owned()),
            ..ForgeSection::default()
        },
        paths: PathsSection {
            shared: vec!["INTERFACES.md".to_owned()],
            protected: vec![".github/**".to_owned()],
        },
        phases: vec![
            phase(1, "Synchronization", &[]),
            phase(2, "Resource locks", &[1]),
            phase(3, "Deadlock detection", &[2]),
            phase(4, "Persistence", &[3]),
            phase(5, "Staging isolation", &[]),
            phase(6, "Event bus", &[1]),
            phase(7, "Resource matching", &[]),
            phase(8, "Tests", &[]),
            phase(9, "Metrics and health checks", &[6]),
            phase(10, "Integration", &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ],
        droids: vec![
            Droid {
                name: "core-droid".to_owned(),
                role: "Concurrency expert".to_owned(),
                phases: vec![1, 2, 3, 4],
                owns: ["manager.ts", "synchronization.ts", "resourceLocks.ts", "deadlockDetector.ts", "persistence.ts"]
                    .iter()
                    .map(|f| exec(f))
                    .collect(),
                reads: vec!["PARALLELIZATION_ROADMAP.md".to_owned(), "INTERFACES.md".to_owned()],
                todo: Some("TODO_CORE.md".to_owned()),
                after: vec![],
                tasks: vec![
                    "Work through your TODO file, phases 1-4 in order.".to_owned(),
                    "Implement Phase 1 (synchronization) now.".to_owned(),
                ],
                agent: None,
                sparse: false,
            },
            Droid {
                name: "isolation-droid".to_owned(),
                role: "File system expert".to_owned(),
                phases: vec![5],
                owns: vec![exec("staging.ts"), exec("merger.ts")],
                reads: vec!["PARALLELIZATION_ROADMAP.md".to_owned(), "INTERFACES.md".to_owned()],
                todo: Some("TODO_ISOLATION.md".to_owned()),
                after: vec![],
                tasks: vec![
                    "Use the IExecutionManager interface from INTERFACES.md; do not wait for the real one.".to_owned(),
                    "Implement Phase 5 (staging isolation) now.".to_owned(),
                ],
                agent: None,
                sparse: false,
            },
            Droid {
                name: "infra-droid".to_owned(),
                role: "Infrastructure expert".to_owned(),
                phases: vec![6, 7, 9],
                owns: ["eventBus.ts", "resourceMatcher.ts", "metrics.ts", "healthCheck.ts"]
                    .iter()
                    .map(|f| exec(f))
                    .collect(),
                reads: vec!["PARALLELIZATION_ROADMAP.md".to_owned(), "INTERFACES.md".to_owned()],
                todo: Some("TODO_INFRA.md".to_owned()),
                after: vec!["core-droid".to_owned()],
                tasks: vec!["Implement Phase 6 (EventBus) now.".to_owned()],
                agent: None,
                sparse: false,
            },
            Droid {
                name: "test-droid".to_owned(),
                role: "Testing expert".to_owned(),
                phases: vec![8],
                owns: vec![exec("__tests__/**")],
                reads: vec!["PARALLELIZATION_ROADMAP.md".to_owned(), exec("**")],
                todo: Some("TODO_TEST.md".to_owned()),
                after: vec![],
                tasks: vec![
                    "Write tests for code as other droids complete it.".to_owned(),
                    "Create the test harness and write concurrency tests now.".to_owned(),
                ],
                agent: None,
                sparse: false,
            },
        ],
    }
}

/// `n` example droids, each owning its own directory, all in phase 1.
pub fn example_manifest(n: usize, integration: &str) -> Manifest {
    Manifest {
        forge: ForgeSection {
            integration: Some(integration.to_owned()),
            ..ForgeSection::default()
        },
        paths: PathsSection {
            shared: vec!["INTERFACES.md".to_owned()],
            protected: vec![],
        },
        phases: vec![Phase {
            id: 1,
            name: "First wave".to_owned(),
            after: vec![],
        }],
        droids: (1..=n)
            .map(|i| Droid {
                name: format!("droid-{i}"),
                role: "Engineer".to_owned(),
                phases: vec![1],
                owns: vec![format!("src/droid{i}/**")],
                todo: Some(format!("TODO_DROID{i}.md")),
                tasks: vec![format!("Build the module in src/droid{i}/.")],
                ..Droid::default()
            })
            .collect(),
    }
}

/// The manifest text with a header explaining the format.
pub fn manifest_text(m: &Manifest) -> String {
    let mut out = format!(
        "# droidforge manifest: who works on what. Read by `droidforge` from the integration branch\n\
         # when merging, so commit changes before `merge`. Reference:\n\
         # {DOCS_URL}/README.md#the-manifest\n\
         #\n\
         # Ownership patterns are relative to the repository root; `*` stays in one directory,\n\
         # `**` crosses directories, a directory pattern covers its contents.\n\n",
    );
    out.push_str(&crate::forge::manifest::Forge::to_toml(m));
    out
}

pub fn todo_file(d: &Droid) -> String {
    let mut out = format!("# TODO — {}\n\n", d.name);
    out.push_str("Mark items `- [x]` when done and `- [~]` while in progress; `droidforge status` reads them.\n\n");
    if d.tasks.is_empty() {
        out.push_str("- [ ] First task\n");
    }
    for t in &d.tasks {
        out.push_str(&format!("- [ ] {t}\n"));
    }
    out
}

pub fn interfaces_md() -> String {
    "# Interfaces\n\n\
     Shared contracts between droids. Any droid may edit this file (it is a shared path), but\n\
     edits must merge cleanly: add to your own section, and take a lock\n\
     (`droidforge lock INTERFACES.md --write`) before changing someone else's.\n\n\
     ## Contracts\n\n_None yet._\n"
        .to_owned()
}

pub fn initial_progress() -> String {
    "# Progress\n\n\
     _Written only by droidforge (`droidforge merge`, `droidforge progress --write`). Droids: do not edit;\n\
     tick the boxes in your TODO file instead._\n\n\
     No merges yet. Run `droidforge status` for live progress.\n"
        .to_owned()
}

/// Where droidforge's own documentation lives; files droidforge writes into a user's repository
/// link here (by docs/ headings), never to a document of the user's or one outside droidforge.
pub const DOCS_URL: &str = "https://github.com/droidforge/droidforge/blob/main";

/// `.github/workflows/droidforge.yml`: validate droid pull requests with `droidforge check`.
pub fn github_workflow(integration: &str) -> String {
    format!(
        r#"# Validate droid branches before they land with `droidforge check`.
# Reference: {DOCS_URL}/docs/ci.md#github-actions
name: droidforge
on:
  pull_request:
    branches: [{integration}]
  merge_group:
  push:
    branches: ["droidforge/**"]
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0   # droidforge needs the history between base and head
          # Check the pull request's own commits, not GitHub's test merge commit.
          ref: ${{{{ github.event.pull_request.head.sha || github.sha }}}}
      - uses: dtolnay/rust-toolchain@stable
      - name: Install droidforge
        run: cargo install --locked --git https://github.com/droidforge/droidforge droidforge
      - name: Check ownership and conflicts
        run: droidforge check --format github --base "origin/${{{{ github.base_ref || '{integration}' }}}}"
"#
    )
}
