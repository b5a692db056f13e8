//! IMDSv2 session tokens: stateless, HMAC-signed, bound to one client address.
//!
//! A token is `base64url(expiry || address) "." base64url(HMAC-SHA256(key, expiry ||
//! address))`: the expiry as seconds since the Unix epoch (8 bytes, big-endian), then the
//! client's address (4 or 16 bytes). The key is 64 random bytes drawn when the process
//! starts ([`TokenKey::random`]), so no table of issued tokens is kept, and tokens die with
//! the process (a client then gets 401 and asks for a new one, which is what cloud-init
//! does). A token presented from another address, after its expiry, or with a bad
//! signature is refused.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::client::canonical;

/// Header of `PUT /latest/api/token` giving the wanted lifetime in seconds.
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// Header carrying a token on metadata requests.
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Shortest lifetime a client may ask for, in seconds.
pub const MIN_TTL: u64 = 1;
/// Longest lifetime a client may ask for, in seconds (six hours, as EC2).
pub const MAX_TTL: u64 = 21_600;

const KEY_LEN: usize = 64;
const MAC_LEN: usize = 32;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not of the token format, or its signature does not match.
    #[error("the token is not valid")]
    Invalid,
    /// Issued to another client address.
    #[error("the token was issued to another client")]
    WrongClient,
    /// Past its lifetime.
    #[error("the token has expired")]
    Expired,
}

/// The signing key of the tokens of one process.
#[derive(Clone)]
pub struct TokenKey([u8; KEY_LEN]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::fill(&mut key);
        Self(key)
    }

    /// A fixed key, for tests.
    pub fn from_bytes(key: [u8; 64]) -> Self {
        Self(key)
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new(&self.0.into())
    }

    /// A token for `client`, valid for `ttl` from `now`.
    pub fn issue(&self, client: IpAddr, ttl: Duration, now: SystemTime) -> String {
        // Rounded up to the next whole second: a token lives at least `ttl`.
        let end = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(ttl);
        let expiry = end.as_secs() + u64::from(end.subsec_nanos() > 0);
        let mut payload = expiry.to_be_bytes().to_vec();
        match canonical(client) {
            IpAddr::V4(v4) => payload.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => payload.extend_from_slice(&v6.octets()),
        }
        let mut mac = self.mac();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks that `token` was issued by this key to `client` and has not expired at `now`.
    pub fn verify(&self, token: &str, client: IpAddr, now: SystemTime) -> Result<(), TokenError> {
        let (payload, tag) = token.trim().split_once('.').ok_or(TokenError::Invalid)?;
        // 8 + 16 bytes of payload and 32 of MAC: refuse anything longer before decoding.
        if payload.len() > 32 || tag.len() > 43 {
            return Err(TokenError::Invalid);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Invalid)?;
        if tag.len() != MAC_LEN {
            return Err(TokenError::Invalid);
        }
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
        let (expiry, addr) = payload.split_at_checked(8).ok_or(TokenError::Invalid)?;
        let expiry = u64::from_be_bytes(expiry.try_into().map_err(|_| TokenError::Invalid)?);
        let issued_to: IpAddr = match addr.len() {
            4 => <[u8; 4]>::try_from(addr)
                .map(IpAddr::from)
                .map_err(|_| TokenError::Invalid)?,
            16 => <[u8; 16]>::try_from(addr)
                .map(IpAddr::from)
                .map_err(|_| TokenError::Invalid)?,
            _ => return Err(TokenError::Invalid),
        };
        if issued_to != canonical(client) {
            return Err(TokenError::WrongClient);
        }
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if now >= expiry {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

/// The time tokens are issued and checked at: the system clock, or one that a test moves
/// forward ([`Clock::adjustable`], [`Clock::advance`]) so that it sees a token expire
/// without waiting for it.
#[derive(Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system clock; `None` for the system clock itself.
    ahead_ms: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock, plus what [`Clock::advance`] adds; clones share the offset.
    pub fn adjustable() -> Self {
        Self {
            ahead_ms: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Moves an adjustable clock forward by `by` (whole milliseconds); a system clock
    /// cannot be moved, and this does nothing to it.
    pub fn advance(&self, by: Duration) {
        if let Some(ahead) = &self.ahead_ms {
            let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
            ahead.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// The time now.
    pub fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        match &self.ahead_ms {
            None => now,
            Some(ahead) => now + Duration::from_millis(ahead.load(Ordering::Relaxed)),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ahead_ms {
            None => f.write_str("Clock::system"),
            Some(ahead) => write!(
                f,
                "Clock::adjustable(+{} ms)",
                ahead.load(Ordering::Relaxed)
            ),
        }
    }
}

/// Two clocks are equal when both are the system clock or both share one offset.
impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        match (&self.ahead_ms, &other.ahead_ms) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

/// Reads the `X-aws-ec2-metadata-token-ttl-seconds` value: a whole number of seconds from
/// [`MIN_TTL`] to [`MAX_TTL`].
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let secs: u64 = text.trim().parse().ok()?;
    (MIN_TTL..=MAX_TTL)
        .contains(&secs)
        .then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_and_verify() {
        let key = TokenKey::from_bytes([7; 64]);
        let other = TokenKey::from_bytes([8; 64]);
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a: IpAddr = "10.0.0.5".parse().expect("ip");
        let b: IpAddr = "10.0.0.6".parse().expect("ip");
        let t = key.issue(a, Duration::from_secs(60), now);
        assert_eq!(key.verify(&t, a, now), Ok(()));
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().expect("ip");
        assert_eq!(key.verify(&t, mapped, now), Ok(()));
        assert_eq!(key.verify(&t, b, now), Err(TokenError::WrongClient));
        assert_eq!(other.verify(&t, a, now), Err(TokenError::Invalid));
        assert_eq!(
            key.verify(&t, a, now + Duration::from_secs(60)),
            Err(TokenError::Expired)
        );
        let v6: IpAddr = "fd00::5".parse().expect("ip");
        let t6 = key.issue(v6, Duration::from_secs(1), now);
        assert_eq!(key.verify(&t6, v6, now), Ok(()));
        // Tampering with the payload breaks the signature.
        let forged = key.issue(b, Duration::from_secs(60), now);
        let (_, tag) = t.split_once('.').expect("dot");
        let (payload, _) = forged.split_once('.').expect("dot");
        assert_eq!(
            key.verify(&format!("{payload}.{tag}"), b, now),
            Err(TokenError::Invalid)
        );
        for junk in ["", ".", "abc", "a.b", &"A".repeat(5000), "é.é"] {
            assert_eq!(key.verify(junk, a, now), Err(TokenError::Invalid), "{junk}");
        }
    }

    #[test]
    fn ttl_bounds() {
        assert_eq!(parse_ttl("21600"), Some(Duration::from_secs(21600)));
        assert_eq!(parse_ttl(" 1 "), Some(Duration::from_secs(1)));
        for bad in [
            "0",
            "21601",
            "-1",
            "",
            "1.5",
            "x",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
    }
}
