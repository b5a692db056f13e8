//! Who may act for an agent: the checks the agent API runs before it hands out an action
//! or records a report. Pure functions over the request's peer, its metadata and what the
//! [`crate::index::AgentIndex`] knows; no I/O.
//!
//! | mode ([`AuthMode`]) | a call for agent (worker) `W` is accepted when |
//! |---|---|
//! | `token` (default) | it comes from an address of the Hardware that owns `W` (the MAC `W`, or the Workflow's `hardwareRef`) **and** carries the Workflow's token as `authorization: Bearer <token>` |
//! | `address` | it comes from an address of that Hardware (a stock tink-worker, which cannot send the token) |
//! | `none` | always (machines behind NAT); documented as unsafe on a shared network |
//!
//! The client address is the TCP peer or, when the peer is in `--agent-trusted-proxies`,
//! what it names in the `x-forwarded-for` metadata, walked as Hegel does (see
//! [`ironbell_metadata::client`]; the same code). Tokens are compared in constant time
//! ([`subtle`]).

use std::net::IpAddr;
use std::str::FromStr;

use ironbell_metadata::client::{Cidr, canonical, client_ip as forwarded_client};
use subtle::ConstantTimeEq;
use tonic::Status;
use tonic::metadata::MetadataMap;

/// How agents prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// The Hardware's address and the Workflow's token.
    #[default]
    Token,
    /// The Hardware's address only.
    Address,
    /// No check at all.
    None,
}

impl FromStr for AuthMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "token" => Ok(Self::Token),
            "address" => Ok(Self::Address),
            "none" => Ok(Self::None),
            other => Err(format!(
                "agent auth mode {other:?} is not one of token, address, none"
            )),
        }
    }
}

impl std::fmt::Display for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Token => "token",
            Self::Address => "address",
            Self::None => "none",
        })
    }
}

/// The agent-authentication settings of the agent API.
#[derive(Debug, Clone, Default)]
pub struct AgentAuth {
    /// The mode.
    pub mode: AuthMode,
    /// Peers allowed to name their client in `x-forwarded-for`.
    pub trusted_proxies: Vec<Cidr>,
}

/// The metadata key a trusted proxy names its client in.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client of a call from `peer` with `metadata` (see the module documentation).
pub fn client_ip(peer: IpAddr, metadata: &MetadataMap, trusted: &[Cidr]) -> IpAddr {
    if trusted.is_empty() {
        return canonical(peer);
    }
    forwarded_client(peer, &metadata.clone().into_headers(), trusted)
}

