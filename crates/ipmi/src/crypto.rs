//! The algorithms of cipher suites 3 and 17, and the session keys they derive.
//!
//! | suite | authentication (13.28) | integrity (13.28.4)      | confidentiality (13.29) |
//! |-------|------------------------|--------------------------|-------------------------|
//! | 3     | RAKP-HMAC-SHA1 (0x01)  | HMAC-SHA1-96 (0x01)      | AES-CBC-128 (0x01)      |
//! | 17    | RAKP-HMAC-SHA256 (0x03)| HMAC-SHA256-128 (0x04)   | AES-CBC-128 (0x01)      |
//!
//! (IPMI 2.0 section 22.15.2, table 22-20, lists the suites.)
//!
//! Key derivation (section 13.31 and 13.32):
//!
//! - `Kuid` is the user's password, zero-padded to 20 bytes. `Kg` (the BMC key) is not
//!   configured here, so `Kuid` stands in for it, as the spec prescribes when `Kg` is all
//!   zeros.
//! - `SIK = HMAC_Kg(Rm | Rc | RoleM | ULengthM | UNameM)`.
//! - `K1 = HMAC_SIK(0x01 x 20)` keys the integrity algorithm (the whole HMAC output is the
//!   key; the authcode is its first 12 bytes for SHA1-96 and 16 for SHA256-128).
//! - `K2 = HMAC_SIK(0x02 x 20)`; its first 16 bytes are the AES-CBC-128 key. The constants
//!   are 20 bytes for SHA256 too, as ipmitool and BMC firmware do.
//!
//! AES-CBC-128 payload (section 13.29, table 13-20): a 16-byte random IV, then the
//! encrypted `payload | pad (0x01, 0x02, ...) | pad length`, padded to a multiple of 16.

use aes::Aes128;
use cbc::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// The hash behind every HMAC of a cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    /// SHA-1 (20-byte output).
    Sha1,
    /// SHA-256 (32-byte output).
    Sha256,
}

/// HMAC's block size for SHA-1 and SHA-256; keys up to this length are zero-padded.
const BLOCK: usize = 64;

