//! Shared access signature tokens (reference §1.5) and DPS derived device keys (reference §2.2).
//!
//! **Token.** `SharedAccessSignature sr={sr}&sig={sig}&se={se}[&skn={policy}]` where
//! `sr` is the URL-encoding of the lower-cased resource URI, the string to sign is
//! `sr + "\n" + se`, the key is the base64-decoded shared key, the MAC is HMAC-SHA256, and
//! `sig` is the URL-encoded base64 of the MAC. `se` is the expiry in seconds since the Unix
//! epoch. `skn` is present for policy keys (DPS uses `registration`, reference §2.1) and
//! omitted for a device's own key. Field order is not significant when parsing.
//!
//! **Derived key.** `base64(HMAC-SHA256(key = base64decode(groupKey), msg = registrationId))`.
//!
//! **Verification** refuses, in this order: a malformed token, a resource the token does not
//! cover (prefix match by path segment, §1.5), an expired token, a bad signature. Signatures
//! are compared in constant time (`hmac`'s `verify_slice`), as a real service would.

use crate::props::{url_decode, url_encode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Symmetric keys must be 16..=64 bytes (reference §2.2).
pub const KEY_LEN_MIN: usize = 16;
pub const KEY_LEN_MAX: usize = 64;

/// A key or token could not be used (bad input, not a refusal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    #[error("symmetric key is not valid base64: `{0}`")]
    KeyNotBase64(String),
    #[error("symmetric key is {0} bytes; expected {KEY_LEN_MIN}..={KEY_LEN_MAX} (reference §2.2)")]
    KeyLength(usize),
}

/// Why a service refused a token. Each is counted separately by the hub and DPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SasRefusal {
    Malformed,
    WrongResource,
    Expired,
    BadSignature,
}

impl SasRefusal {
    pub const ALL: [SasRefusal; 4] = [
        SasRefusal::Malformed,
        SasRefusal::WrongResource,
        SasRefusal::Expired,
        SasRefusal::BadSignature,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SasRefusal::Malformed => "malformed",
            SasRefusal::WrongResource => "wrong_resource",
            SasRefusal::Expired => "expired",
            SasRefusal::BadSignature => "bad_signature",
        }
    }
}

/// Decodes a base64 symmetric key and checks its length.
pub fn decode_key(key_b64: &str) -> Result<Vec<u8>, SasError> {
    let key = B64
        .decode(key_b64)
        .map_err(|_| SasError::KeyNotBase64(key_b64.to_string()))?;
    if !(KEY_LEN_MIN..=KEY_LEN_MAX).contains(&key.len()) {
        return Err(SasError::KeyLength(key.len()));
    }
    Ok(key)
}

fn mac(key: &[u8], msg: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    m.update(msg);
    m
}

/// The raw 32-byte device key derived from a group key (reference §2.2).
pub fn derive_device_key_bytes(group_key: &[u8], registration_id: &str) -> [u8; 32] {
    mac(group_key, registration_id.as_bytes())
        .finalize()
        .into_bytes()
        .into()
}

/// The base64 device key derived from a base64 group key (reference §2.2).
pub fn derive_device_key(group_key_b64: &str, registration_id: &str) -> Result<String, SasError> {
    let group = decode_key(group_key_b64)?;
    Ok(B64.encode(derive_device_key_bytes(&group, registration_id)))
}

/// The fields of a parsed token. `sr` and `sig` are URL-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasToken {
    pub resource_uri: String,
    pub signature_b64: String,
    pub expiry_unix_s: u64,
    pub policy: Option<String>,
}

impl SasToken {
    /// Signs `resource_uri` with the raw `key` until `expiry_unix_s`, and formats the token.
    pub fn sign(
        resource_uri: &str,
        key: &[u8],
        expiry_unix_s: u64,
        policy: Option<&str>,
    ) -> String {
        let sr = url_encode(&resource_uri.to_ascii_lowercase());
        let to_sign = format!("{sr}\n{expiry_unix_s}");
        let sig = B64.encode(mac(key, to_sign.as_bytes()).finalize().into_bytes());
        let mut token = format!(
            "SharedAccessSignature sr={sr}&sig={}&se={expiry_unix_s}",
            url_encode(&sig)
        );
        if let Some(p) = policy {
            token.push_str("&skn=");
            token.push_str(&url_encode(p));
        }
        token
    }

