//! Keys per data subject (a contact), kept apart from the log, for crypto-shredding: personal
//! data is stored encrypted under its subject's key, and deleting the key ("shredding") leaves
//! the log whole, its hash chain intact, and that data unreadable for ever.
//!
//! The embedded vault is its own redb file (`keys.redb`) beside the log's, so that it is backed
//! up, and destroyed, on its own; the PostgreSQL vault is its own table. Sealing uses
//! XChaCha20-Poly1305 (`chacha20poly1305`) with a random 192-bit nonce per message. This module
//! never logs a key and never keeps a shredded one in memory.

use crate::error::StoreError;
use crate::postgres::Location;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;
use tokio_postgres::{Client, NoTls};

/// The file the embedded vault lives in, beside the log's.
pub const FILE_NAME: &str = "keys.redb";

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("subject_keys");
const NONCE_BYTES: usize = 24;

/// One subject's key. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKey([u8; 32]);

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKey(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    #[error("no random numbers to draw a nonce or a key from: {0}")]
    NoRandomness(String),
    #[error("the sealed bytes were not made with this key and context, or were altered")]
    NotOpenable,
}

impl SubjectKey {
    /// A new random key.
    pub fn generate() -> Result<SubjectKey, SealError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| SealError::NoRandomness(e.to_string()))?;
        Ok(SubjectKey(key))
    }

    fn from_stored(bytes: &[u8]) -> Result<SubjectKey, StoreError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupt {
            position: 0,
            reason: "a subject key is not 32 bytes".into(),
        })?;
        Ok(SubjectKey(key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// `plaintext` encrypted and authenticated, bound to `context` (which must be given again to
    /// open it): a fresh nonce, then the ciphertext with its tag.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| SealError::NoRandomness(e.to_string()))?;
        let sealed = self
            .cipher()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::NotOpenable)?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// What [`SubjectKey::seal`] sealed, if this key and `context` sealed it.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_BYTES {
            return Err(SealError::NotOpenable);
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::NotOpenable)?;
        self.cipher()
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .map_err(|_| SealError::NotOpenable)
    }
}

/// Where subjects' keys are kept.
pub trait Vault: Clone + Send + Sync + 'static {
    /// The subject's key, made (and durably kept) now if it has none.
    fn key(&self, subject: &str) -> impl Future<Output = Result<SubjectKey, StoreError>> + Send;
    /// The subject's key, if it has one (none after it was shredded).
    fn find(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<SubjectKey>, StoreError>> + Send;
    /// Deletes the subject's key, durably; whether there was one.
    fn shred(&self, subject: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

fn storage(error: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(format!("key vault: {error}"))
}

fn no_randomness(error: SealError) -> StoreError {
    StoreError::Failed(format!("key vault: {error}"))
}

/// The embedded vault: a redb file of its own.
#[derive(Clone)]
pub struct EmbeddedVault {
    db: Arc<Database>,
}

impl EmbeddedVault {
    /// Opens (or creates) the vault in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
            path: dir.display().to_string(),
            source: Box::new(source),
        })?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|error| StoreError::Open {
            path: path.display().to_string(),
            source: Box::new(error),
        })?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(KEYS).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(storage)?
    }
}

impl Vault for EmbeddedVault {
    async fn key(&self, subject: &str) -> Result<SubjectKey, StoreError> {
        let subject = subject.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(storage)?;
            let key = {
                let mut keys = txn.open_table(KEYS).map_err(storage)?;
                let found = keys
                    .get(subject.as_str())
                    .map_err(storage)?
                    .map(|stored| SubjectKey::from_stored(stored.value()));
                match found {
                    Some(key) => key?,
                    None => {
                        let key = SubjectKey::generate().map_err(no_randomness)?;
                        keys.insert(subject.as_str(), &key.0[..]).map_err(storage)?;
                        key
                    }
                }
            };
            txn.commit().map_err(storage)?;
            Ok(key)
        })
        .await
    }

    async fn find(&self, subject: &str) -> Result<Option<SubjectKey>, StoreError> {
        let subject = subject.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(storage)?;
            let keys = txn.open_table(KEYS).map_err(storage)?;
            keys.get(subject.as_str())
                .map_err(storage)?
                .map(|stored| SubjectKey::from_stored(stored.value()))
                .transpose()
        })
        .await
    }

    async fn shred(&self, subject: &str) -> Result<bool, StoreError> {
        let subject = subject.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(storage)?;
            let removed = {
                let mut keys = txn.open_table(KEYS).map_err(storage)?;
                keys.remove(subject.as_str()).map_err(storage)?.is_some()
            };
            txn.commit().map_err(storage)?;
            Ok(removed)
        })
        .await
    }
}

