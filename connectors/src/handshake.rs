//! Meta's subscription handshake: when a webhook is set up, Meta calls it with
//! `GET ?hub.mode=subscribe&hub.verify_token=<token>&hub.challenge=<n>` and expects the
//! challenge back, as the whole body, only if the token is the one configured.

use routing_core::Channel;
use thiserror::Error;

/// Whether the channel's provider subscribes its webhook with this handshake: Meta's products.
pub fn applies_to(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::Whatsapp | Channel::Messenger | Channel::InstagramDm
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    #[error("hub.mode must be 'subscribe'")]
    NotSubscribe,
    #[error("hub.verify_token does not match the connector's verify token")]
    WrongToken,
    #[error("hub.challenge is missing")]
    NoChallenge,
}

/// The body to answer a subscription check with: the challenge, if the token matches.
pub fn answer(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Result<String, HandshakeError> {
    if mode != Some("subscribe") {
        return Err(HandshakeError::NotSubscribe);
    }
    // Compared in full whatever the lengths: the token is a shared secret.
    let given = token.unwrap_or_default().as_bytes();
    let expected = expected_token.as_bytes();
    let mut differ = given.len() ^ expected.len();
    for (n, byte) in expected.iter().enumerate() {
        differ |= usize::from(given.get(n).copied().unwrap_or(0) ^ byte);
    }
    if differ != 0 || expected.is_empty() {
        return Err(HandshakeError::WrongToken);
    }
    let challenge = challenge.ok_or(HandshakeError::NoChallenge)?;
    Ok(challenge.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_comes_back_only_for_the_right_token() {
        assert_eq!(
            answer(
                Some("subscribe"),
                Some("t0ken"),
                Some("1158201444"),
                "t0ken"
            ),
            Ok("1158201444".to_owned())
        );
        assert_eq!(
            answer(Some("subscribe"), Some("t0ke"), Some("1"), "t0ken"),
            Err(HandshakeError::WrongToken)
        );
        assert_eq!(
            answer(Some("subscribe"), None, Some("1"), "t0ken"),
            Err(HandshakeError::WrongToken)
        );
        assert_eq!(
            answer(Some("unsubscribe"), Some("t0ken"), Some("1"), "t0ken"),
            Err(HandshakeError::NotSubscribe)
        );
        assert_eq!(
            answer(Some("subscribe"), Some("t0ken"), None, "t0ken"),
            Err(HandshakeError::NoChallenge)
        );
    }
}
