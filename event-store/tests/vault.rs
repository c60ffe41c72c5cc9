//! The key vault, on both backends: entries are kept all or none and survive a reopen, keeping
//! the same entry again changes nothing, an entry clashing on its pseudonym or its lookup is
//! refused with the rest of its batch, and shredding is for good: the key is gone, the lookup is
//! free for a new entry, and what was sealed under the old key can no longer be opened.
//! PostgreSQL runs where `SWITCHBOARD_TEST_POSTGRES` names a server (elsewhere it prints why it
//! skips).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backends;

use event_store::StoreError;
use event_store::vault::{
    AnyVault, ContactKey, EmbeddedVault, FILE_NAME, PostgresVault, SealError, Vault,
};

/// What `vault` keeps, in a stable order.
async fn loaded<V: Vault>(vault: &V) -> Vec<ContactKey> {
    let mut entries = vault.load().await.unwrap();
    entries.sort_by(|a, b| a.pseudonym.cmp(&b.pseudonym));
    entries
}

fn sorted(mut entries: Vec<ContactKey>) -> Vec<ContactKey> {
    entries.sort_by(|a, b| a.pseudonym.cmp(&b.pseudonym));
    entries
}

fn refusal(result: Result<(), StoreError>) -> String {
    match result {
        Err(StoreError::Failed(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The whole contract, against a vault `open` opens afresh each time (the previous handle is
/// dropped first, so the embedded file really is closed and read again).
async fn contacts_are_kept_once_and_shredding_is_for_good<V: Vault>(open: impl AsyncFn() -> V) {
    let vault = open().await;
    assert_eq!(vault.load().await.unwrap(), vec![]);

    // Mint and keep: a fresh UUID v4 pseudonym each, a fresh key each.
    let jana = ContactKey::mint("wa:420777000111".to_owned()).unwrap();
    let petr = ContactKey::mint("sms:420777000222".to_owned()).unwrap();
    assert_ne!(jana.pseudonym, petr.pseudonym);
    assert_ne!(jana.key, petr.key);
    let parsed = uuid::Uuid::parse_str(&jana.pseudonym).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(parsed.hyphenated().to_string(), jana.pseudonym);
    // Its `Debug` names the entry, never the key.
    let shown = format!("{jana:?}");
    assert!(shown.contains(&jana.pseudonym) && shown.contains("SubjectKey(<redacted>)"));

    vault.keep(&[jana.clone(), petr.clone()]).await.unwrap();
    assert_eq!(
        loaded(&vault).await,
        sorted(vec![jana.clone(), petr.clone()])
    );
    let sealed = jana.key.seal(b"Jana Novakova", b"contact").unwrap();

    // `named` keeps the pseudonym it is given.
    let legacy = ContactKey::named("web:v-1".to_owned(), "web:v-1".to_owned()).unwrap();
    assert_eq!(legacy.pseudonym, "web:v-1");
    assert_eq!(legacy.lookup, "web:v-1");
    vault.keep(std::slice::from_ref(&legacy)).await.unwrap();
    // Nothing to keep is nothing done.
    vault.keep(&[]).await.unwrap();

    drop(vault);
    let vault = open().await;
    let all = sorted(vec![jana.clone(), petr.clone(), legacy.clone()]);
    assert_eq!(loaded(&vault).await, all);

    // The same entries again, alone or twice in a batch: a no-op.
    vault.keep(std::slice::from_ref(&jana)).await.unwrap();
    vault
        .keep(&[legacy.clone(), petr.clone(), petr.clone()])
        .await
        .unwrap();
    assert_eq!(loaded(&vault).await, all);

    // A batch with one clash keeps nothing, and says which pseudonym and why (never the lookup).
    let newcomer = ContactKey::mint("wa:420777000333".to_owned()).unwrap();
    let same_lookup = ContactKey::mint(jana.lookup.clone()).unwrap();
    let message = refusal(vault.keep(&[newcomer.clone(), same_lookup.clone()]).await);
    assert!(message.contains(&same_lookup.pseudonym), "{message}");
    assert!(message.contains(&jana.pseudonym), "{message}");
    assert!(!message.contains(&jana.lookup), "{message}");

    let same_pseudonym_other_key =
        ContactKey::named(petr.pseudonym.clone(), petr.lookup.clone()).unwrap();
    let message = refusal(
        vault
            .keep(&[newcomer.clone(), same_pseudonym_other_key])
            .await,
    );
    assert!(
        message.contains(&petr.pseudonym) && message.contains("key"),
        "{message}"
    );

    let same_pseudonym_other_lookup = ContactKey {
        lookup: "sms:420777000999".to_owned(),
        ..petr.clone()
    };
    let message = refusal(
        vault
            .keep(&[same_pseudonym_other_lookup, newcomer.clone()])
            .await,
    );
    assert!(
        message.contains(&petr.pseudonym) && message.contains("lookup"),
        "{message}"
    );

    // Two entries of one batch clashing with each other: neither is kept.
    let twin = ContactKey::mint(newcomer.lookup.clone()).unwrap();
    refusal(vault.keep(&[newcomer.clone(), twin]).await);
    assert_eq!(loaded(&vault).await, all);

    // Shredding: once, for good.
    assert!(vault.shred(&jana.pseudonym).await.unwrap());
    assert!(!vault.shred(&jana.pseudonym).await.unwrap());
    assert!(!vault.shred("never-kept").await.unwrap());
    let rest = sorted(vec![petr.clone(), legacy.clone()]);
    assert_eq!(loaded(&vault).await, rest);

    drop(vault);
    let vault = open().await;
    assert_eq!(loaded(&vault).await, rest);

    // The lookup is free again, for a new entry with a new key, which cannot open what was sealed
    // under the shredded one.
    let again = ContactKey::mint(jana.lookup.clone()).unwrap();
    vault
        .keep(&[again.clone(), newcomer.clone()])
        .await
        .unwrap();
    assert_ne!(again.key, jana.key);
    assert_eq!(
        again.key.open(&sealed, b"contact"),
        Err(SealError::NotOpenable)
    );
    // Nor can the old entry come back under its old pseudonym for that lookup.
    refusal(vault.keep(std::slice::from_ref(&jana)).await);

    drop(vault);
    let vault = open().await;
    assert_eq!(
        loaded(&vault).await,
        sorted(vec![petr, legacy, again, newcomer])
    );
}

#[tokio::test]
async fn the_embedded_vault_keeps_and_shreds_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    contacts_are_kept_once_and_shredding_is_for_good(async || EmbeddedVault::open(&path).unwrap())
        .await;
    assert!(path.join(FILE_NAME).exists());
}

#[tokio::test]
async fn the_postgresql_vault_keeps_and_shreds_contacts() {
    let Some(location) = backends::Postgres::location() else {
        return;
    };
    let schema = location.schema().to_owned();
    contacts_are_kept_once_and_shredding_is_for_good(async || {
        PostgresVault::connect(location.clone()).await.unwrap()
    })
    .await;
    drop_schema(&schema).await;
}

/// The same contract through the vault `--store` picks, on each backend.
#[tokio::test]
async fn either_vault_is_opened_from_the_store_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().to_str().unwrap().to_owned();
    contacts_are_kept_once_and_shredding_is_for_good(async || {
        let vault = AnyVault::open(&spec).await.unwrap();
        assert!(matches!(vault, AnyVault::Embedded(_)));
        vault
    })
    .await;

    let Some(location) = backends::Postgres::location() else {
        return;
    };
    let schema = location.schema().to_owned();
    let url = std::env::var(backends::POSTGRES_ENV).unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let spec = format!("{url}{separator}schema={schema}");
    contacts_are_kept_once_and_shredding_is_for_good(async || {
        let vault = AnyVault::open(&spec).await.unwrap();
        assert!(matches!(vault, AnyVault::Postgres(_)));
        vault
    })
    .await;
    drop_schema(&schema).await;
}

/// A vault file written by the first version (keys only, 32 bytes each) opens, and its entries
/// come back without a lookup; a damaged entry is an error, not a panic.
#[tokio::test]
async fn an_embedded_vault_of_the_first_version_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let old_keys: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("subject_keys");
    {
        let db = redb::Database::create(dir.path().join(FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(old_keys)
            .unwrap()
            .insert("contact:wa:420777000111", &[7u8; 32][..])
            .unwrap();
        txn.commit().unwrap();
    }
    let vault = EmbeddedVault::open(dir.path()).unwrap();
    let entries = vault.load().await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].pseudonym, "contact:wa:420777000111");
    assert_eq!(entries[0].lookup, "");
    // Keeping it as loaded changes nothing; a new entry beside it is kept.
    vault.keep(&entries).await.unwrap();
    let fresh = ContactKey::mint("wa:420777000111".to_owned()).unwrap();
    vault.keep(std::slice::from_ref(&fresh)).await.unwrap();
    assert_eq!(vault.load().await.unwrap().len(), 2);
    assert!(vault.shred("contact:wa:420777000111").await.unwrap());
    assert_eq!(vault.load().await.unwrap(), vec![fresh]);
    drop(vault);

    for damaged in [
        &[1u8; 31][..],
        &[[2u8; 32].as_slice(), &[0xff, 0xfe]].concat()[..],
    ] {
        {
            let db = redb::Database::create(dir.path().join(FILE_NAME)).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(old_keys)
                .unwrap()
                .insert("damaged", damaged)
                .unwrap();
            txn.commit().unwrap();
        }
        let vault = EmbeddedVault::open(dir.path()).unwrap();
        let error = vault.load().await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Failed(m) if m.contains("'damaged'")),
            "{error}"
        );
        // A damaged entry can still be shredded.
        assert!(vault.shred("damaged").await.unwrap());
        assert_eq!(vault.load().await.unwrap().len(), 1);
    }
}

