//! Unit tests of ownership rules and glob intersection (kept beside the module so it stays readable).

use super::*;

fn rules() -> Rules {
    let core = vec!["src/core/**".to_owned(), "src/lib.rs".to_owned()];
    let infra = vec!["src/infra/*.rs".to_owned(), "docs".to_owned()];
    Rules::new(
        [".droidforge/**", "PROGRESS.md"],
        ["INTERFACES.md"],
        [("core", core.as_slice()), ("infra", infra.as_slice())],
    )
    .unwrap()
}

#[test]
fn rules_compiled_for_some_paths_classify_those_paths_like_all_rules() {
    let full = rules();
    let paths: Vec<String> = [
        "src/core/a.rs",
        "src/infra/x.rs",
        "docs/y/z.md",
        "INTERFACES.md",
        ".droidforge/forge.toml",
        "src",
        "other",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    let core = vec!["src/core/**".to_owned(), "src/lib.rs".to_owned()];
    let infra = vec!["src/infra/*.rs".to_owned(), "docs".to_owned()];
    for p in &paths {
        let some = Rules::new_for_paths(
            [".droidforge/**", "PROGRESS.md"],
            ["INTERFACES.md"],
            [("core", core.as_slice()), ("infra", infra.as_slice())],
            std::slice::from_ref(p),
        )
        .unwrap();
        assert_eq!(some.classify(p), full.classify(p), "{p}");
    }
}

// The guard compiles only the patterns whose literal prefix fits the asked paths; a wrong
// filter would allow an edit that the full rules refuse. Random manifests and paths over a
// tiny alphabet (so that prefixes collide often), every kind of glob syntax, and the
// spellings that `compile_pattern` normalizes (`./`, trailing `/`, `//`, spaces).
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    #[test]
    fn candidate_only_rules_classify_like_all_rules(
        protected in proptest::collection::vec(pattern_strategy(), 0..3),
        shared in proptest::collection::vec(pattern_strategy(), 0..3),
        owns in proptest::collection::vec(proptest::collection::vec(pattern_strategy(), 0..5), 1..5),
        paths in proptest::collection::vec(path_strategy(), 1..6),
    ) {
        let names: Vec<String> = (0..owns.len()).map(|i| format!("d{i}")).collect();
        let droids = || names.iter().zip(&owns).map(|(n, o)| (n.as_str(), o.as_slice()));
        let prot = || protected.iter().map(String::as_str);
        let shar = || shared.iter().map(String::as_str);
        // Generated patterns may be invalid globs; the filter is only for valid manifests.
        let Ok(full) = Rules::new(prot(), shar(), droids()) else { return Ok(()); };
        // All paths at once (a symlink and its target) and each alone.
        let together = Rules::new_for_paths(prot(), shar(), droids(), &paths).unwrap();
        for p in &paths {
            let alone =
                Rules::new_for_paths(prot(), shar(), droids(), std::slice::from_ref(p)).unwrap();
            proptest::prop_assert_eq!(alone.classify(p), full.classify(p), "{}", p);
            proptest::prop_assert_eq!(together.classify(p), full.classify(p), "{}", p);
        }
    }
}

fn pattern_strategy() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let comp = prop::sample::select(vec![
        "a", "b", "ab", "*", "**", "?", "a*", "*.rs", "[ab]", "{a,b}", "x.rs", ".", "", "a\\*",
    ]);
    (
        prop::sample::select(vec!["", "./", " "]),
        prop::collection::vec(comp, 1..4),
        prop::sample::select(vec!["", "/", "//"]),
    )
        .prop_map(|(lead, comps, tail)| format!("{lead}{}{tail}", comps.join("/")))
}

fn path_strategy() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "ab", "x.rs", "a*", "c", "{a,b}", "."]),
        1..5,
    )
    .prop_map(|comps| comps.join("/"))
}

#[test]
fn prefix_index_agrees_with_matching_every_glob() {
    let patterns = [
        "src/**",
        "src/a/*.rs",
        "src/a/b",
        "**/x.rs",
        "*.md",
        "docs",
        "src/{a,b}/c.rs",
        "src/a/[bc]/**",
        "tests/**/*.txt",
        "a?c/d",
        "src/a/b/c.rs",
    ];
    let owns: Vec<Vec<String>> = patterns.iter().map(|p| vec![(*p).to_owned()]).collect();
    let names: Vec<String> = (0..patterns.len()).map(|i| format!("d{i}")).collect();
    let rules = Rules::new(
        [],
        [],
        names
            .iter()
            .zip(&owns)
            .map(|(n, o)| (n.as_str(), o.as_slice())),
    )
    .unwrap();
    let paths = [
        "src/a/b",
        "src/a/b/c.rs",
        "src/a/x.rs",
        "src/b/c.rs",
        "x.rs",
        "deep/er/x.rs",
        "README.md",
        "docs/a/README.md",
        "docs",
        "tests/t/u/v.txt",
        "abc/d",
        "src/a/c/z",
        "src",
        "srcx/a",
    ];
    for path in paths {
        let expected: Vec<usize> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                compile_pattern(p)
                    .unwrap()
                    .iter()
                    .any(|g| g.compile_matcher().is_match(path))
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(rules.classify(path).owners, expected, "{path}");
    }
}

