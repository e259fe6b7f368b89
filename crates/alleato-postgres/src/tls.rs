//! Plain TCP to a PostgreSQL server on this host, unless the URL or `PGSSLMODE` says otherwise.
//!
//! sqlx's default, like libpq's, is `sslmode=prefer`: TLS whenever the server offers it, as
//! Debian's stock configuration does. Over a loopback address TLS protects nothing (the bytes
//! never leave the host), and sqlx 0.9.0 opens its sockets without `TCP_NODELAY`
//! (transact-rs/sqlx#4335, fixed after 0.9.0): the handshake's small writes then wait on delayed
//! ACKs, about 90 ms per connection on this machine, most of the server's start-up time. A mode
//! named in the URL or in `PGSSLMODE` is always kept.

use std::net::IpAddr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// `options` parsed from `url`, with TLS off when the server is on this host and nobody chose
/// a mode.
pub(crate) fn plain_on_loopback(options: PgConnectOptions, url: &str) -> PgConnectOptions {
    if names_ssl_mode(url) || std::env::var_os("PGSSLMODE").is_some() || !is_loopback(options.get_host()) {
        return options;
    }
    options.ssl_mode(PgSslMode::Disable)
}

/// Whether the URL's query sets `sslmode` (or sqlx's spelling, `ssl-mode`).
fn names_ssl_mode(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else { return false };
    query.split('&').filter_map(|pair| pair.split('=').next()).any(|key| key == "sslmode" || key == "ssl-mode")
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_count() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.3.2.1", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["db.example.com", "10.0.0.5", "localhost.example.com", "/var/run/postgresql", ""] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_mode_in_the_url_is_noticed() {
        assert!(names_ssl_mode("postgres://u@127.0.0.1/db?sslmode=require"));
        assert!(names_ssl_mode("postgres://u@127.0.0.1/db?application_name=x&ssl-mode=verify-full"));
        assert!(!names_ssl_mode("postgres://u@127.0.0.1/db"));
        assert!(!names_ssl_mode("postgres://u@127.0.0.1/db?application_name=sslmode"));
    }

    #[test]
    fn tls_is_dropped_only_for_an_unchosen_mode_on_this_host() {
        if std::env::var_os("PGSSLMODE").is_some() {
            return; // the environment chose: nothing to decide here
        }
        let mode = |url: &str| plain_on_loopback(url.parse().unwrap(), url).get_ssl_mode();
        assert!(matches!(mode("postgres://u@127.0.0.1:5432/db"), PgSslMode::Disable));
        assert!(matches!(mode("postgres://u@localhost/db"), PgSslMode::Disable));
        assert!(matches!(mode("postgres://u@127.0.0.1/db?sslmode=require"), PgSslMode::Require));
        assert!(matches!(mode("postgres://u@db.example.com/db"), PgSslMode::Prefer));
    }
}
