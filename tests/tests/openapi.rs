//! The OpenAPI document covers the whole API, and every operation it documents is routed.

use alleato_e2e::TestApp;
use reqwest::Method;

const EXPECTED: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/guest"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/users/me"),
    ("patch", "/api/v1/users/me"),
    ("put", "/api/v1/users/me"),
    ("delete", "/api/v1/users/me"),
    ("get", "/api/v1/chats"),
    ("post", "/api/v1/chats"),
    ("delete", "/api/v1/chats"),
    ("get", "/api/v1/chats/{id}"),
    ("patch", "/api/v1/chats/{id}"),
    ("delete", "/api/v1/chats/{id}"),
    ("get", "/api/v1/chats/{id}/votes"),
    ("put", "/api/v1/chats/{id}/messages/{message_id}/vote"),
    ("get", "/api/v1/documents"),
    ("post", "/api/v1/documents"),
    ("get", "/api/v1/documents/{id}"),
    ("delete", "/api/v1/documents/{id}"),
    ("delete", "/api/v1/documents/{id}/versions"),
    ("get", "/api/v1/documents/{id}/suggestions"),
    ("post", "/api/v1/documents/{id}/suggestions"),
    ("post", "/api/v1/documents/{id}/suggestions/{sid}/resolve"),
    ("post", "/api/v1/files/upload"),
    ("get", "/api/v1/files/{id}"),
    ("get", "/api/v1/files/{id}/content"),
    ("delete", "/api/v1/files/{id}"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/ping"),
    ("post", "/api/v1/chats/{id}/messages"),
    ("delete", "/api/v1/chats/{id}/messages"),
    ("get", "/api/v1/chats/{id}/stream"),
    ("post", "/api/v1/chats/{id}/stop"),
    ("post", "/api/v1/streams"),
    ("get", "/api/v1/streams/{id}"),
    ("delete", "/api/v1/streams/{id}"),
    ("post", "/api/v1/streams/{id}/append"),
    ("get", "/admin/stats"),
];

#[tokio::test]
async fn the_spec_documents_every_route_and_every_documented_route_exists() {
    let app = TestApp::spawn().await;
    let response = app.client.request(Method::GET, "/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let spec: serde_json::Value = response.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    assert!(spec["components"]["schemas"]["Chat"].is_object(), "wire types are described");

    let paths = spec["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.push((method.clone(), path.clone()));
                // Client generators name a function per operationId: each must be unique.
                let id =
                    operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
            }
        }
    }
    for (method, path) in EXPECTED {
        assert!(documented.contains(&(method.to_string(), path.to_string())), "{method} {path} is not documented");
    }
    assert_eq!(documented.len(), EXPECTED.len(), "nothing undocumented-yet-listed: {documented:?}");

    let (ada, _) = app.user().await;
    let id = "00000000-0000-7000-8000-000000000000";
    for (method, path) in documented {
        let concrete = path.replace("{id}", id).replace("{message_id}", id).replace("{sid}", id);
        let response = ada.request(method.to_uppercase().parse().unwrap(), &concrete).send().await.unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        assert_ne!(body["code"], "not_found:api", "{method} {path} is documented but not routed");
        assert!(status < 500, "{method} {path} answered {status}");
    }
}