/// The PostgreSQL vault: a table of its own in the log's schema.
#[derive(Clone)]
pub struct PostgresVault {
    client: Arc<Client>,
    schema: String,
}

impl PostgresVault {
    pub async fn connect(location: Location) -> Result<Self, StoreError> {
        let schema = location.schema().to_owned();
        let (client, connection) = location.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::error!(%error, "PostgreSQL key vault connection failed");
            }
        });
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.subject_keys (
                     subject text PRIMARY KEY,
                     key bytea NOT NULL CHECK (octet_length(key) = 32)
                 );"
            ))
            .await?;
        Ok(Self {
            client: Arc::new(client),
            schema,
        })
    }
}

impl Vault for PostgresVault {
    async fn key(&self, subject: &str) -> Result<SubjectKey, StoreError> {
        let fresh = SubjectKey::generate().map_err(no_randomness)?;
        let schema = &self.schema;
        // Two writers asking at once agree on the first key stored.
        let row = self
            .client
            .query_one(
                &format!(
                    "WITH added AS (INSERT INTO {schema}.subject_keys VALUES ($1, $2) \
                     ON CONFLICT (subject) DO NOTHING RETURNING key) \
                     SELECT key FROM added UNION ALL \
                     SELECT key FROM {schema}.subject_keys WHERE subject = $1 LIMIT 1"
                ),
                &[&subject, &&fresh.0[..]],
            )
            .await?;
        SubjectKey::from_stored(&row.try_get::<_, Vec<u8>>(0)?)
    }

    async fn find(&self, subject: &str) -> Result<Option<SubjectKey>, StoreError> {
        let schema = &self.schema;
        let row = self
            .client
            .query_opt(
                &format!("SELECT key FROM {schema}.subject_keys WHERE subject = $1"),
                &[&subject],
            )
            .await?;
        row.map(|row| SubjectKey::from_stored(&row.try_get::<_, Vec<u8>>(0)?))
            .transpose()
    }

    async fn shred(&self, subject: &str) -> Result<bool, StoreError> {
        let schema = &self.schema;
        let removed = self
            .client
            .execute(
                &format!("DELETE FROM {schema}.subject_keys WHERE subject = $1"),
                &[&subject],
            )
            .await?;
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_with_their_key_and_context() {
        let key = SubjectKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let other = SubjectKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let sealed = key
            .seal(b"Jana Novakova", b"contact:wa:420777")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!sealed.windows(4).any(|w| w == b"Jana"));
        assert_eq!(
            key.open(&sealed, b"contact:wa:420777"),
            Ok(b"Jana Novakova".to_vec())
        );
        assert_eq!(
            key.open(&sealed, b"contact:wa:420778"),
            Err(SealError::NotOpenable)
        );
        assert_eq!(
            other.open(&sealed, b"contact:wa:420777"),
            Err(SealError::NotOpenable)
        );
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            key.open(&altered, b"contact:wa:420777"),
            Err(SealError::NotOpenable)
        );
        assert_eq!(key.open(b"short", b""), Err(SealError::NotOpenable));
        // Two seals of the same text differ (fresh nonces).
        assert_ne!(
            key.seal(b"x", b"").unwrap_or_default(),
            key.seal(b"x", b"").unwrap_or_default()
        );
        assert_eq!(format!("{key:?}"), "SubjectKey(<redacted>)");
    }
}
