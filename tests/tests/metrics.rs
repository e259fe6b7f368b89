//! `GET /metrics` on `ALLEATO_METRICS_ADDR`: Prometheus text that a parser reads, HTTP latency
//! by route template, and every port's calls labelled with the backend that served them, on
//! whichever stack the suite runs. Nothing is served when the address is unset.

use std::collections::BTreeSet;

use alleato_e2e::{PNG, TestApp, collect, test_config};
use futures::StreamExt;

async fn scrape(addr: std::net::SocketAddr) -> prometheus_parse::Scrape {
    let response = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text")
}

fn label<'a>(sample: &'a prometheus_parse::Sample, name: &str) -> &'a str {
    sample.labels.get(name).unwrap_or_default()
}

/// A server with metrics on an address of their own, and that address.
async fn app_with_metrics() -> (TestApp, std::net::SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let metrics = app.server.metrics_addr.expect("the metrics address is bound");
    (app, metrics)
}

#[tokio::test]
async fn metrics_show_routes_and_every_port_by_the_backend_that_served_it() {
    let (app, metrics) = app_with_metrics().await;
    assert_ne!(metrics, app.server.addr, "metrics are not on the API's address");

    let (ada, _) = app.user().await;
    let chat = ada.create_chat(&Default::default()).await.unwrap();
    collect(ada.send_text(chat.id, "count the ports").await.unwrap()).await;
    ada.get_chat(chat.id).await.unwrap();
    let file = ada.upload_file("dot.png", "image/png", PNG, None).await.unwrap();
    ada.file_content(file.id).await.unwrap();

    let scrape = scrape(metrics).await;
    let http: Vec<_> =
        scrape.samples.iter().filter(|s| s.metric == "alleato_http_request_duration_seconds_count").collect();
    let routes: BTreeSet<_> =
        http.iter().map(|s| (label(s, "method"), label(s, "route"), label(s, "status"))).collect();
    for expected in [
        ("POST", "/api/v1/auth/register", "201"),
        ("GET", "/api/v1/chats/:id", "200"),
        ("POST", "/api/v1/chats/:id/messages", "200"),
        ("POST", "/api/v1/files/upload", "201"),
    ] {
        assert!(routes.contains(&expected), "{expected:?} in {routes:?}");
    }
    assert!(routes.iter().all(|(_, route, _)| !route.contains("-")), "templates, never raw ids: {routes:?}");

    let ports: BTreeSet<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "alleato_port_call_duration_seconds_count")
        .map(|s| (label(s, "port"), label(s, "backend")))
        .collect();
    let database = match alleato_e2e::stack_database().as_str() {
        "postgres" => "postgres",
        "d1" => "d1",
        _ => "sqlite",
    };
    let storage = match (alleato_e2e::stack_cloudflare(), alleato_e2e::stack_storage().as_str()) {
        (true, _) => "r2",
        (false, "s3") => "s3",
        (false, _) => "local",
    };
    for (port, backend) in [("database", database), ("storage", storage), ("model", "mock")] {
        assert!(ports.contains(&(port, backend)), "{port} on {backend} in {ports:?}");
    }
    for port in ["kv", "counters", "streams"] {
        assert!(ports.iter().any(|(p, _)| *p == port), "{port} in {ports:?}");
    }
    // The port calls a request made carry its route; the detached generation job's, `background`.
    let by_route: BTreeSet<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "alleato_port_call_duration_seconds_count")
        .map(|s| (label(s, "route"), label(s, "port")))
        .collect();
    assert!(by_route.contains(&("/api/v1/chats/:id/messages", "database")), "{by_route:?}");
    assert!(by_route.contains(&("background", "model")), "{by_route:?}");
    let names: BTreeSet<_> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for name in [
        "alleato_stream_chunks_total",
        "alleato_generations_running",
        "alleato_model_time_to_first_token_seconds_count",
        "alleato_http_requests_total",
    ] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
}

#[tokio::test]
async fn nothing_is_served_without_the_metrics_address() {
    let app = TestApp::spawn().await;
    assert!(app.server.metrics_addr.is_none());
    let response = app.client.request(reqwest::Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(response.status(), 404, "not on the API's address either");
}

/// Every label value comes from a closed set, so no client can grow the process's memory or
/// every scrape: thousands of requests with methods and paths never seen before add no series
/// after the first few (one per status an unknown method or path can get).
#[tokio::test]
async fn unknown_methods_and_paths_do_not_grow_the_series() {
    let (app, metrics) = app_with_metrics().await;
    let http = reqwest::Client::new();
    let hostile = |i: usize| {
        let method = reqwest::Method::from_bytes(format!("XABC{i}").as_bytes()).unwrap();
        let path = match i % 3 {
            0 => format!("/anything-{i}"),
            1 => format!("/api/v1/nothing/{i}"),
            _ => "/api/v1/chats".to_owned(),
        };
        http.request(method, app.url(&path)).send()
    };
    // Hostile series are those an unknown method or an unrouted path makes.
    let hostile_series = |scrape: &prometheus_parse::Scrape| -> BTreeSet<String> {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric.starts_with("alleato_http_"))
            .filter(|s| label(s, "method") == "other" || label(s, "route") == "unmatched")
            .map(|s| format!("{} {:?}", s.metric, s.labels.iter().collect::<std::collections::BTreeMap<_, _>>()))
            .collect()
    };
    let send = |range: std::ops::Range<usize>| {
        futures::stream::iter(range)
            .map(|i| async move {
                let status = hostile(i).await.unwrap().status().as_u16();
                assert!((400..500).contains(&status), "request {i}: {status}");
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
    };
    send(0..30).await;
    let before = scrape(metrics).await;
    send(30..3_030).await;
    let after = scrape(metrics).await;

    let (seen_before, seen_after) = (hostile_series(&before), hostile_series(&after));
    assert!(!seen_before.is_empty(), "the requests were recorded");
    assert_eq!(seen_after, seen_before, "3,000 new methods and paths added no series");
    for sample in after.samples.iter().filter(|s| s.metric.starts_with("alleato_http_")) {
        let (method, route) = (label(sample, "method"), label(sample, "route"));
        assert!(
            ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other"].contains(&method),
            "method label {method:?}"
        );
        assert!(route == "unmatched" || route.starts_with('/'), "route label {route:?}");
        assert!(!route.contains("anything") && !route.contains("nothing"), "a raw path as a label: {route:?}");
    }
}
