//! Health, readiness, admin, and the protections every route shares: JSON errors for bad input,
//! body limits, CORS, request ids and rate limits.

use alleato_e2e::{TestApp, assert_api_error, test_config};
use reqwest::Method;

#[tokio::test]
async fn health_lists_the_adapters_and_ready_pings_them() {
    let app = TestApp::spawn().await;
    let health = app.client.health().await.unwrap();
    assert_eq!(health.status, "ok");
    let ports: Vec<_> = health.adapters.iter().map(|a| a.port.as_str()).collect();
    assert_eq!(ports, ["database", "storage", "key-value", "counters", "streams", "model"]);
    assert!(health.adapters[5].backend.starts_with("mock"), "the mock model is named plainly");
    assert!(health.adapters.iter().all(|a| !a.why.is_empty()));
    let database = match alleato_e2e::stack_database().as_str() {
        "postgres" => "postgres",
        "d1" => "d1",
        _ => "sqlite",
    };
    assert!(health.adapters[0].backend.starts_with(database), "{:?}", health.adapters[0]);
    if alleato_e2e::stack_cloudflare_api() {
        let backends: Vec<_> = health.adapters[..5].iter().map(|a| a.backend.as_str()).collect();
        assert_eq!(
            backends,
            [
                "d1 (REST API)",
                "r2 (S3 API, object_store)",
                "workers-kv (REST API)",
                "d1 (REST API)",
                "workers-kv (REST API)"
            ]
        );
    }
    let ready = app.client.ready().await.unwrap();
    assert!(ready.ready);
    assert!(ready.checks.iter().all(|c| c.ok), "{:?}", ready.checks);
}

