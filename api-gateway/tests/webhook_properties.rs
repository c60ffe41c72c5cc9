//! Property over the real server: whatever a provider (or an attacker who has the secret, or a
//! provider's bug) posts, signed, to a webhook, the answer is never a server error, and nothing is
//! appended for anything refused. Bodies are the providers' fixtures with parts deleted or
//! replaced by values of the wrong type, the shapes a broken integration really sends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use connectors::signature::sign;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use support::Server;

/// What to do to one place in a body.
#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => Just(Mutation::Remove),
        3 => prop_oneof![
            Just(Value::Null),
            Just(json!(0)),
            Just(json!(-1)),
            Just(json!(1.5)),
            Just(json!("")),
            Just(json!([])),
            Just(json!({})),
            Just(json!(true)),
            Just(json!("x".repeat(3000))),
            "[a-z0-9._-]{0,12}".prop_map(Value::String),
        ]
        .prop_map(Mutation::Replace),
    ]
}

/// Applies `mutation` at the place `path` leads to: each step picks a child by index (modulo
/// how many there are); where there are none, it stops.
fn apply(value: &mut Value, path: &[usize], mutation: &Mutation) {
    let Some((&step, rest)) = path.split_first() else {
        if let Mutation::Replace(new) = mutation {
            *value = new.clone();
        }
        return;
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(step % map.len()).cloned().unwrap();
            if rest.is_empty() && matches!(mutation, Mutation::Remove) {
                map.remove(&key);
            } else {
                apply(map.get_mut(&key).unwrap(), rest, mutation);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let n = step % items.len();
            if rest.is_empty() && matches!(mutation, Mutation::Remove) {
                items.remove(n);
            } else {
                apply(&mut items[n], rest, mutation);
            }
        }
        _ => {
            if let Mutation::Replace(new) = mutation {
                *value = new.clone();
            }
        }
    }
}

#[test]
fn a_signed_body_of_any_shape_appends_nothing_for_what_is_refused() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors/tests/fixtures");
    let mut bodies: Vec<(&str, &str, &str, Value)> = Vec::new();
    for (provider, connector, secret, header) in [
        (
            "whatsapp",
            "whatsapp",
            "demo-whatsapp-app-secret",
            "x-hub-signature-256",
        ),
        (
            "messenger",
            "messenger",
            "demo-meta-app-secret",
            "x-hub-signature-256",
        ),
        (
            "instagram",
            "instagram",
            "demo-meta-app-secret",
            "x-hub-signature-256",
        ),
        (
            "viber",
            "viber",
            "demo-viber-bot-token",
            "x-viber-content-signature",
        ),
    ] {
        for entry in std::fs::read_dir(fixtures.join(provider)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            bodies.push((
                connector,
                secret,
                header,
                serde_json::from_str(&text).unwrap(),
            ));
        }
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let api = server.as_key(None);
    let mut runner = TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    });
    let strategy = (
        0..bodies.len(),
        prop::collection::vec(
            (prop::collection::vec(any::<usize>(), 0..7), mutation()),
            1..4,
        ),
    );
    runner
        .run(&strategy, |(which, mutations)| {
            let (connector, secret, header, original) = &bodies[which];
            let mut body = original.clone();
            for (path, mutation) in &mutations {
                apply(&mut body, path, mutation);
            }
            let bytes = serde_json::to_vec(&body).unwrap();
            let prefix = if *connector == "viber" { "" } else { "sha256=" };
            runtime.block_on(async {
                let head = server.head().await;
                let response = api
                    .http
                    .post(api.url(&format!("/v1/connectors/{connector}/webhook")))
                    .header(
                        *header,
                        format!("{prefix}{}", sign(secret.as_bytes(), &bytes)),
                    )
                    .body(bytes.clone())
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap();
                let after = server.head().await;
                prop_assert!(
                    status == 200 || status == 400,
                    "{status} for {body}: {answer}"
                );
                let stored_new = answer["items"].as_array().map_or(0, |items| {
                    items
                        .iter()
                        .filter(|i| i["outcome"] == "stored" && i["duplicate"] == false)
                        .count()
                });
                if stored_new == 0 {
                    prop_assert_eq!(after, head, "appended without storing: {}", answer);
                } else {
                    prop_assert!(after > head, "{}", answer);
                }
                Ok(())
            })
        })
        .unwrap();
}
