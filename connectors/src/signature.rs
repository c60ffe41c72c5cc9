//! Providers sign each webhook call with an HMAC-SHA256 of its raw body: Meta (WhatsApp,
//! Messenger, Instagram) with the app secret, in `X-Hub-Signature-256: sha256=<hex>`; Viber with
//! the bot's token, in `X-Viber-Content-Signature: <hex>`. A signature is checked before the
//! body is read at all, and compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("the request carries no {0} header")]
    Missing(&'static str),
    #[error("the {0} header is not a hexadecimal SHA-256 signature")]
    Malformed(&'static str),
    #[error("the {0} signature does not match the body")]
    Mismatch(&'static str),
}

pub const META_HEADER: &str = "x-hub-signature-256";
pub const VIBER_HEADER: &str = "x-viber-content-signature";

/// Checks Meta's `X-Hub-Signature-256` (`sha256=` then hex) against the body and app secret.
pub fn verify_meta(
    app_secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let value = header.ok_or(SignatureError::Missing("X-Hub-Signature-256"))?;
    let hex = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed("X-Hub-Signature-256"))?;
    verify(app_secret, hex, body, "X-Hub-Signature-256")
}

/// Checks Viber's `X-Viber-Content-Signature` (hex) against the body and the bot's token.
pub fn verify_viber(token: &[u8], header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let value = header.ok_or(SignatureError::Missing("X-Viber-Content-Signature"))?;
    verify(token, value.trim(), body, "X-Viber-Content-Signature")
}

fn verify(
    key: &[u8],
    hex_signature: &str,
    body: &[u8],
    header: &'static str,
) -> Result<(), SignatureError> {
    let expected = hex::decode(hex_signature).map_err(|_| SignatureError::Malformed(header))?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed(header));
    }
    let mut mac = mac(key);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch(header))
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// The hex HMAC-SHA256 of `body` under `key`: what a provider would send. For tests and for
/// tools that replay a provider's calls.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = mac(key);
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_made_with_the_secret_passes_and_any_other_fails() {
        let body = br#"{"object":"page"}"#;
        let good = format!("sha256={}", sign(b"secret", body));
        assert_eq!(verify_meta(b"secret", Some(&good), body), Ok(()));
        assert_eq!(
            verify_meta(b"other", Some(&good), body),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_meta(b"secret", Some(&good), b"{\"object\":\"pagE\"}"),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_meta(b"secret", None, body),
            Err(SignatureError::Missing("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_meta(b"secret", Some(&sign(b"secret", body)), body),
            Err(SignatureError::Malformed("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_meta(b"secret", Some("sha256=zz"), body),
            Err(SignatureError::Malformed("X-Hub-Signature-256"))
        );
        let viber = sign(b"token", body);
        assert_eq!(verify_viber(b"token", Some(&viber), body), Ok(()));
        assert_eq!(
            verify_viber(b"token", Some(&viber[..62]), body),
            Err(SignatureError::Malformed("X-Viber-Content-Signature"))
        );
    }
}
