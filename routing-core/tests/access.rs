//! API keys: issued and revoked by administrators, recorded as events, bound to configured
//! agents, queues and connectors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use expect_test::expect;
use routing_core::access::{ApiKey, Role, Scope, SecretDigest};
use routing_core::{AgentId, Command, KeyId, QueueId};
use support::*;

fn digest(fill: char) -> SecretDigest {
    SecretDigest::try_from(fill.to_string().repeat(64)).unwrap()
}

fn issue(key: &str, role: Role) -> Command {
    Command::IssueApiKey {
        key: KeyId::new(key),
        name: format!("key {key}"),
        role,
        secret_sha256: digest('a'),
        by: KeyId::new("ops"),
    }
}

fn revoke(key: &str) -> Command {
    Command::RevokeApiKey {
        key: KeyId::new(key),
        by: KeyId::new("ops"),
    }
}

fn agent_role(agent: &str) -> Role {
    Role::Agent {
        agent: AgentId::new(agent),
    }
}

#[test]
fn an_issued_key_is_recorded_with_its_role_and_digest_and_can_be_revoked_once() {
    let mut state = given(vec![]);
    let issued = when(&mut state, at(10, issue("k-1", agent_role("alice"))));
    expect![[r#"
        10s ApiKeyIssued {"key":"k-1","name":"key k-1","role":"agent","agent":"alice","secret_sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","issued_by":"ops"}
    "#]]
    .assert_eq(&issued);
    let again = when(&mut state, at(11, issue("k-1", Role::Auditor)));
    expect![[r#"
        rejected: API key 'k-1' already exists
    "#]]
    .assert_eq(&again);
    let revoked = when(&mut state, at(12, revoke("k-1")));
    expect![[r#"
        12s ApiKeyRevoked {"key":"k-1","revoked_by":"ops"}
    "#]]
    .assert_eq(&revoked);
    let twice = when(&mut state, at(13, revoke("k-1")));
    expect![[r#"
        rejected: API key 'k-1' is already revoked
    "#]]
    .assert_eq(&twice);
    // A revoked id stays taken: a new key never inherits an old one's history.
    let reused = when(&mut state, at(14, issue("k-1", Role::Auditor)));
    expect![[r#"
        rejected: API key 'k-1' already exists
    "#]]
    .assert_eq(&reused);
}

#[test]
fn a_key_bound_to_something_not_configured_is_refused() {
    let mut state = given(vec![]);
    let outcome = when(&mut state, at(10, issue("k-1", agent_role("mallory"))));
    expect![[r#"
        rejected: agent 'mallory' is not configured
    "#]]
    .assert_eq(&outcome);
    let supervisor = Role::Supervisor {
        users: Scope::All,
        queues: Scope::Only([QueueId::new("billing")].into()),
    };
    let outcome = when(&mut state, at(11, issue("k-2", supervisor)));
    expect![[r#"
        rejected: queue 'billing' is not configured
    "#]]
    .assert_eq(&outcome);
    let nameless = Command::IssueApiKey {
        key: KeyId::new("k-3"),
        name: " ".into(),
        role: Role::Admin,
        secret_sha256: digest('b'),
        by: KeyId::new("ops"),
    };
    let outcome = when(&mut state, at(12, nameless));
    expect![[r#"
        rejected: an API key needs a name
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn a_configured_key_can_be_revoked_and_an_unknown_one_cannot() {
    let mut config = centre();
    config.api_keys.insert(
        KeyId::new("ops"),
        ApiKey {
            name: "operations".into(),
            role: Role::Admin,
            secret_sha256: digest('c'),
        },
    );
    let mut state = given_in(config, vec![]);
    let taken = when(&mut state, at(10, issue("ops", Role::Auditor)));
    expect![[r#"
        rejected: API key 'ops' already exists
    "#]]
    .assert_eq(&taken);
    let revoked = when(&mut state, at(11, revoke("ops")));
    expect![[r#"
        11s ApiKeyRevoked {"key":"ops","revoked_by":"ops"}
    "#]]
    .assert_eq(&revoked);
    let unknown = when(&mut state, at(12, revoke("nobody")));
    expect![[r#"
        rejected: API key 'nobody' does not exist
    "#]]
    .assert_eq(&unknown);
}

#[test]
fn a_digest_must_be_sixty_four_hex_digits() {
    assert!(SecretDigest::try_from("abc".to_owned()).is_err());
    assert!(SecretDigest::try_from("g".repeat(64)).is_err());
    let upper = SecretDigest::try_from("AB".repeat(32)).unwrap();
    assert_eq!(upper.as_str(), "ab".repeat(32));
}
