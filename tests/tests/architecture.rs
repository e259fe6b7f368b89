//! ARCHITECTURE.md stays true: every repository path it names exists, every crate of the
//! workspace has a section, and every `cargo xtask` command is listed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn map() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

/// The top-level folders a path in the map may start from.
const TOP: &[&str] = &["crates/", "tests/", "xtask/", "migrations/", "config/", "api/", ".ci/"];

/// Backticked spans (which may wrap across lines), with the crate section
/// (`### \`crates/x\``) each appears in.
fn spans(text: &str) -> Vec<(Option<String>, String)> {
    // Where each section starts, and which crate it maps (none for other sections).
    let mut sections: Vec<(usize, Option<String>)> = vec![(0, None)];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(title) = line.trim_end().strip_prefix("### ") {
            let title = title.trim_matches('`');
            sections.push((offset, title.starts_with("crates/").then(|| title.to_owned())));
        } else if line.starts_with("## ") {
            sections.push((offset, None));
        }
        offset += line.len();
    }
    let section_at = |at: usize| sections.iter().rev().find(|(start, _)| *start <= at).and_then(|(_, s)| s.clone());
    let mut found = Vec::new();
    let mut at = 0;
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            found.push((section_at(at), part.replace('\n', " ")));
        }
        at += part.len() + 1;
    }
    found
}

/// A span that names a file or folder: path characters only, and a slash or a file extension.
fn looks_like_path(span: &str) -> bool {
    let chars = span.chars().all(|c| c.is_ascii_alphanumeric() || "._-/*".contains(c));
    // Files the map names by extension; outputs (`report.json`) and databases are not in the tree.
    let has_ext = [".rs", ".toml", ".sql", ".js", ".mjs"].iter().any(|e| span.ends_with(e));
    chars && !span.starts_with('/') && !span.contains('*') && (span.contains('/') || has_ext)
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                if !["target", "node_modules"].contains(&entry.file_name().to_string_lossy().as_ref()) {
                    out.push(format!("{rel}/"));
                    stack.push(path);
                }
            } else {
                out.push(rel);
            }
        }
    }
    out
}

#[test]
fn every_path_the_map_names_exists() {
    let root = root();
    let mut missing = Vec::new();
    for (section, span) in spans(&map()) {
        // The recipe's placeholder crate is meant not to exist.
        // Build outputs (`target/...`) are not in the tree either.
        if !looks_like_path(&span) || span.contains("alleato-foo") || span.starts_with("target/") {
            continue;
        }
        if TOP.iter().any(|top| span.starts_with(top)) && root.join(span.trim_end_matches('/')).exists() {
            continue;
        }
        // Otherwise a path is relative to somewhere in the section's crate, or, outside the
        // crate sections, somewhere in the tree.
        let (base, place) = match &section {
            Some(krate) => (root.join(krate), krate.clone()),
            None => (root.clone(), "the tree".to_owned()),
        };
        let wanted = span.trim_end_matches('/');
        let found = files_under(&base).iter().any(|f| {
            let f = f.trim_end_matches('/');
            f == wanted || f.ends_with(&format!("/{wanted}"))
        });
        if !found {
            missing.push(format!("{span} (in {place})"));
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:#?}");
}

#[test]
fn every_crate_has_a_section() {
    let map = map();
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let missing: Vec<_> = crates.iter().filter(|c| !map.contains(&format!("### `crates/{c}`"))).collect();
    assert!(missing.is_empty(), "crates without a section in ARCHITECTURE.md: {missing:?}");
}

#[test]
fn every_xtask_command_is_listed() {
    let main = std::fs::read_to_string(root().join("xtask/src/main.rs")).unwrap();
    let map = map();
    // The entry point's list item, which may wrap over several lines.
    let start = map.find("`cargo xtask ").expect("the xtask entry point");
    let entry = map[start..].split("\n- ").next().unwrap_or_default();
    // The commands are the string arms of the dispatch: `Some("name") =>`.
    let commands: Vec<&str> = main
        .split("Some(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once("\")").filter(|(_, after)| after.trim_start().starts_with("=>")))
        .map(|(name, _)| name)
        .collect();
    assert!(!commands.is_empty(), "no commands found in xtask/src/main.rs");
    let missing: Vec<_> = commands.iter().filter(|c| !entry.contains(*c)).collect();
    assert!(missing.is_empty(), "xtask commands missing from ARCHITECTURE.md's entry points: {missing:?}");
}
