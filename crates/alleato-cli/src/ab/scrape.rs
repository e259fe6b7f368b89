//! A side's `/metrics`, read before and after a measured phase: how much time each port spent
//! per request of each route in between.

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value};

/// Cumulative totals at one moment: seconds by (route, port), requests by (method, route).
#[derive(Debug, Default, Clone)]
pub struct Totals {
    port_seconds: BTreeMap<(String, String), f64>,
    requests: BTreeMap<(String, String), f64>,
}

pub async fn totals(http: &reqwest::Client, url: &str) -> Option<Totals> {
    let text = http.get(url).send().await.ok()?.error_for_status().ok()?.text().await.ok()?;
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).ok()?;
    let mut totals = Totals::default();
    for sample in scrape.samples {
        let value = match sample.value {
            Value::Counter(v) | Value::Untyped(v) | Value::Gauge(v) => v,
            _ => continue,
        };
        let label = |name: &str| sample.labels.get(name).unwrap_or_default().to_owned();
        match sample.metric.as_str() {
            "alleato_port_call_duration_seconds_sum" => {
                *totals.port_seconds.entry((label("route"), label("port"))).or_default() += value;
            }
            "alleato_http_requests_total" => {
                *totals.requests.entry((label("method"), label("route"))).or_default() += value;
            }
            _ => {}
        }
    }
    Some(totals)
}

/// Milliseconds of each port's time per request of `method route` between two readings; the
/// generation jobs' time (`background`) is charged to `charge_background` requests when given
/// (the answers sent), under `job:<port>`.
pub fn per_request(
    before: &Totals,
    after: &Totals,
    method: &str,
    route: &str,
    charge_background: bool,
) -> BTreeMap<String, f64> {
    let key = (method.to_owned(), route.to_owned());
    let requests = after.requests.get(&key).copied().unwrap_or(0.0) - before.requests.get(&key).copied().unwrap_or(0.0);
    let mut ports = BTreeMap::new();
    if requests <= 0.0 {
        return ports;
    }
    for ((r, port), seconds) in &after.port_seconds {
        let name = if r == route {
            port.clone()
        } else if charge_background && r == "background" {
            format!("job:{port}")
        } else {
            continue;
        };
        let spent = seconds - before.port_seconds.get(&(r.clone(), port.clone())).copied().unwrap_or(0.0);
        *ports.entry(name).or_insert(0.0) += spent * 1000.0 / requests;
    }
    ports.retain(|_, ms| *ms > 0.0);
    ports
}
