//! Benchmark: classify 100,000 paths against 1,000 ownership globs (the target: well under
//! 100 ms), and print the time `git check-ignore --stdin` needs for the same paths and
//! patterns in the same run. Run through `scripts/bench-ownership.sh`.

use std::io::Write;
use std::time::Instant;

use droidforge::forge::ownership::Rules;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n_paths: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let n_globs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let dir = tempfile::tempdir().expect("temp dir");

    // 1,000 globs spread over 100 droids: directory globs, extension globs, exact files.
    let mut owns: Vec<Vec<String>> = vec![Vec::new(); 100];
    for i in 0..n_globs {
        let g = match i % 4 {
            0 => format!("src/m{}/**", i),
            1 => format!("src/m{}/*.rs", i),
            2 => format!("tests/t{}/**/*.txt", i),
            _ => format!("docs/d{}/page{}.md", i % 97, i),
        };
        owns[i % 100].push(g);
    }
    let names: Vec<String> = (0..100).map(|i| format!("droid-{i}")).collect();
    let paths: Vec<String> = (0..n_paths)
        .map(|i| match i % 5 {
            0 => format!("src/m{}/file{}.rs", i % n_globs, i),
            1 => format!("src/m{}/deep/er/file{}.rs", i % n_globs, i),
            2 => format!("tests/t{}/a/b/c{}.txt", i % n_globs, i),
            3 => format!("docs/d{}/page{}.md", i % 97, i % n_globs),
            _ => format!("vendor/lib{}/x{}.c", i % 300, i),
        })
        .collect();

    let t = Instant::now();
    let rules = Rules::new(
        ["PROGRESS.md", ".droidforge/**"],
        ["INTERFACES.md"],
        names
            .iter()
            .zip(&owns)
            .map(|(n, o)| (n.as_str(), o.as_slice())),
    )
    .expect("globs compile");
    let build = t.elapsed();

    let t = Instant::now();
    let mut scratch = Vec::new();
    let mut owned = 0usize;
    for p in &paths {
        if !rules.classify_into(p, &mut scratch).owners.is_empty() {
            owned += 1;
        }
    }
    let classify = t.elapsed();

    // git: the same patterns as a gitignore file, the same paths through check-ignore.
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let ok = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&repo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let mut git_ms = None;
    if ok {
        let mut ignore = String::new();
        for o in &owns {
            for g in o {
                ignore.push('/');
                ignore.push_str(g);
                ignore.push('\n');
            }
        }
        std::fs::write(repo.join(".gitignore"), ignore).unwrap();
        let input = paths.join("\n") + "\n";
        let t = Instant::now();
        let mut child = std::process::Command::new("git")
            .args(["check-ignore", "--stdin", "--no-index"])
            .current_dir(&repo)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run git");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait().unwrap();
        git_ms = Some(t.elapsed().as_secs_f64() * 1000.0);
    }

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!("paths: {n_paths}, globs: {n_globs}, owned paths: {owned}");
    println!(
        "droidforge: compile globs {:.1} ms, classify {:.1} ms",
        ms(build),
        ms(classify)
    );
    match git_ms {
        Some(g) => println!(
            "git check-ignore --stdin (same paths, same patterns): {:.1} ms; ratio droidforge/git = {:.3}",
            g,
            ms(classify) / g
        ),
        None => println!("git not available: no comparison"),
    }
}
