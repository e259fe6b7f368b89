//! What one phase measured: per operation, an HDR histogram of latencies (microseconds, three
//! significant digits), errors by code and bytes received; over the phase, completed requests
//! per second.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::workload::Operation;

/// One timed request.
pub struct Sample {
    pub operation: Operation,
    pub took: Duration,
    /// The error code (`rate_limit:api`, `transport`, `stream_error`…); `None` on success.
    pub code: Option<String>,
    pub bytes: u64,
    /// When it completed, from the start of the measured part.
    pub at: Duration,
}

pub struct OperationStats {
    pub latency: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
    pub bytes: u64,
}

pub struct PhaseStats {
    pub duration: Duration,
    pub operations: BTreeMap<Operation, OperationStats>,
    /// Requests completed in each second of the measured part.
    pub per_second: Vec<u64>,
}

impl PhaseStats {
    pub fn new(duration: Duration) -> Self {
        let seconds = duration.as_secs_f64().ceil().max(1.0) as usize;
        Self { duration, operations: BTreeMap::new(), per_second: vec![0; seconds] }
    }

    pub fn add(&mut self, sample: Sample) {
        let stats = self.operations.entry(sample.operation).or_insert_with(|| OperationStats {
            // 1 µs to an hour, three significant digits.
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            errors: BTreeMap::new(),
            bytes: 0,
        });
        let micros = (sample.took.as_micros() as u64).clamp(1, 3_600_000_000);
        let _ = stats.latency.record(micros);
        stats.bytes += sample.bytes;
        if let Some(code) = sample.code {
            *stats.errors.entry(code).or_default() += 1;
        }
        let second = (sample.at.as_secs() as usize).min(self.per_second.len() - 1);
        self.per_second[second] += 1;
    }

    pub fn summary(&self, operation: Operation) -> Option<Summary> {
        let stats = self.operations.get(&operation)?;
        let ms = |micros: u64| micros as f64 / 1000.0;
        let count = stats.latency.len();
        Some(Summary {
            count,
            throughput_per_sec: count as f64 / self.duration.as_secs_f64(),
            p50_ms: ms(stats.latency.value_at_quantile(0.50)),
            p95_ms: ms(stats.latency.value_at_quantile(0.95)),
            p99_ms: ms(stats.latency.value_at_quantile(0.99)),
            max_ms: ms(stats.latency.max()),
            mean_ms: stats.latency.mean() / 1000.0,
            errors: stats.errors.clone(),
            bytes: stats.bytes,
        })
    }
}

/// One operation on one side in one round, as the report gives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Requests measured (errors included).
    pub count: u64,
    pub throughput_per_sec: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Failed requests by error code.
    pub errors: BTreeMap<String, u64>,
    /// Response bytes received.
    pub bytes: u64,
}
