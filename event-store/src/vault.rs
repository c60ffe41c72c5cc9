//! The key vault, for crypto-shredding: every contact has an entry here, kept apart from the log,
//! naming a pseudonym (what the engine routes on and the log records), the lookup the contact is
//! found by (`"{connector}:{handle}"`, the customer's real handle) and the contact's key. Personal
//! data goes into the log sealed under that key, and shredding the entry (deleting its key and its
//! lookup) leaves the log whole, its hash chain intact, and that data unreadable for ever, while
//! the pseudonym left in the log no longer leads back to anyone.
//!
//! The engine loads every entry once ([`Vault::load`]) and holds them in memory; it keeps new ones
//! ([`Vault::keep`], all of a batch or none, durably) before the log records anything under them.
//! The embedded vault is its own redb file (`keys.redb`) beside the log's, so that it is backed up,
//! and destroyed, on its own; the PostgreSQL vault is its own table in the log's schema. Sealing
//! uses XChaCha20-Poly1305 (`chacha20poly1305`) with a random 192-bit nonce per message.
//!
//! This module must never log a key or a lookup, never put either into an error message (errors
//! are logged; they name pseudonyms only), and never hold a key in memory beyond the call that
//! reads or writes it: once shredded, a key is gone from here, and the engine must forget its own
//! copy.

use crate::error::StoreError;
use crate::postgres::Location;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// The file the embedded vault lives in, beside the log's.
pub const FILE_NAME: &str = "keys.redb";

/// Pseudonym → the key's 32 bytes followed by the lookup's UTF-8 bytes.
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("subject_keys");
/// Lookup → pseudonym, for every entry whose lookup is not empty.
const LOOKUPS: TableDefinition<&str, &str> = TableDefinition::new("contact_lookups");
const KEY_BYTES: usize = 32;
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

    fn from_stored(pseudonym: &str, bytes: &[u8]) -> Result<SubjectKey, StoreError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            failed(format!(
                "the key kept for pseudonym '{pseudonym}' is not {KEY_BYTES} bytes"
            ))
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

/// A contact's entry in the vault: the pseudonym the engine routes on and names the key by, the
/// lookup it is found by (`"{connector}:{handle}"`, the customer's real handle), and its key.
///
/// An empty lookup means the entry has none: it is found by its pseudonym only. Entries kept by
/// the vault's first version are read back so (it kept keys only), and any number of entries may
/// be without a lookup. Its `Debug` shows the pseudonym only: the lookup holds the customer's
/// handle, and the key is the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ContactKey {
    pub pseudonym: String,
    pub lookup: String,
    pub key: SubjectKey,
}

impl std::fmt::Debug for ContactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactKey")
            .field("pseudonym", &self.pseudonym)
            .field("lookup", &"<redacted>")
            .field("key", &self.key)
            .finish()
    }
}

impl ContactKey {
    /// A new entry for `lookup`, with a fresh random pseudonym (a UUID v4, hyphenated) and a fresh
    /// key.
    pub fn mint(lookup: String) -> Result<ContactKey, SealError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| SealError::NoRandomness(e.to_string()))?;
        let pseudonym = uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string();
        ContactKey::named(pseudonym, lookup)
    }

    /// A new entry whose pseudonym is given (contacts from before pseudonyms route on their
    /// handle), with a fresh key.
    pub fn named(pseudonym: String, lookup: String) -> Result<ContactKey, SealError> {
        Ok(ContactKey {
            pseudonym,
            lookup,
            key: SubjectKey::generate()?,
        })
    }

    /// How the embedded vault stores it under its pseudonym.
    fn stored_value(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(KEY_BYTES + self.lookup.len());
        value.extend_from_slice(&self.key.0);
        value.extend_from_slice(self.lookup.as_bytes());
        value
    }

    /// The entry the embedded vault stored under `pseudonym`.
    fn from_stored_value(pseudonym: &str, value: &[u8]) -> Result<ContactKey, StoreError> {
        // Vaults written by the first version kept the key alone (32 bytes): such an entry has an
        // empty lookup. A shorter value is damage, not an old shape.
        if value.len() < KEY_BYTES {
            return Err(failed(format!(
                "the entry kept for pseudonym '{pseudonym}' is shorter than a key"
            )));
        }
        let (key, lookup) = value.split_at(KEY_BYTES);
        let lookup = std::str::from_utf8(lookup).map_err(|_| {
            failed(format!(
                "the lookup kept for pseudonym '{pseudonym}' is not UTF-8"
            ))
        })?;
        Ok(ContactKey {
            pseudonym: pseudonym.to_owned(),
            lookup: lookup.to_owned(),
            key: SubjectKey::from_stored(pseudonym, key)?,
        })
    }
}

