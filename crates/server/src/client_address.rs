//! Where a request came from, for throttling and per-source shares: the same rule for
//! every facade.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The client's address. Behind a proxy (`--trust-forwarded-for`), the last
/// `X-Forwarded-For` entry: the one our proxy added; earlier ones are the client's word.
/// Without a peer address (in-process tests), the unspecified address.
pub fn of(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|a| a.trim().parse::<IpAddr>().ok());
        if let Some(addr) = forwarded {
            return addr;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}
