//! Build script: link the `droidforge` executable position-dependent (`-no-pie`) on Linux.
//!
//! Why: droidforge is a short-lived CLI that agents call many times, and a PIE executable of its
//! size starts with ~34,000 relative relocations for the dynamic loader to apply, each page of
//! them copied on write: ~0.45M instructions and ~170 page faults per call, a fifth of what
//! `droidforge --version` costs and ~9% of a 10-file `spawn` (docs/spawn.md). A position-
//! dependent executable needs none of it. What it gives up is the address randomization of
//! the executable image itself (shared libraries, heap and stack stay randomized), as Go
//! programs ship by default. Set `DROIDFORGE_PIE=1` when building to keep the PIE default.

fn main() {
    println!("cargo:rerun-if-env-changed=DROIDFORGE_PIE");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let keep_pie = std::env::var_os("DROIDFORGE_PIE").is_some_and(|v| !v.is_empty() && v != "0");
    // glibc targets only: musl builds are static already, other platforms have no `-no-pie`.
    if os == "linux" && env == "gnu" && !keep_pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