/// The bearer token of a call, if it carries one (`authorization: Bearer <token>`).
pub fn bearer(metadata: &MetadataMap) -> Option<&str> {
    let value = metadata.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether `presented` equals `expected`, in time independent of where they differ.
pub fn token_matches(expected: &str, presented: &str) -> bool {
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// Checks a call for `agent` from `client` against the addresses of its Hardware
/// (`allowed`) and, in token mode, the Workflow's token (`expected`; `None` when the
/// Workflow has none yet). `Ok` or the gRPC status to refuse with.
pub fn authorize(
    mode: AuthMode,
    agent: &str,
    client: IpAddr,
    allowed: &[IpAddr],
    expected: Option<&str>,
    presented: Option<&str>,
) -> Result<(), Status> {
    if mode == AuthMode::None {
        return Ok(());
    }
    let client = canonical(client);
    if !allowed.iter().any(|a| canonical(*a) == client) {
        return Err(Status::permission_denied(format!(
            "agent {agent} is served only at its Hardware's address; this call came from {client}"
        )));
    }
    if mode == AuthMode::Address {
        return Ok(());
    }
    match (expected, presented) {
        (None, _) => Err(Status::unauthenticated(format!(
            "the workflow of agent {agent} has no agent token yet"
        ))),
        (Some(_), None) => Err(Status::unauthenticated(format!(
            "agent {agent}: no `authorization: Bearer` token (the agent reads it from \
             ironbell_token= on the kernel command line)"
        ))),
        (Some(e), Some(p)) if token_matches(e, p) => Ok(()),
        (Some(_), Some(_)) => Err(Status::unauthenticated(format!(
            "agent {agent}: wrong agent token"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic::metadata::MetadataValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    const AGENT: &str = "02:00:00:00:00:01";

    #[test]
    fn address_check() {
        let allowed = [ip("10.0.0.5")];
        for mode in [AuthMode::Address, AuthMode::Token] {
            let e = authorize(mode, AGENT, ip("10.0.0.9"), &allowed, Some("t"), Some("t"))
                .expect_err("wrong address");
            assert_eq!(e.code(), Code::PermissionDenied, "{mode}");
            assert!(e.message().contains("10.0.0.9"), "{}", e.message());
            // No Hardware at all: nobody is the machine.
            let e = authorize(mode, AGENT, ip("10.0.0.5"), &[], Some("t"), Some("t"))
                .expect_err("no hardware");
            assert_eq!(e.code(), Code::PermissionDenied);
        }
        // An IPv4-mapped peer is its IPv4 address.
        authorize(
            AuthMode::Address,
            AGENT,
            ip("::ffff:10.0.0.5"),
            &allowed,
            None,
            None,
        )
        .expect("mapped");
    }

    #[test]
    fn token_check() {
        let allowed = [ip("10.0.0.5")];
        let at = |expected, presented| {
            authorize(
                AuthMode::Token,
                AGENT,
                ip("10.0.0.5"),
                &allowed,
                expected,
                presented,
            )
        };
        at(Some("abc"), Some("abc")).expect("right token");
        for (e, p) in [
            (Some("abc"), None),
            (Some("abc"), Some("abd")),
            (Some("abc"), Some("ab")),
            (None, Some("abc")),
        ] {
            assert_eq!(
                at(e, p).expect_err("refused").code(),
                Code::Unauthenticated,
                "{e:?} {p:?}"
            );
        }
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abcd"));
        assert!(!token_matches("", "x"));
    }

    #[test]
    fn opt_out_modes() {
        // address: the token is not needed.
        authorize(
            AuthMode::Address,
            AGENT,
            ip("10.0.0.5"),
            &[ip("10.0.0.5")],
            Some("t"),
            None,
        )
        .expect("address mode ignores the token");
        // none: anything goes.
        authorize(AuthMode::None, AGENT, ip("192.0.2.1"), &[], None, None).expect("none");
        assert_eq!("token".parse::<AuthMode>(), Ok(AuthMode::Token));
        assert_eq!("address".parse::<AuthMode>(), Ok(AuthMode::Address));
        assert_eq!("none".parse::<AuthMode>(), Ok(AuthMode::None));
        assert!("off".parse::<AuthMode>().is_err());
        assert_eq!(AuthMode::default(), AuthMode::Token);
    }

    #[test]
    fn bearer_and_trusted_proxy() {
        let mut md = MetadataMap::new();
        assert_eq!(bearer(&md), None);
        md.insert("authorization", MetadataValue::from_static("Bearer  abc "));
        assert_eq!(bearer(&md), Some("abc"));
        md.insert("authorization", MetadataValue::from_static("Basic abc"));
        assert_eq!(bearer(&md), None);

        let trusted: Vec<Cidr> = Cidr::parse_list("192.168.1.0/24").expect("cidr");
        md.insert(X_FORWARDED_FOR, MetadataValue::from_static("10.0.0.5"));
        // From a trusted proxy: the forwarded client.
        assert_eq!(client_ip(ip("192.168.1.2"), &md, &trusted), ip("10.0.0.5"));
        // From anyone else: the peer, whatever it claims.
        assert_eq!(client_ip(ip("10.0.0.9"), &md, &trusted), ip("10.0.0.9"));
        // Without trusted proxies the header is never read.
        assert_eq!(client_ip(ip("192.168.1.2"), &md, &[]), ip("192.168.1.2"));
        // A proxy forwarding a spoofed chain: the rightmost untrusted entry wins.
        md.insert(
            X_FORWARDED_FOR,
            MetadataValue::from_static("10.0.0.5, 10.0.0.66"),
        );
        assert_eq!(client_ip(ip("192.168.1.2"), &md, &trusted), ip("10.0.0.66"));
    }
}