    /// Parses a token in any field order.
    pub fn parse(token: &str) -> Result<SasToken, SasRefusal> {
        let rest = token
            .strip_prefix("SharedAccessSignature ")
            .ok_or(SasRefusal::Malformed)?;
        let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
        for field in rest.split('&') {
            let (k, v) = field.split_once('=').ok_or(SasRefusal::Malformed)?;
            let v = url_decode(v).map_err(|_| SasRefusal::Malformed)?;
            let slot = match k {
                "sr" => &mut sr,
                "sig" => &mut sig,
                "se" => &mut se,
                "skn" => &mut skn,
                _ => return Err(SasRefusal::Malformed),
            };
            if slot.replace(v).is_some() {
                return Err(SasRefusal::Malformed);
            }
        }
        let expiry_unix_s = se
            .ok_or(SasRefusal::Malformed)?
            .parse()
            .map_err(|_| SasRefusal::Malformed)?;
        Ok(SasToken {
            resource_uri: sr.ok_or(SasRefusal::Malformed)?,
            signature_b64: sig.ok_or(SasRefusal::Malformed)?,
            expiry_unix_s,
            policy: skn,
        })
    }

    /// Checks `token` for a request on `resource_uri` at `now_unix_s` against the raw `key`.
    pub fn verify(
        token: &str,
        resource_uri: &str,
        key: &[u8],
        now_unix_s: u64,
    ) -> Result<SasToken, SasRefusal> {
        let t = SasToken::parse(token)?;
        if !covers(&t.resource_uri, resource_uri) {
            return Err(SasRefusal::WrongResource);
        }
        if t.expiry_unix_s <= now_unix_s {
            return Err(SasRefusal::Expired);
        }
        let sig = B64
            .decode(&t.signature_b64)
            .map_err(|_| SasRefusal::Malformed)?;
        // The signed string uses the URL-encoded form of `sr` as it was sent.
        let to_sign = format!("{}\n{}", url_encode(&t.resource_uri), t.expiry_unix_s);
        mac(key, to_sign.as_bytes())
            .verify_slice(&sig)
            .map_err(|_| SasRefusal::BadSignature)?;
        Ok(t)
    }
}

/// Whether a token for `granted` covers a request on `requested`: a case-insensitive prefix
/// match by whole path segment (reference §1.5: `/a/b` covers `/a/b/c`, not `/a/bc`).
pub fn covers(granted: &str, requested: &str) -> bool {
    let (g, r) = (granted.as_bytes(), requested.as_bytes());
    if r.len() < g.len() || !r[..g.len()].eq_ignore_ascii_case(g) {
        return false;
    }
    r.len() == g.len() || r[g.len()] == b'/' || g.last() == Some(&b'/')
}

/// The hub resource URI of a device: `{host}/devices/{deviceId}` (reference §1.5).
pub fn device_resource_uri(host: &str, device_id: &str) -> String {
    format!("{host}/devices/{device_id}")
}

/// The DPS resource URI of a registration: `{idScope}/registrations/{registrationId}` (§2.2).
pub fn dps_resource_uri(id_scope: &str, registration_id: &str) -> String {
    format!("{id_scope}/registrations/{registration_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_derived_key_example_holds() {
        // Reference §2.2: the worked example of the symmetric-key attestation doc.
        let group = "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==";
        let key = derive_device_key(group, "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6").unwrap();
        assert_eq!(key, "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=");
    }

    #[test]
    fn segment_prefix_matching_covers_children_only() {
        assert!(covers("h/devices/a", "h/devices/a"));
        assert!(covers("h/devices/a", "h/devices/a/messages/events"));
        assert!(!covers("h/devices/a", "h/devices/ab"));
        assert!(covers("H/Devices/A", "h/devices/a"));
    }

    #[test]
    fn keys_outside_16_to_64_bytes_are_refused() {
        assert_eq!(
            decode_key(&B64.encode([0u8; 8])),
            Err(SasError::KeyLength(8))
        );
        assert!(matches!(
            decode_key("not base64!"),
            Err(SasError::KeyNotBase64(_))
        ));
    }
}