/// A vault table created by the first version (no lookups) gains them when connected to.
#[tokio::test]
async fn a_postgresql_vault_of_the_first_version_gains_lookups() {
    let Some(location) = backends::Postgres::location() else {
        return;
    };
    let schema = location.schema().to_owned();
    let raw = backends::raw_client().await;
    raw.batch_execute(&format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.subject_keys (
             subject text PRIMARY KEY,
             key bytea NOT NULL CHECK (octet_length(key) = 32)
         );
         INSERT INTO {schema}.subject_keys VALUES ('contact:wa:1', decode(repeat('07', 32), 'hex'));"
    ))
    .await
    .unwrap();
    let vault = PostgresVault::connect(location.clone()).await.unwrap();
    let entries = vault.load().await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].pseudonym, "contact:wa:1");
    assert_eq!(entries[0].lookup, "");
    vault.keep(&entries).await.unwrap();
    let fresh = ContactKey::mint("wa:1".to_owned()).unwrap();
    vault.keep(std::slice::from_ref(&fresh)).await.unwrap();
    refusal(
        vault
            .keep(&[ContactKey::mint("wa:1".to_owned()).unwrap()])
            .await,
    );
    assert_eq!(vault.load().await.unwrap().len(), 2);
    drop(vault);
    // Connecting again finds everything in place.
    let vault = PostgresVault::connect(location).await.unwrap();
    assert_eq!(vault.load().await.unwrap().len(), 2);
    drop(vault);
    drop_schema(&schema).await;
}

async fn drop_schema(schema: &str) {
    backends::raw_client()
        .await
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
