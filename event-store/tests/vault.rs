//! The key vault, on both backends: a subject's key is made once and kept, survives a reopen,
//! and once shredded is gone for good (a later key is a different one), while what was sealed
//! under it can no longer be opened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use event_store::vault::{EmbeddedVault, PostgresVault, SealError, Vault};

async fn keys_are_kept_once_and_shredding_is_for_good<V: Vault>(
    vault: V,
    reopen: impl AsyncFn() -> V,
) {
    let key = vault.key("contact:wa:420777000111").await.unwrap();
    let sealed = key.seal(b"Jana", b"contact:wa:420777000111").unwrap();
    assert_eq!(vault.key("contact:wa:420777000111").await.unwrap(), key);
    assert_eq!(
        vault.find("contact:wa:420777000111").await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(vault.find("contact:wa:nobody").await.unwrap(), None);
    // Two asking at once agree.
    let (a, b) = tokio::join!(vault.key("contact:web:v-1"), vault.key("contact:web:v-1"));
    assert_eq!(a.unwrap(), b.unwrap());

    let vault = reopen().await;
    assert_eq!(
        vault.find("contact:wa:420777000111").await.unwrap(),
        Some(key.clone())
    );

    assert!(vault.shred("contact:wa:420777000111").await.unwrap());
    assert!(!vault.shred("contact:wa:420777000111").await.unwrap());
    assert_eq!(vault.find("contact:wa:420777000111").await.unwrap(), None);
    let vault = reopen().await;
    assert_eq!(vault.find("contact:wa:420777000111").await.unwrap(), None);
    let fresh = vault.key("contact:wa:420777000111").await.unwrap();
    assert_ne!(fresh, key);
    assert_eq!(
        fresh.open(&sealed, b"contact:wa:420777000111"),
        Err(SealError::NotOpenable)
    );
}

#[tokio::test]
async fn the_embedded_vault_keeps_and_shreds_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let vault = EmbeddedVault::open(&path).unwrap();
    let shared = vault.clone();
    keys_are_kept_once_and_shredding_is_for_good(vault, async || {
        // The same process cannot open a redb file twice: "reopening" reads through the same
        // handle, and the file is checked below once it is closed.
        shared.clone()
    })
    .await;
    drop(shared);
    assert!(path.join(event_store::vault::FILE_NAME).exists());
    let again = EmbeddedVault::open(&path).unwrap();
    // The key made after the shredding is the one kept.
    assert!(
        again
            .find("contact:wa:420777000111")
            .await
            .unwrap()
            .is_some()
    );
    assert!(again.find("contact:web:v-1").await.unwrap().is_some());
}

#[tokio::test]
async fn the_postgresql_vault_keeps_and_shreds_keys() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_POSTGRES") else {
        eprintln!("skipping the PostgreSQL vault test: SWITCHBOARD_TEST_POSTGRES is not set");
        return;
    };
    let schema = format!("vault_{}", uuid::Uuid::now_v7().simple());
    let location = || {
        event_store::postgres::Location::parse(&url)
            .unwrap()
            .with_schema(&schema)
            .unwrap()
    };
    let vault = PostgresVault::connect(location()).await.unwrap();
    keys_are_kept_once_and_shredding_is_for_good(vault, async || {
        PostgresVault::connect(location()).await.unwrap()
    })
    .await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
}
