//! Splitting a migration file into statements, so it runs as a batch on any executor.

/// The statements of an SQL script, split at the semicolons that end them: not those inside
/// quotes (`'…'`, `"…"`, `` `…` ``, `[…]`) or comments (`-- …`, `/* … */`). Comments stay with
/// the statement they precede; empty statements are dropped. Scripts with `CREATE TRIGGER`
/// (whose body holds semicolons) are not supported, and the migrations have none.
pub fn split_script(script: &str) -> Vec<&str> {
    let bytes = script.as_bytes();
    let mut statements = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => i = skip_past(bytes, i + 1, &[quote]),
            b'[' => i = skip_past(bytes, i + 1, b"]"),
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_past(bytes, i + 2, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_past(bytes, i + 2, b"*/"),
            b';' => {
                push_statement(&mut statements, &script[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push_statement(&mut statements, &script[start..]);
    statements
}

/// The index just past the next `end` at or after `from` (the end of input if there is none).
/// A doubled quote inside a quoted string is found as two ends in a row, which is harmless.
fn skip_past(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    bytes[from.min(bytes.len())..]
        .windows(end.len())
        .position(|w| w == end)
        .map_or(bytes.len(), |at| from + at + end.len())
}

fn push_statement<'a>(statements: &mut Vec<&'a str>, text: &'a str) {
    let has_code = text.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with("--")
    });
    if has_code {
        statements.push(text.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_statement_ends_only() {
        let script = "-- a comment; not an end\nCREATE TABLE \"a;b\" (x TEXT DEFAULT 'it''s; fine');\n\
                      /* also; not */ INSERT INTO t VALUES ('x');\n\n-- trailing comment only\n";
        assert_eq!(
            split_script(script),
            vec![
                "-- a comment; not an end\nCREATE TABLE \"a;b\" (x TEXT DEFAULT 'it''s; fine')",
                "/* also; not */ INSERT INTO t VALUES ('x')",
            ]
        );
    }

    #[cfg(feature = "rusqlite")]
    #[test]
    fn the_migrations_split_into_the_same_schema() {
        let whole = rusqlite::Connection::open_in_memory().unwrap();
        let split = rusqlite::Connection::open_in_memory().unwrap();
        for (_, name, sql) in crate::migrations::MIGRATIONS {
            whole.execute_batch(sql).unwrap();
            for statement in split_script(sql) {
                assert!(!statement.ends_with(';'), "{name}: {statement}");
                split.execute(statement, []).unwrap_or_else(|e| panic!("{name}: {statement}: {e}"));
            }
        }
        let schema = |conn: &rusqlite::Connection| -> Vec<(String, Option<String>)> {
            let mut stmt = conn.prepare("SELECT name, sql FROM sqlite_master ORDER BY name").unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
        };
        assert!(schema(&whole).len() > 5);
        assert_eq!(schema(&whole), schema(&split));
    }
}
