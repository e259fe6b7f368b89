//! A service that embeds only the core and the SQLite adapter compiles no PostgreSQL driver,
//! Redis client, object store (nor its AWS client) and no HTTP client: `cargo tree` says so.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The crates `package` compiles (normal and build dependencies, every platform).
fn compiled(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "-p", package, "-e", "normal,build", "--prefix", "none", "--format", "{p}"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines().filter_map(|line| line.split_whitespace().next()).map(str::to_owned).collect()
}

#[test]
fn core_and_sqlite_compile_none_of_the_network_backends() {
    let crates = compiled("alleato-sqlite");
    assert!(crates.contains("alleato-core") && crates.contains("rusqlite"), "{crates:?}");
    let forbidden: Vec<_> = crates
        .iter()
        .filter(|name| {
            name.starts_with("sqlx")
                || name.starts_with("redis")
                || name.starts_with("object_store")
                || name.starts_with("aws-")
                || name.starts_with("reqwest")
                || name.starts_with("hyper")
                || name.starts_with("rustls")
                || name.starts_with("alleato-") && !matches!(name.as_str(), "alleato-core" | "alleato-sqlite")
        })
        .collect();
    assert!(forbidden.is_empty(), "core + SQLite compiles {forbidden:?}");
    // The figure the README gives, within reason: a new heavy dependency shows here.
    assert!(crates.len() < 160, "core + SQLite compiles {} crates", crates.len());
}

#[test]
fn the_core_alone_has_no_io_crate() {
    let crates = compiled("alleato-core");
    for io in ["rusqlite", "libsqlite3-sys", "sqlx", "redis", "object_store", "reqwest", "hyper", "axum"] {
        assert!(!crates.contains(io), "alleato-core compiles {io}");
    }
}