/// Where contacts' entries are kept.
pub trait Vault: Clone + Send + Sync + 'static {
    /// Every entry kept, to be held in memory by the engine.
    fn load(&self) -> impl Future<Output = Result<Vec<ContactKey>, StoreError>> + Send;

    /// Durably keeps these new entries, all of them or none (one transaction, one sync). Keeping
    /// an entry identical to one already kept (or to an earlier one of the same batch) is a no-op;
    /// an entry whose pseudonym or (non-empty) lookup is already kept with different values is an
    /// error ([`StoreError::Failed`], naming the pseudonyms, never the lookup), and then none of
    /// the batch is kept.
    fn keep(&self, entries: &[ContactKey]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the pseudonym's key and its lookup, durably; whether there was one.
    fn shred(&self, pseudonym: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

fn failed(reason: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(format!("key vault: {reason}"))
}

/// Whether `entry` is already kept, given the entry stored under its pseudonym and the pseudonym
/// its lookup is stored under; an error when it cannot be kept beside them.
fn already_kept(
    entry: &ContactKey,
    stored: Option<&ContactKey>,
    lookup_owner: Option<&str>,
) -> Result<bool, StoreError> {
    let pseudonym = &entry.pseudonym;
    if let Some(owner) = lookup_owner.filter(|owner| *owner != pseudonym.as_str()) {
        return Err(failed(format!(
            "the entry for pseudonym '{pseudonym}' is not kept: its lookup is already kept under \
             pseudonym '{owner}'"
        )));
    }
    match stored {
        None => Ok(false),
        Some(stored) if stored.key != entry.key => Err(failed(format!(
            "the entry for pseudonym '{pseudonym}' is not kept: the pseudonym is already kept \
             with another key"
        ))),
        Some(stored) if stored.lookup != entry.lookup => Err(failed(format!(
            "the entry for pseudonym '{pseudonym}' is not kept: the pseudonym is already kept \
             with another lookup"
        ))),
        Some(_) => Ok(true),
    }
}

/// The embedded vault: a redb file of its own.
#[derive(Clone)]
pub struct EmbeddedVault {
    db: Arc<Database>,
}

impl EmbeddedVault {
    /// Opens (or creates) the vault in `dir`, the directory the log lives in.
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
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(KEYS).map_err(failed)?;
        txn.open_table(LOOKUPS).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(failed)?
    }

    /// Runs `work` in one write transaction, committed (durably) if it succeeds and aborted if
    /// it fails.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(failed)?;
            match work(&txn) {
                Ok(done) => {
                    txn.commit().map_err(failed)?;
                    Ok(done)
                }
                Err(error) => {
                    txn.abort().map_err(failed)?;
                    Err(error)
                }
            }
        })
        .await
    }
}

