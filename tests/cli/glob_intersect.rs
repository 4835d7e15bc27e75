//! Property tests for `ownership::patterns_intersect` (used by `plan` overlaps and lock
//! conflicts) against brute-force matching with globset over every small path.

use droidforge::forge::ownership::{compile_pattern, patterns_intersect};
use proptest::prelude::*;

/// A matcher with ownership semantics (the pattern or anything below it).
fn matcher(pattern: &str) -> globset::GlobSet {
    let mut set = globset::GlobSetBuilder::new();
    for g in compile_pattern(pattern).expect("generated patterns compile") {
        set.add(g);
    }
    set.build().expect("globs build")
}

fn matches(pattern: &str, path: &str) -> bool {
    matcher(pattern).is_match(path)
}

static UNIVERSE: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(universe);

/// Every path with 1-3 components, each 1-2 characters from `a b c`.
fn universe() -> Vec<String> {
    let mut comps = Vec::new();
    for a in ['a', 'b', 'c'] {
        comps.push(a.to_string());
        for b in ['a', 'b', 'c'] {
            comps.push(format!("{a}{b}"));
        }
    }
    let mut out: Vec<String> = comps.clone();
    let mut last = comps.clone();
    for _ in 1..3 {
        let mut next = Vec::new();
        for p in &last {
            for c in &comps {
                next.push(format!("{p}/{c}"));
            }
        }
        out.extend(next.iter().cloned());
        last = next;
    }
    out
}

fn atom() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a", "b", "c", "*", "?", "[ab]", "[!a]", "[b-c]", "{a,b}", "{c,}",
    ])
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(atom(), 1..3).prop_map(|v| v.concat()),
        1 => Just("**".to_owned()),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    (prop::collection::vec(component(), 1..4), any::<bool>()).prop_map(|(comps, slash)| {
        let mut p = comps.join("/");
        if slash && !p.ends_with("**") {
            p.push('/');
        }
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn intersection_agrees_with_brute_force(a in pattern(), b in pattern()) {
        let got = patterns_intersect(&a, &b);
        if let Some(example) = &got {
            prop_assert!(matches(&a, example), "example `{example}` does not match `{a}` (other: `{b}`)");
            prop_assert!(matches(&b, example), "example `{example}` does not match `{b}` (other: `{a}`)");
        }
        if got.is_none() {
            let (ma, mb) = (matcher(&a), matcher(&b));
            if let Some(common) = UNIVERSE.iter().find(|p| ma.is_match(p) && mb.is_match(p)) {
                prop_assert!(false, "`{a}` and `{b}` both match `{common}` but intersect says none");
            }
        }
    }

    #[test]
    fn intersection_is_symmetric(a in pattern(), b in pattern()) {
        prop_assert_eq!(patterns_intersect(&a, &b).is_some(), patterns_intersect(&b, &a).is_some());
    }
}

#[test]
fn documented_examples() {
    assert!(patterns_intersect("src/**", "src/api/x.rs").is_some());
    assert!(patterns_intersect("tests/**", "src/**").is_none());
    assert!(patterns_intersect("src/*.rs", "src/a/b.rs").is_none());
    // A pattern also covers what lies below it, so a file pattern meets a deeper glob.
    assert_eq!(
        patterns_intersect("src/**/mod.rs", "src/amod.rs").as_deref(),
        Some("src/amod.rs/mod.rs")
    );
    // `**` inside a component is just `*`: it does not cross `/`.
    assert!(patterns_intersect("a**b", "a/b").is_none());
    assert_eq!(
        patterns_intersect("src/**", "src").as_deref(),
        Some("src/a")
    );
}
