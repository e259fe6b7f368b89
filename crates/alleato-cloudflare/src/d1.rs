//! Cloudflare D1 as an executor of the SQLite crate's statements, over
//! `POST /accounts/{account_id}/d1/database/{database_id}/raw` with a `batch` array: one HTTP
//! request per call, the batch one transaction (D1 docs; `shared/reference/
//! cloudflare-and-test-services.md` §1.2–1.5). `/raw` answers rows as arrays with their column
//! names, so columns keep their order. What D1 would refuse (too many parameters, too long a
//! statement, `BEGIN`, `PRAGMA`) is refused here first, without spending a request.

use alleato_sqlite::sql::{Executor, Outcome, Row, SqlError, SqlErrorKind, Statement, Value, d1};
use serde::Deserialize;
use serde_json::json;

use crate::client::{Method, Request};
use crate::{ApiError, CloudflareClient};

/// One D1 database through the REST API (or the proxy Worker).
#[derive(Clone, Debug)]
pub struct D1 {
    client: CloudflareClient,
    path: String,
}

impl D1 {
    /// The database `database_id`, reached through `client`.
    pub fn new(client: CloudflareClient, database_id: &str) -> Self {
        Self { client, path: format!("d1/database/{database_id}/raw") }
    }

    /// The client it calls through (its request count, its settings).
    pub fn client(&self) -> &CloudflareClient {
        &self.client
    }
}

#[derive(Deserialize)]
struct RawResult {
    results: RawRows,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize)]
struct RawRows {
    #[serde(default)]
    rows: Vec<Vec<serde_json::Value>>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    changes: u64,
}

impl Executor for D1 {
    async fn query(&self, statement: Statement) -> Result<Outcome, SqlError> {
        let mut outcomes = self.batch(vec![statement]).await?;
        outcomes.pop().ok_or_else(|| SqlError::new(SqlErrorKind::Other, "D1 answered no result"))
    }

    /// One request for all the reads.
    async fn query_all(&self, statements: Vec<Statement>) -> Result<Vec<Outcome>, SqlError> {
        self.batch(statements).await
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Outcome>, SqlError> {
        let mut batch = Vec::with_capacity(statements.len());
        for statement in &statements {
            d1::check(statement)?;
            let params = statement.params.iter().map(param).collect::<Result<Vec<_>, _>>()?;
            let sql = match statement.max_rows {
                // A remote executor sends fewer rows: the statement has no LIMIT of its own.
                Some(rows) => format!("{} LIMIT {rows}", statement.sql),
                None => statement.sql.to_string(),
            };
            batch.push(json!({"sql": sql, "params": params}));
        }
        // A batch that only reads may be sent again after a `5xx`; one that writes may not (the
        // first may have been applied).
        let reads_only =
            statements.iter().all(|s| s.sql.trim_start().get(..6).is_some_and(|w| w.eq_ignore_ascii_case("select")));
        let body = json!({ "batch": batch });
        let request = Request::new(Method::POST, &self.path).json(&body).idempotent(reads_only);
        let results: Vec<RawResult> =
            self.client.call(request).await.and_then(|answer| answer.require()).map_err(sql_error)?;
        if results.len() != statements.len() {
            return Err(SqlError::new(
                SqlErrorKind::Other,
                format!("D1 answered {} results for {} statements", results.len(), statements.len()),
            ));
        }
        results
            .into_iter()
            .map(|result| {
                let rows = result
                    .results
                    .rows
                    .into_iter()
                    .map(|row| row.into_iter().map(value).collect::<Result<Vec<_>, _>>().map(Row))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Outcome { rows, changes: result.meta.changes })
            })
            .collect()
    }
}

/// A parameter as D1's JSON takes it. Blobs have no JSON form D1 documents for parameters;
/// Alleato's SQL binds none.
fn param(value: &Value) -> Result<serde_json::Value, SqlError> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => json!(i),
        Value::Real(f) => json!(f),
        Value::Text(t) => json!(t),
        Value::Blob(_) => {
            return Err(SqlError::new(SqlErrorKind::Other, "D1's HTTP API takes no blob parameters"));
        }
    })
}

/// A column value from D1's JSON: BLOBs come back as arrays of byte numbers (§1.3).
fn value(json: serde_json::Value) -> Result<Value, SqlError> {
    Ok(match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Integer(i64::from(b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Text(s),
        serde_json::Value::Array(bytes) => Value::Blob(
            bytes
                .into_iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| SqlError::new(SqlErrorKind::Other, "D1 answered a blob that is not bytes"))?,
        ),
        serde_json::Value::Object(_) => {
            return Err(SqlError::new(SqlErrorKind::Other, "D1 answered an object as a column value"));
        }
    })
}

/// SQL errors come back as `400` with code 7500 and SQLite's message, which the SQLite crate
/// classifies; anything else is the transport's.
fn sql_error(err: ApiError) -> SqlError {
    match err {
        ApiError::Rejected { message, status: 400, .. } => SqlError::from_message(message),
        ApiError::Unavailable(why) => SqlError::new(SqlErrorKind::Unavailable, why),
        other => SqlError::new(SqlErrorKind::Other, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_d1s_json() {
        assert_eq!(value(json!(1_700_000_000_000i64)).unwrap(), Value::Integer(1_700_000_000_000));
        assert_eq!(value(json!(0.5)).unwrap(), Value::Real(0.5));
        assert_eq!(value(json!("x")).unwrap(), Value::Text("x".into()));
        assert_eq!(value(json!(null)).unwrap(), Value::Null);
        assert_eq!(value(json!([222, 173])).unwrap(), Value::Blob(vec![222, 173]));
        assert!(value(json!([300])).is_err());
        assert_eq!(param(&Value::Integer(7)).unwrap(), json!(7));
        assert!(param(&Value::Blob(vec![1])).is_err());
    }

    #[test]
    fn sql_errors_keep_their_sqlite_meaning() {
        let unique = ApiError::Rejected {
            status: 400,
            code: Some(7500),
            message: "UNIQUE constraint failed: User.email: SQLITE_CONSTRAINT".into(),
        };
        assert_eq!(sql_error(unique).kind, SqlErrorKind::Unique);
        assert_eq!(sql_error(ApiError::Unavailable("429".into())).kind, SqlErrorKind::Unavailable);
        let auth = ApiError::Rejected { status: 401, code: Some(10000), message: "Authentication error".into() };
        assert_eq!(sql_error(auth).kind, SqlErrorKind::Other);
    }
}