impl Vault for EmbeddedVault {
    async fn load(&self) -> Result<Vec<ContactKey>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(failed)?;
            let keys = txn.open_table(KEYS).map_err(failed)?;
            let mut entries = Vec::new();
            for row in keys.iter().map_err(failed)? {
                let (pseudonym, value) = row.map_err(failed)?;
                entries.push(ContactKey::from_stored_value(
                    pseudonym.value(),
                    value.value(),
                )?);
            }
            Ok(entries)
        })
        .await
    }

    async fn keep(&self, entries: &[ContactKey]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.to_vec();
        self.write(move |txn| {
            let mut keys = txn.open_table(KEYS).map_err(failed)?;
            let mut lookups = txn.open_table(LOOKUPS).map_err(failed)?;
            for entry in &entries {
                let stored = keys
                    .get(entry.pseudonym.as_str())
                    .map_err(failed)?
                    .map(|value| ContactKey::from_stored_value(&entry.pseudonym, value.value()))
                    .transpose()?;
                let owner = if entry.lookup.is_empty() {
                    None
                } else {
                    lookups
                        .get(entry.lookup.as_str())
                        .map_err(failed)?
                        .map(|owner| owner.value().to_owned())
                };
                if already_kept(entry, stored.as_ref(), owner.as_deref())? {
                    continue;
                }
                keys.insert(entry.pseudonym.as_str(), entry.stored_value().as_slice())
                    .map_err(failed)?;
                if !entry.lookup.is_empty() {
                    lookups
                        .insert(entry.lookup.as_str(), entry.pseudonym.as_str())
                        .map_err(failed)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn shred(&self, pseudonym: &str) -> Result<bool, StoreError> {
        let pseudonym = pseudonym.to_owned();
        self.write(move |txn| {
            let mut keys = txn.open_table(KEYS).map_err(failed)?;
            let mut lookups = txn.open_table(LOOKUPS).map_err(failed)?;
            let Some(value) = keys.remove(pseudonym.as_str()).map_err(failed)? else {
                return Ok(false);
            };
            let lookup = match value.value().get(KEY_BYTES..).map(std::str::from_utf8) {
                Some(Ok(lookup)) => Some(lookup.to_owned()),
                // A damaged entry must still be shredded: its lookup is found by its pseudonym.
                _ => None,
            };
            drop(value);
            match lookup {
                Some(lookup) if lookup.is_empty() => {}
                Some(lookup) => {
                    let owned = lookups
                        .get(lookup.as_str())
                        .map_err(failed)?
                        .is_some_and(|owner| owner.value() == pseudonym);
                    if owned {
                        lookups.remove(lookup.as_str()).map_err(failed)?;
                    }
                }
                None => {
                    lookups
                        .retain(|_, owner| owner != pseudonym)
                        .map_err(failed)?;
                }
            }
            Ok(true)
        })
        .await
    }
}

/// The PostgreSQL vault: a table of its own in the log's schema. Entries without a lookup have
/// `NULL` there (the unique index on lookups then leaves them be).
#[derive(Clone)]
pub struct PostgresVault {
    // Behind a lock because keeping a batch takes a transaction, which needs the connection to
    // itself.
    client: Arc<Mutex<Client>>,
    schema: String,
}

impl PostgresVault {
    /// Connects, and creates the vault's table if it is missing (or adds the lookups to a table
    /// the first version created).
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
                     key bytea NOT NULL CHECK (octet_length(key) = {KEY_BYTES}),
                     lookup text
                 );
                 ALTER TABLE {schema}.subject_keys ADD COLUMN IF NOT EXISTS lookup text;
                 CREATE UNIQUE INDEX IF NOT EXISTS subject_keys_lookup
                     ON {schema}.subject_keys (lookup);"
            ))
            .await?;
        Ok(Self {
            client: Arc::new(Mutex::new(client)),
            schema,
        })
    }
}

fn from_row(row: &tokio_postgres::Row) -> Result<ContactKey, StoreError> {
    let pseudonym: String = row.try_get(0)?;
    let key: &[u8] = row.try_get(1)?;
    let lookup: Option<String> = row.try_get(2)?;
    Ok(ContactKey {
        key: SubjectKey::from_stored(&pseudonym, key)?,
        pseudonym,
        lookup: lookup.unwrap_or_default(),
    })
}

