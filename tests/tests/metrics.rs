//! `GET /metrics` on `ALLEATO_METRICS_ADDR`: Prometheus text that a parser reads, HTTP latency
//! by route template, and every port's calls labelled with the backend that served them, on
//! whichever stack the suite runs. Nothing is served when the address is unset.

use std::collections::BTreeSet;

use alleato_e2e::{PNG, TestApp, collect, test_config};

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

#[tokio::test]
async fn metrics_show_routes_and_every_port_by_the_backend_that_served_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let metrics = app.server.metrics_addr.expect("the metrics address is bound");
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
