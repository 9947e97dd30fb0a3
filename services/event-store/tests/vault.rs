//! The personal-data vault: ciphertext in the log, erasure by deleting the key.

use event_store::testing::TestDatabase;
use event_store::vault::{MasterKey, Revealed, Sealed, Vault, VaultError};
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn personal_data_is_stored_only_as_ciphertext_and_reads_back() {
    let db = TestDatabase::new().await;
    let vault = Vault::new(db.runtime.clone(), MasterKey::generate());
    let store = EventStore::new(db.runtime.clone());
    let person = Uuid::new_v4();
    let name = vault.seal(person, "Alex Example").await.unwrap();
    let email = vault.seal(person, "alex@example.org").await.unwrap();
    store
        .append(
            "officer-1",
            ExpectedVersion::NoStream,
            &[NewEvent::new(
                "OfficerNamed",
                1,
                json!({"name": name, "email": email}),
            )],
            &json!({}),
            None,
        )
        .await
        .unwrap();

    let raw: String = sqlx::query_scalar("select payload::text from events")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert!(
        !raw.contains("Alex") && !raw.contains("example.org"),
        "no plaintext in the log: {raw}"
    );

    let e = store.read_all(0, 1).await.unwrap().remove(0);
    let name: Sealed = serde_json::from_value(e.payload["name"].clone()).unwrap();
    assert_eq!(
        vault.open(&name).await.unwrap(),
        Revealed::Value("Alex Example".into())
    );
}

#[tokio::test]
async fn after_erasure_reads_show_erased_and_the_chain_still_verifies() {
    let db = TestDatabase::new().await;
    let vault = Vault::new(db.runtime.clone(), MasterKey::generate());
    let store = EventStore::new(db.runtime.clone());
    let erased = Uuid::new_v4();
    let kept = Uuid::new_v4();
    let a = vault.seal(erased, "Sam Erased").await.unwrap();
    let b = vault.seal(kept, "Kim Kept").await.unwrap();
    store
        .append(
            "officer-1",
            ExpectedVersion::NoStream,
            &[NewEvent::new("OfficersNamed", 1, json!({"a": a, "b": b}))],
            &json!({}),
            None,
        )
        .await
        .unwrap();

    assert!(vault.erase(erased).await.unwrap(), "first erasure erases");
    assert!(
        !vault.erase(erased).await.unwrap(),
        "a second erasure is a no-op"
    );

    assert_eq!(vault.open(&a).await.unwrap(), Revealed::Erased);
    assert_eq!(
        vault.open(&b).await.unwrap(),
        Revealed::Value("Kim Kept".into())
    );
    assert!(store.verify_chain(None, None).await.unwrap().is_verified());
    let err = vault.seal(erased, "Sam Again").await.unwrap_err();
    assert!(
        matches!(err, VaultError::PersonErased(p) if p == erased),
        "{err}"
    );
}

#[tokio::test]
async fn a_different_master_key_or_another_persons_ciphertext_is_an_error_not_garbage() {
    let db = TestDatabase::new().await;
    let vault = Vault::new(db.runtime.clone(), MasterKey::generate());
    let person = Uuid::new_v4();
    let other = Uuid::new_v4();
    let sealed = vault.seal(person, "secret").await.unwrap();
    vault.seal(other, "other").await.unwrap();

    let wrong = Vault::new(db.runtime.clone(), MasterKey::generate());
    assert!(matches!(
        wrong.open(&sealed).await,
        Err(VaultError::WrongMasterKey(_))
    ));

    let moved = Sealed {
        person: other,
        sealed: sealed.sealed.clone(),
    };
    assert!(matches!(
        vault.open(&moved).await,
        Err(VaultError::Damaged(_))
    ));

    let unknown = Sealed {
        person: Uuid::new_v4(),
        sealed: sealed.sealed,
    };
    assert!(matches!(
        vault.open(&unknown).await,
        Err(VaultError::KeyMissing(_))
    ));
}

#[test]
fn a_master_key_must_be_base64_of_32_bytes() {
    let key = MasterKey::generate();
    assert!(MasterKey::from_base64(&key.to_base64()).is_ok());
    assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    assert!(MasterKey::from_base64("not base64!").is_err());
}
