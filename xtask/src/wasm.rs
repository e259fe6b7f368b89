//! `cargo xtask wasm-check` (also a step of `test`): the crates a Cloudflare Worker builds on
//! compile for `wasm32-unknown-unknown`, so a runtime-only call (a Tokio timer, a thread, a
//! filesystem call) added to them fails the run instead of the Worker's build.
//!
//! rustup cannot download the target's standard library here, so this follows the recipe of
//! the wasm toolchain reference: Debian's `rustc-web`/`cargo-web` (installed here if missing),
//! std built from `rust-web-src` by cargo's build-std (`RUSTC_BOOTSTRAP` lets that stable cargo
//! take it), `wasm-ld-22` from `lld-22`, and a target directory of its own, since rustup's
//! compiler cannot build Debian's std sources. The first check builds std (about 4 minutes on
//! 2 cores); later ones reuse it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The crates that must build for wasm32, with the features the Worker uses: `None` for the
/// crate's defaults, `Some(list)` for exactly `list` (`Some("")`: no feature at all).
pub const CRATES: &[(&str, Option<&str>)] = &[
    ("alleato-core", None),
    ("alleato-api", None),
    ("alleato-http", None),
    // The SQL, the executor seam and the migrations, without rusqlite (a C library).
    ("alleato-sqlite", Some("")),
];

/// Debian's compiler and cargo for wasm32 (Rust 1.96 from bookworm-security).
const RUSTC: &str = "/usr/bin/rustc";
const CARGO: &str = "/usr/bin/cargo";
const LINKER: &str = "wasm-ld-22";
const PACKAGES: &str = "--no-install-recommends rustc-web cargo-web rust-web-src lld-22";

/// Installs what is missing, then checks every crate of [`CRATES`]; `Ok((passed, failed))`
/// counts one test per crate.
pub fn run(target: &Path) -> anyhow::Result<(u64, u64)> {
    let std_sources = Path::new("/usr/lib/rustlib/src/rust/library/Cargo.lock");
    let has_linker = Command::new(LINKER).arg("--version").output().is_ok_and(|o| o.status.success());
    if !is_debian_web_rustc() || !std_sources.exists() || !has_linker {
        say!("installing Debian's Rust for wasm32 ({PACKAGES})");
        crate::services::apt_install(PACKAGES)?;
    }
    let (mut passed, mut failed) = (0, 0);
    for (package, features) in CRATES {
        say!("cargo check --target wasm32-unknown-unknown -p {package} (Debian's rustc, build-std)");
        let mut command = Command::new(CARGO);
        command.args(["check", "--quiet", "--target", "wasm32-unknown-unknown", "-p", package]);
        if let Some(features) = features {
            command.arg("--no-default-features");
            if !features.is_empty() {
                command.args(["--features", features]);
            }
        }
        let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
        // What `cargo xtask` was started with (rustup's toolchain) must not leak into Debian's.
        for inherited in ["CARGO", "RUSTUP_TOOLCHAIN", "RUSTC_WRAPPER", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
            command.env_remove(inherited);
        }
        let status = command
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .env("PATH", path)
            .env("RUSTC", RUSTC)
            .env("RUSTDOC", "/usr/bin/rustdoc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort")
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", LINKER)
            .env("CARGO_TARGET_DIR", target.join("wasm32"))
            .status()
            .with_context(|| format!("running {CARGO}"))?;
        if status.success() {
            passed += 1;
        } else {
            say!("{package} does not compile for wasm32-unknown-unknown: see the errors above");
            failed += 1;
        }
    }
    Ok((passed, failed))
}

/// Whether `/usr/bin/rustc` is Debian's `rustc-web` (1.91 or newer, which `worker` needs), not
/// the older plain `rustc` package.
fn is_debian_web_rustc() -> bool {
    let Ok(output) = Command::new(RUSTC).arg("--version").output() else { return false };
    let version = String::from_utf8_lossy(&output.stdout);
    let minor = version.split_whitespace().nth(1).and_then(|v| v.split('.').nth(1)).and_then(|m| m.parse().ok());
    output.status.success() && minor.is_some_and(|m: u32| m >= 91)
}

/// Checks and fails on any crate that does not compile.
pub fn check_only(target: &Path) -> anyhow::Result<()> {
    let (passed, failed) = run(target)?;
    println!("tests: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} crate(s) do not compile for wasm32-unknown-unknown");
    }
    Ok(())
}
