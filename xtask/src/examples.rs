//! The library crates' examples, each run once as a smoke test (`--smoke`: it checks itself
//! against a throwaway store and exits 0, or fails).

use std::process::Command;

/// (package, example, features).
const EXAMPLES: &[(&str, &str, &str)] = &[
    ("alleato-server", "mount", ""),
    ("alleato-server", "export_chats", ""),
    ("alleato-server", "routing_model", ""),
    ("alleato-server", "directory_kv", ""),
];

/// Runs every example; returns (passed, failed).
pub fn run() -> (u64, u64) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (mut passed, mut failed) = (0, 0);
    for (package, example, features) in EXAMPLES {
        let mut args = vec!["run", "--quiet", "-p", package, "--example", example];
        if !features.is_empty() {
            args.extend(["--features", features]);
        }
        args.extend(["--", "--smoke"]);
        say!("cargo {}", args.join(" "));
        let ok = Command::new(&cargo).args(&args).status().is_ok_and(|s| s.success());
        println!("example {package}/{example} ... {}", if ok { "ok" } else { "FAILED" });
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    (passed, failed)
}