impl Hash {
    /// The HMAC output length.
    pub(crate) fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// HMAC of the concatenation of `parts` under `key`.
    pub(crate) fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // RFC 2104 zero-pads keys shorter than the block size, so padding here gives the
        // same MAC as any HMAC implementation and lets the constructor be infallible.
        let mut padded = [0u8; BLOCK];
        if key.len() > BLOCK {
            let digest = self.hash(key);
            padded[..digest.len()].copy_from_slice(&digest);
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        let key = Array::from(padded);
        match self {
            Self::Sha1 => {
                let mut mac = <Hmac<Sha1> as KeyInit>::new(&key);
                for p in parts {
                    mac.update(p);
                }
                mac.finalize().into_bytes().to_vec()
            }
            Self::Sha256 => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new(&key);
                for p in parts {
                    mac.update(p);
                }
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The keys of an active session.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    /// The hash of the integrity algorithm.
    pub(crate) hash: Hash,
    /// K1, the integrity key.
    pub(crate) k1: Vec<u8>,
    /// The authcode length (12 for HMAC-SHA1-96, 16 for HMAC-SHA256-128).
    pub(crate) authcode_len: usize,
    /// The AES-CBC-128 key (first 16 bytes of K2).
    pub(crate) aes_key: [u8; 16],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is as secret as the password it comes from.
        f.debug_struct("SessionKeys")
            .field("hash", &self.hash)
            .field("authcode_len", &self.authcode_len)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// Derives K1 and K2 from the session integrity key (13.32).
    pub(crate) fn derive(hash: Hash, sik: &[u8], authcode_len: usize) -> Self {
        let k1 = hash.hmac(sik, &[&[0x01; 20]]);
        let k2 = hash.hmac(sik, &[&[0x02; 20]]);
        let mut aes_key = [0u8; 16];
        aes_key.copy_from_slice(&k2[..16]);
        Self {
            hash,
            k1,
            authcode_len,
            aes_key,
        }
    }

    /// The integrity authcode of `data` (from the session header's auth type field through
    /// the next header field).
    pub(crate) fn authcode(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = self.hash.hmac(&self.k1, &[data]);
        mac.truncate(self.authcode_len);
        mac
    }

    /// Encrypts `plain` with a fresh random IV: returns `IV | ciphertext`.
    pub(crate) fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let mut iv = [0u8; 16];
        rand::fill(&mut iv);
        self.encrypt_with_iv(plain, iv)
    }

    /// Encrypts `plain` with the given IV (tests use a fixed one).
    pub(crate) fn encrypt_with_iv(&self, plain: &[u8], iv: [u8; 16]) -> Vec<u8> {
        let pad = (16 - (plain.len() + 1) % 16) % 16;
        let mut buf = Vec::with_capacity(16 + plain.len() + pad + 1);
        buf.extend_from_slice(&iv);
        buf.extend_from_slice(plain);
        buf.extend((1..=pad).map(|i| i as u8));
        buf.push(pad as u8);
        cbc_in_place(&self.aes_key, iv, &mut buf[16..], true);
        buf
    }

    /// Decrypts `IV | ciphertext` and strips the confidentiality trailer; `None` if the
    /// lengths or the pad are inconsistent.
    pub(crate) fn decrypt(&self, data: &[u8]) -> Option<Vec<u8>> {
        if data.len() < 32 || !data.len().is_multiple_of(16) {
            return None;
        }
        let (iv, ct) = data.split_at(16);
        let iv: [u8; 16] = iv.try_into().ok()?;
        let mut buf = ct.to_vec();
        cbc_in_place(&self.aes_key, iv, &mut buf, false);
        let pad = usize::from(*buf.last()?);
        if pad > 15 || pad + 1 > buf.len() {
            return None;
        }
        let body = buf.len() - pad - 1;
        // The pad bytes are 1, 2, 3, ... (table 13-20); a mismatch means a wrong key.
        if buf[body..body + pad]
            .iter()
            .enumerate()
            .any(|(i, b)| usize::from(*b) != i + 1)
        {
            return None;
        }
        buf.truncate(body);
        Some(buf)
    }
}

/// AES-128-CBC over whole blocks of `buf` (its length is a multiple of 16; a trailing
/// partial block, which callers never pass, would be left as is).
fn cbc_in_place(key: &[u8; 16], iv: [u8; 16], buf: &mut [u8], encrypt: bool) {
    if encrypt {
        let mut enc = cbc::Encryptor::<Aes128>::new(&(*key).into(), &iv.into());
        for chunk in buf.chunks_exact_mut(16) {
            if let Ok(block) = <&mut Array<u8, _>>::try_from(chunk) {
                enc.encrypt_block(block);
            }
        }
    } else {
        let mut dec = cbc::Decryptor::<Aes128>::new(&(*key).into(), &iv.into());
        for chunk in buf.chunks_exact_mut(16) {
            if let Ok(block) = <&mut Array<u8, _>>::try_from(chunk) {
                dec.decrypt_block(block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
            .collect()
    }

    #[test]
    fn hmac_matches_rfc_2202_and_4231() {
        // RFC 2202 test case 2 (HMAC-SHA1) and RFC 4231 test case 2 (HMAC-SHA256).
        assert_eq!(
            Hash::Sha1.hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
        assert_eq!(
            Hash::Sha256.hmac(b"Jefe", &[b"what do ya want for nothing?"]),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        // RFC 2202 test case 6: a key longer than the block size is hashed first.
        assert_eq!(
            Hash::Sha1.hmac(
                &[0xaa; 80],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            ),
            hex("aa4ae5e15272d00e95705637ce8a3b55ed402112")
        );
        // Zero padding of the key does not change the MAC (Kuid is the padded password).
        assert_eq!(
            Hash::Sha256.hmac(b"password", &[b"x"]),
            Hash::Sha256.hmac(b"password\0\0\0\0\0\0\0\0\0\0\0\0", &[b"x"])
        );
    }

    #[test]
    fn aes_cbc_matches_sp_800_38a() {
        // NIST SP 800-38A F.2.1 / F.2.2, CBC-AES128, first two blocks.
        let key: [u8; 16] = hex("2b7e151628aed2a6abf7158809cf4f3c")
            .try_into()
            .unwrap_or([0; 16]);
        let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f")
            .try_into()
            .unwrap_or([0; 16]);
        let plain = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let cipher = hex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
        let mut buf = plain.clone();
        cbc_in_place(&key, iv, &mut buf, true);
        assert_eq!(buf, cipher);
        cbc_in_place(&key, iv, &mut buf, false);
        assert_eq!(buf, plain);
        // As an IPMI payload, its last byte (0x51) is no valid pad length: refused.
        let mut keys = SessionKeys::derive(Hash::Sha1, b"sik", 12);
        keys.aes_key = key;
        let mut data = iv.to_vec();
        data.extend(&cipher);
        assert_eq!(keys.decrypt(&data), None);
    }

    #[test]
    fn confidentiality_trailer_round_trips() {
        let keys = SessionKeys::derive(Hash::Sha256, b"sik", 16);
        let iv = [7u8; 16];
        // 15 bytes + pad length 0 fill exactly one block.
        let one = keys.encrypt_with_iv(&[0xAB; 15], iv);
        assert_eq!(one.len(), 32);
        let mut raw = one[16..].to_vec();
        cbc_in_place(&keys.aes_key, iv, &mut raw, false);
        assert_eq!(raw[15], 0);
        // 3 bytes get pad 1..=12 and pad length 12.
        let three = keys.encrypt_with_iv(&[1, 2, 3], iv);
        let mut raw = three[16..].to_vec();
        cbc_in_place(&keys.aes_key, iv, &mut raw, false);
        assert_eq!(&raw[3..], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12]);
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let ct = keys.encrypt(&data);
            assert_eq!(ct.len() % 16, 0);
            assert_eq!(keys.decrypt(&ct), Some(data));
        }
        // Wrong sizes and a wrong key are refused, not panicked on.
        assert_eq!(keys.decrypt(&[0u8; 16]), None);
        assert_eq!(keys.decrypt(&[0u8; 33]), None);
        let other = SessionKeys::derive(Hash::Sha256, b"other", 16);
        assert_eq!(other.decrypt(&three), None);
    }
}