#[test]
fn star_does_not_cross_slash_but_globstar_does() {
    let r = rules();
    assert_eq!(r.classify("src/infra/a.rs").owners, vec![1]);
    assert!(r.classify("src/infra/deep/a.rs").owners.is_empty());
    assert_eq!(r.classify("src/core/a/b/c.rs").owners, vec![0]);
}

#[test]
fn directory_pattern_covers_contents() {
    let r = rules();
    assert_eq!(r.classify("docs/guide/intro.md").owners, vec![1]);
    assert!(r.classify("docsx/a").owners.is_empty());
}

#[test]
fn slashless_pattern_is_anchored_at_root() {
    let r = rules();
    assert!(r.classify("INTERFACES.md").shared);
    assert!(!r.classify("sub/INTERFACES.md").shared);
}

#[test]
fn protected_wins_over_ownership() {
    let core = vec![".droidforge/**".to_owned()];
    let r = Rules::new([".droidforge/**"], [], [("core", core.as_slice())]).unwrap();
    let c = r.classify(".droidforge/forge.toml");
    assert!(c.protected && !c.allows(0));
}

#[test]
fn escapes_are_rejected() {
    assert!(matches!(
        compile_pattern("../x"),
        Err(PatternError::Escapes(_))
    ));
    assert!(matches!(
        compile_pattern("a/../../x"),
        Err(PatternError::Escapes(_))
    ));
    assert!(matches!(
        compile_pattern("/etc/passwd"),
        Err(PatternError::Absolute(_))
    ));
    assert!(matches!(
        compile_pattern("src/[a"),
        Err(PatternError::Invalid { .. })
    ));
}

#[test]
fn intersections() {
    assert!(patterns_intersect("src/**", "src/api/x.rs").is_some());
    assert!(patterns_intersect("tests/**", "src/**").is_none());
    assert!(patterns_intersect("src/*.rs", "src/a/b.rs").is_none());
    assert!(patterns_intersect("src/*.rs", "src/**").is_some());
    assert!(patterns_intersect("src", "src/x.rs").is_some());
    assert!(patterns_intersect("src/{a,b}.rs", "src/b.rs").is_some());
    assert!(patterns_intersect("src/[ab].rs", "src/c.rs").is_none());
    let w = patterns_intersect("src/core/**", "src/*/mod.rs").unwrap();
    assert!(
        globset::Glob::new("src/core/**")
            .unwrap()
            .compile_matcher()
            .is_match(&w),
        "{w}"
    );
}

// Plain globs (`dir/**`, `file`) are matched by string comparison, not by globset; they must
// grant exactly what globset's own matcher grants, for every pattern spelling and any path
// (trailing slash, newline, glob characters in the path itself).
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    #[test]
    fn plain_globs_match_like_globset(
        owns in proptest::collection::vec(pattern_strategy(), 1..6),
        paths in proptest::collection::vec(
            (path_strategy(), proptest::sample::select(vec!["", "/", "\n", "/x\ny"])),
            1..6,
        ),
    ) {
        let owns: Vec<Vec<String>> = owns.into_iter().map(|p| vec![p]).collect();
        let names: Vec<String> = (0..owns.len()).map(|i| format!("d{i}")).collect();
        let droids = names.iter().zip(&owns).map(|(n, o)| (n.as_str(), o.as_slice()));
        let Ok(rules) = Rules::new([], [], droids) else { return Ok(()); };
        for (path, tail) in &paths {
            let path = format!("{path}{tail}");
            let expected: Vec<usize> = owns
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    compile_pattern(&o[0])
                        .unwrap()
                        .iter()
                        .any(|g| g.compile_matcher().is_match(&path))
                })
                .map(|(i, _)| i)
                .collect();
            proptest::prop_assert_eq!(rules.classify(&path).owners, expected, "{:?}", path);
        }
    }
}

#[test]
fn plain_forms_are_only_globs_without_syntax() {
    assert_eq!(Plain::of("src/a.rs"), Some(Plain::Exact("src/a.rs".into())));
    assert_eq!(Plain::of("src/a/**"), Some(Plain::Below("src/a/".into())));
    for glob in [
        "src/*.rs", "src/**/a", "a/[bc]", "{a,b}/**", "a\\*", "**", "a/**/**",
    ] {
        assert_eq!(Plain::of(glob), None, "{glob}");
    }
}

// Validation skips compiling plain patterns; it must accept and refuse exactly what compiling
// every glob does, with the same message.
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    #[test]
    fn checking_a_pattern_agrees_with_compiling_it(pattern in pattern_strategy()) {
        proptest::prop_assert_eq!(check_pattern(&pattern), compile_pattern(&pattern).map(|_| ()));
    }
}
