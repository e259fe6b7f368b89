//! Registration, login, guests, sessions and revocation.

use alleato_e2e::{TestApp, assert_api_error, uuid_like};
use alleato_sdk::api::UserKind;

#[tokio::test]
async fn register_returns_the_user_without_secrets_and_a_working_token() {
    let app = TestApp::spawn().await;
    let email = format!("Ada-{}@Example.COM", uuid_like());
    let response = app
        .client
        .request(reqwest::Method::POST, "/api/v1/auth/register")
        .json(&serde_json::json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let user = body["user"].as_object().unwrap();
    let mut keys: Vec<_> = user.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["createdAt", "email", "id", "type"], "no password or hash in the user");
    assert_eq!(user["email"], email.to_lowercase(), "emails are normalised");
    assert_eq!(user["type"], "regular");
    let token = body["token"].as_str().unwrap();
    let me = app.client.with_token(token).me().await.unwrap();
    assert_eq!(me.email, email.to_lowercase());
}

#[tokio::test]
async fn duplicate_emails_conflict_whatever_their_case() {
    let app = TestApp::spawn().await;
    let email = format!("dup-{}@example.com", uuid_like());
    app.client.register(&email, "correct horse battery").await.unwrap();
    assert_api_error(app.client.register(&email.to_uppercase(), "another password").await, 409, "conflict:auth");
}

#[tokio::test]
async fn registration_checks_email_and_password() {
    let app = TestApp::spawn().await;
    assert_api_error(app.client.register("not-an-email", "correct horse battery").await, 400, "bad_request:auth");
    assert_api_error(app.client.register("a@example.com", "short").await, 400, "bad_request:auth");
    assert_api_error(app.client.register("a@example.com", &"x".repeat(200)).await, 400, "bad_request:auth");
}

#[tokio::test]
async fn login_accepts_the_right_password_only_and_says_nothing_about_which_part_was_wrong() {
    let app = TestApp::spawn().await;
    let email = format!("login-{}@example.com", uuid_like());
    app.client.register(&email, "correct horse battery").await.unwrap();
    let session = app.client.login(&email.to_uppercase(), "correct horse battery").await.unwrap();
    assert_eq!(session.user.email, email);
    let wrong_password = app.client.login(&email, "wrong horse battery").await.unwrap_err();
    let unknown_email = app.client.login("nobody@example.com", "correct horse battery").await.unwrap_err();
    assert_eq!(wrong_password.status(), Some(401));
    assert_eq!(wrong_password.to_string(), unknown_email.to_string(), "same answer for both");
    assert_api_error(app.client.login("not an email", "whatever1").await, 401, "unauthorized:auth");
}

#[tokio::test]
async fn guests_get_a_session_but_cannot_log_in() {
    let app = TestApp::spawn().await;
    let response = app.client.request(reqwest::Method::POST, "/api/v1/auth/guest").send().await.unwrap();
    assert_eq!(response.status(), 201);
    let (guest, session) = app.guest().await;
    assert_eq!(session.user.kind, UserKind::Guest);
    assert_eq!(guest.me().await.unwrap().id, session.user.id);
    assert_api_error(app.client.login(&session.user.email, "anything at all").await, 401, "unauthorized:auth");
}

#[tokio::test]
async fn requests_without_valid_credentials_are_unauthorized() {
    let app = TestApp::spawn().await;
    assert_api_error(app.client.me().await, 401, "unauthorized:auth");
    assert_api_error(app.client.with_token("garbage").me().await, 401, "unauthorized:auth");
    let (_, session) = app.user().await;
    // Same claims, another signature.
    let mut forged = session.token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_api_error(app.client.with_token(&forged).me().await, 401, "unauthorized:auth");
    let response = app
        .client
        .request(reqwest::Method::GET, "/api/v1/auth/me")
        .header("authorization", format!("Basic {}", session.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn logout_revokes_that_token_at_once_and_only_that_one() {
    let app = TestApp::spawn().await;
    let email = format!("out-{}@example.com", uuid_like());
    let first = app.client.register(&email, "correct horse battery").await.unwrap();
    let second = app.client.login(&email, "correct horse battery").await.unwrap();
    let a = app.client.with_token(&first.token);
    let b = app.client.with_token(&second.token);
    assert!(a.logout().await.unwrap().success);
    assert_api_error(a.me().await, 401, "unauthorized:auth");
    assert_api_error(a.list_chats(&Default::default()).await, 401, "unauthorized:auth");
    assert_eq!(b.me().await.unwrap().id, first.user.id, "the other session lives on");
}