#[tokio::test]
async fn admin_stats_need_the_key_and_count_for_real() {
    let app = TestApp::spawn().await;
    assert_api_error(app.client.admin_stats("wrong").await, 401, "unauthorized:api");
    let missing = app.client.request(Method::GET, "/admin/stats").send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let before = app.client.admin_stats("test-admin-key").await.unwrap();
    let (ada, _) = app.user().await;
    app.guest().await;
    ada.create_chat(&Default::default()).await.unwrap();
    let after = app.client.admin_stats("test-admin-key").await.unwrap();
    assert_eq!((after.users, after.guests, after.chats), (before.users + 1, before.guests + 1, before.chats + 1));

    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.admin.api_key = None;
    let keyless = TestApp::spawn_with(config, Some(dir)).await;
    assert_api_error(keyless.client.admin_stats("anything").await, 404, "not_found:api");
    // And the document it serves says so: no admin route, no admin key scheme.
    for (app, listed) in [(&app, true), (&keyless, false)] {
        let spec: serde_json::Value =
            app.client.request(Method::GET, "/api/v1/openapi.json").send().await.unwrap().json().await.unwrap();
        assert_eq!(spec["paths"].get("/admin/stats").is_some(), listed);
        assert_eq!(spec["components"]["securitySchemes"].get("api_key").is_some(), listed);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    for (method, path, status, code) in [
        (Method::GET, "/nope", 404, "not_found:api"),
        (Method::GET, "/api/v1/nope", 404, "not_found:api"),
        (Method::DELETE, "/health", 405, "method_not_allowed:api"),
        (Method::PUT, "/api/v1/auth/login", 405, "method_not_allowed:api"),
    ] {
        let response = app.client.request(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert!(response.headers().contains_key("x-request-id"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{method} {path}");
    }
}

#[tokio::test]
async fn the_web_app_is_served_at_the_root_with_a_strict_policy_and_can_be_turned_off() {
    let app = TestApp::spawn().await;
    for path in ["/", "/chat/00000000-0000-0000-0000-000000000000", "/assets/app.js"] {
        let response = app.client.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.starts_with("default-src 'none'; script-src 'self';"), "{path}: {csp}");
        let etag = response.headers()["etag"].clone();
        let again = app.client.request(Method::GET, path).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}: an unchanged file is not sent again");
    }
    let index = app.client.request(Method::GET, "/").send().await.unwrap();
    assert!(index.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(index.text().await.unwrap().contains(r#"<script type="module" src="/assets/app.js"></script>"#));
    // Hostile names: nothing outside the app's own files, however the path is spelled.
    for path in ["/assets/..%2F..%2FCargo.toml", "/assets/..%2Findex.html", "/assets/.hidden", "/assets/a%5Cb.js"] {
        let response = app.client.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "not_found:api", "{path}");
    }

    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.web_app = false;
    let api_only = TestApp::spawn_with(config, Some(dir)).await;
    for path in ["/", "/assets/app.js"] {
        let response = api_only.client.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path} with the web app off");
    }
}

#[tokio::test]
async fn malformed_input_is_a_clear_4xx_never_a_500() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ada.create_chat(&Default::default()).await.unwrap();
    let raw = |method: Method, path: &str| ada.request(method, path);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            raw(Method::POST, "/api/v1/auth/login").header("content-type", "application/json").body("{not json"),
            400,
            "bad_request:api",
        ),
        (
            raw(Method::POST, "/api/v1/auth/login").body(r#"{"email":"a@b.co","password":"x"}"#),
            415,
            "unsupported_media_type:api",
        ),
        (
            raw(Method::POST, "/api/v1/auth/login").header("content-type", "text/plain").body("{}"),
            415,
            "unsupported_media_type:api",
        ),
        (
            raw(Method::POST, "/api/v1/auth/login").json(&serde_json::json!({"email": 1, "password": true})),
            400,
            "bad_request:api",
        ),
        (raw(Method::POST, "/api/v1/auth/login").json(&serde_json::json!([1, 2])), 400, "bad_request:api"),
        (raw(Method::POST, "/api/v1/auth/register").json(&serde_json::json!({})), 400, "bad_request:api"),
        (
            raw(Method::POST, "/api/v1/chats").json(&serde_json::json!({"visibility": "everyone"})),
            400,
            "bad_request:api",
        ),
        (raw(Method::POST, "/api/v1/chats").json(&serde_json::json!({"title": ["x"]})), 400, "bad_request:api"),
        (raw(Method::POST, "/api/v1/chats").json(&serde_json::json!({"id": "123"})), 400, "bad_request:api"),
        (
            raw(Method::PATCH, &format!("/api/v1/chats/{}", chat.id)).json(&serde_json::json!({"userId": "x"})),
            400,
            "bad_request:api",
        ),
        (raw(Method::GET, "/api/v1/chats/not-a-uuid"), 400, "bad_request:api"),
        (raw(Method::GET, "/api/v1/chats/00000000-0000-0000-0000-00000000000g"), 400, "bad_request:api"),
        (raw(Method::DELETE, "/api/v1/files/%00"), 400, "bad_request:api"),
        (raw(Method::GET, "/api/v1/documents/..%2F..%2Fetc"), 400, "bad_request:api"),
        (
            raw(Method::PUT, &format!("/api/v1/chats/{}/messages/x/vote", chat.id))
                .json(&serde_json::json!({"type": "up"})),
            400,
            "bad_request:api",
        ),
    ];
    for (i, (request, status, code)) in cases.into_iter().enumerate() {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "case {i}");
        let body: serde_json::Value = response.json().await.unwrap_or_else(|e| panic!("case {i}: not JSON: {e}"));
        assert_eq!(body["code"], code, "case {i}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "case {i}");
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.max_body_bytes = 4096;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let response = ada
        .request(Method::POST, "/api/v1/chats")
        .json(&serde_json::json!({"title": "x".repeat(10_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large:api");
}

#[tokio::test]
async fn rate_limits_count_per_group_and_say_when_they_reset() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.rate_limit.auth_per_minute = 3;
    config.rate_limit.api_per_minute = 5;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    for attempt in 0..3 {
        let response = app
            .client
            .request(Method::POST, "/api/v1/auth/login")
            .json(&serde_json::json!({"email": "x@example.com", "password": "guess guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "attempt {attempt}");
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(response.headers()["x-ratelimit-remaining"], (2 - attempt).to_string().as_str());
    }
    let blocked = app
        .client
        .request(Method::POST, "/api/v1/auth/login")
        .json(&serde_json::json!({"email": "x@example.com", "password": "guess guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429);
    let retry_after: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(blocked.headers()["x-ratelimit-remaining"], "0");
    let reset: u64 = blocked.headers()["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(reset >= now && reset <= now + 61);
    let body: serde_json::Value = blocked.json().await.unwrap();
    assert_eq!(body["code"], "rate_limit:api");
    // Guest sign-up shares the auth group; health is never limited.
    assert_eq!(app.client.request(Method::POST, "/api/v1/auth/guest").send().await.unwrap().status(), 429);
    assert_eq!(app.client.request(Method::GET, "/health").send().await.unwrap().status(), 200);
    // The general API group has its own budget.
    for _ in 0..5 {
        assert_eq!(app.client.request(Method::GET, "/api/v1/chats").send().await.unwrap().status(), 401);
    }
    assert_eq!(app.client.request(Method::GET, "/api/v1/chats").send().await.unwrap().status(), 429);
}

#[tokio::test]
async fn cors_allows_only_configured_origins_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.cors_origins = vec!["https://app.example".into()];
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, "/api/v1/chats")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    assert!(!allowed.headers().contains_key("access-control-allow-credentials"));
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(!denied.headers().contains_key("access-control-allow-origin"), "never reflected");

    let default_app = TestApp::spawn().await;
    let response = default_app
        .client
        .request(Method::GET, "/health")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("access-control-allow-origin"), "no CORS unless configured");
}

#[tokio::test]
async fn request_ids_are_generated_or_kept() {
    let app = TestApp::spawn().await;
    let generated = app.client.request(Method::GET, "/health").send().await.unwrap();
    assert_eq!(generated.headers()["x-request-id"].len(), 36);
    let kept = app.client.request(Method::GET, "/health").header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn ephemeral_mode_keeps_everything_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().join("never-created"));
    config.ephemeral = true;
    config.database.url = None;
    config.redis.url = None;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let backends: Vec<_> = app.client.health().await.unwrap().adapters.into_iter().map(|a| a.backend).collect();
    assert_eq!(backends[..5], ["sqlite (in memory)", "memory", "memory", "memory", "memory (this process)"]);
    let (ada, _) = app.user().await;
    ada.upload_file("a.png", "image/png", alleato_e2e::PNG, None).await.unwrap();
    assert!(!app.config.data_dir.exists(), "nothing written to disk");
}
