//! Sessions in Workers KV shared by two instances (D1 and Workers KV through Cloudflare's
//! simulator). Each instance serves a session it has read from memory for `kv_cache_secs`, and
//! Workers KV itself takes up to a minute or more to show a delete elsewhere; a logout must
//! still reach the other instance within `logout_poll_secs`, through the database.

use std::time::{Duration, Instant};

use alleato_e2e::{TestApp, assert_api_error, test_config, uuid_like};
use alleato_server::config::{Config, Secret};

fn instance_config(dir: &std::path::Path, database: &str) -> Config {
    let mut config = test_config(dir.to_path_buf());
    config.cloudflare.d1_database_id = Some(database.into());
    config.auth.jwt_secret = Some(Secret::new("shared-secret-for-both-instances-0123456789"));
    // Far longer than the poll: without it, the other instance would accept the session for
    // ten minutes after the logout.
    config.cloudflare.kv_cache_secs = 600;
    config.cloudflare.logout_poll_secs = 1;
    config
}

#[tokio::test]
async fn a_logout_reaches_another_instance_within_the_poll() {
    if !alleato_e2e::stack_cloudflare_api() {
        return; // only there do two instances share an eventually consistent session store
    }
    let database = uuid_like();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestApp::spawn_with(instance_config(dir_a.path(), &database), Some(dir_a)).await;
    let b = TestApp::spawn_with(instance_config(dir_b.path(), &database), Some(dir_b)).await;
    let (on_a, session) = a.user().await;
    let on_b = b.client.with_token(&session.token);
    assert_eq!(on_b.me().await.unwrap().id, session.user.id, "B has read the session (and keeps it in memory)");

    on_a.logout().await.unwrap();
    assert_api_error(on_a.me().await, 401, "unauthorized:auth");
    let logged_out = Instant::now();
    loop {
        match on_b.me().await {
            Err(err) if err.status() == Some(401) => break,
            Ok(_) => assert!(
                logged_out.elapsed() < Duration::from_secs(5),
                "B still accepts the session {:?} after the logout (poll: 1 s)",
                logged_out.elapsed()
            ),
            Err(other) => panic!("unexpected error on B: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_api_error(on_b.me().await, 401, "unauthorized:auth");
}