impl Vault for PostgresVault {
    async fn load(&self) -> Result<Vec<ContactKey>, StoreError> {
        let schema = &self.schema;
        let rows = self
            .client
            .lock()
            .await
            .query(
                &format!("SELECT subject, key, lookup FROM {schema}.subject_keys"),
                &[],
            )
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn keep(&self, entries: &[ContactKey]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let schema = &self.schema;
        let pseudonyms: Vec<&str> = entries.iter().map(|e| e.pseudonym.as_str()).collect();
        let keys: Vec<&[u8]> = entries.iter().map(|e| &e.key.0[..]).collect();
        let lookups: Vec<Option<&str>> = entries
            .iter()
            .map(|e| Some(e.lookup.as_str()).filter(|lookup| !lookup.is_empty()))
            .collect();
        let mut client = self.client.lock().await;
        let txn = client.transaction().await?;
        // Whatever clashes with a kept entry, or with an earlier one of the batch, is left out
        // here (waiting for a concurrent writer of it to finish), then found below. Under READ
        // COMMITTED the check reads afresh, so it sees what such a writer committed.
        txn.execute(
            &format!(
                "INSERT INTO {schema}.subject_keys (subject, key, lookup) \
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[]) \
                 ON CONFLICT DO NOTHING"
            ),
            &[&pseudonyms, &keys, &lookups],
        )
        .await?;
        let rows = txn
            .query(
                &format!(
                    "SELECT subject, key, lookup FROM {schema}.subject_keys \
                     WHERE subject = ANY($1::text[]) OR lookup = ANY($2::text[])"
                ),
                &[&pseudonyms, &lookups],
            )
            .await?;
        let mut stored = HashMap::with_capacity(rows.len());
        let mut owners = HashMap::with_capacity(rows.len());
        for row in &rows {
            let entry = from_row(row)?;
            if !entry.lookup.is_empty() {
                owners.insert(entry.lookup.clone(), entry.pseudonym.clone());
            }
            stored.insert(entry.pseudonym.clone(), entry);
        }
        for entry in entries {
            let owner = Some(&entry.lookup)
                .filter(|lookup| !lookup.is_empty())
                .and_then(|lookup| owners.get(lookup))
                .map(String::as_str);
            let problem = match already_kept(entry, stored.get(&entry.pseudonym), owner) {
                Ok(true) => continue,
                Ok(false) => failed(format!(
                    "the entry for pseudonym '{}' is not kept: it was shredded while being kept",
                    entry.pseudonym
                )),
                Err(problem) => problem,
            };
            if let Err(error) = txn.rollback().await {
                tracing::warn!(%error, "PostgreSQL key vault could not roll back a refused batch");
            }
            return Err(problem);
        }
        txn.commit().await?;
        Ok(())
    }

    async fn shred(&self, pseudonym: &str) -> Result<bool, StoreError> {
        let schema = &self.schema;
        let removed = self
            .client
            .lock()
            .await
            .execute(
                &format!("DELETE FROM {schema}.subject_keys WHERE subject = $1"),
                &[&pseudonym],
            )
            .await?;
        Ok(removed > 0)
    }
}

/// Either vault, chosen by the same `--store` value as the log; it only picks and forwards.
#[derive(Clone)]
pub enum AnyVault {
    Embedded(EmbeddedVault),
    Postgres(PostgresVault),
}

impl AnyVault {
    /// Opens the vault beside the log `spec` names: a `postgres://` or `postgresql://` URL (the
    /// log's schema), or else the log's directory.
    pub async fn open(spec: &str) -> Result<AnyVault, StoreError> {
        if crate::any::is_postgres(spec) {
            Ok(AnyVault::Postgres(
                PostgresVault::connect(Location::parse(spec)?).await?,
            ))
        } else {
            Ok(AnyVault::Embedded(EmbeddedVault::open(spec)?))
        }
    }
}

impl Vault for AnyVault {
    async fn load(&self) -> Result<Vec<ContactKey>, StoreError> {
        match self {
            AnyVault::Embedded(vault) => vault.load().await,
            AnyVault::Postgres(vault) => vault.load().await,
        }
    }

    async fn keep(&self, entries: &[ContactKey]) -> Result<(), StoreError> {
        match self {
            AnyVault::Embedded(vault) => vault.keep(entries).await,
            AnyVault::Postgres(vault) => vault.keep(entries).await,
        }
    }

    async fn shred(&self, pseudonym: &str) -> Result<bool, StoreError> {
        match self {
            AnyVault::Embedded(vault) => vault.shred(pseudonym).await,
            AnyVault::Postgres(vault) => vault.shred(pseudonym).await,
        }
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
