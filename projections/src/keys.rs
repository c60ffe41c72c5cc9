//! API keys issued and revoked over the API, as the log records them: which digest opens which
//! key, and which keys (configured ones included) no longer open anything.
//!
//! Keys from the configuration file are not kept here: the file may change between runs, and a
//! snapshot must not bring back a key an operator removed. This view only answers lookups; it
//! never sees a secret and never decides what a role may do.

use crate::rfc3339;
use routing_core::access::{Role, SecretDigest};
use routing_core::{Event, EventKind, KeyId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A key issued over the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedKey {
    pub key: KeyId,
    pub name: String,
    pub role: Role,
    #[serde(with = "rfc3339")]
    pub issued_at: Timestamp,
    pub issued_by: KeyId,
}

/// When, and by whom, a key was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    #[serde(with = "rfc3339")]
    pub revoked_at: Timestamp,
    pub revoked_by: KeyId,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysView {
    /// Keyed by the digest of the secret: every request looks a key up by it.
    issued: BTreeMap<SecretDigest, IssuedKey>,
    revoked: BTreeMap<KeyId, Revocation>,
}

impl KeysView {
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::ApiKeyIssued(e) => {
                self.issued.insert(
                    e.secret_sha256.clone(),
                    IssuedKey {
                        key: e.key.clone(),
                        name: e.name.clone(),
                        role: e.role.clone(),
                        issued_at: event.at,
                        issued_by: e.issued_by.clone(),
                    },
                );
            }
            EventKind::ApiKeyRevoked(e) => {
                self.revoked.insert(
                    e.key.clone(),
                    Revocation {
                        revoked_at: event.at,
                        revoked_by: e.revoked_by.clone(),
                    },
                );
            }
            _ => {}
        }
    }

    /// The live issued key this digest opens, if any.
    pub fn issued_with(&self, digest: &SecretDigest) -> Option<&IssuedKey> {
        self.issued
            .get(digest)
            .filter(|key| !self.revoked.contains_key(&key.key))
    }

    /// Whether the key (configured or issued) was revoked, and how.
    pub fn revocation(&self, key: &KeyId) -> Option<&Revocation> {
        self.revoked.get(key)
    }

    /// Every key issued over the API, live or revoked, in id order.
    pub fn issued(&self) -> Vec<&IssuedKey> {
        let mut keys: Vec<_> = self.issued.values().collect();
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;
    use routing_core::event::{ApiKeyIssued, ApiKeyRevoked};

    fn digest(fill: char) -> SecretDigest {
        SecretDigest::try_from(fill.to_string().repeat(64)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_digest_opens_its_key_until_the_key_is_revoked() {
        let mut view = KeysView::default();
        view.apply(&at(
            10,
            ApiKeyIssued {
                key: KeyId::new("k-1"),
                name: "Dana".into(),
                role: Role::Auditor,
                secret_sha256: digest('a'),
                issued_by: KeyId::new("ops"),
            },
        ));
        assert_eq!(
            view.issued_with(&digest('a')).map(|k| k.key.as_str()),
            Some("k-1")
        );
        assert!(view.issued_with(&digest('b')).is_none());
        view.apply(&at(
            20,
            ApiKeyRevoked {
                key: KeyId::new("k-1"),
                revoked_by: KeyId::new("ops"),
            },
        ));
        assert!(view.issued_with(&digest('a')).is_none());
        assert_eq!(view.issued().len(), 1, "a revoked key is still listed");
        assert!(view.revocation(&KeyId::new("k-1")).is_some());
    }
}
