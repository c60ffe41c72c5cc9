//! API keys through the real binary: no key, a bad key, a wrong role, an agent acting for another,
//! a connector or supervisor outside its rights; keys issued and revoked by an admin, and a
//! revocation that survives a restart. Every refusal has its status and appends nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{ADMIN, ALICE, AUDITOR, Api, BOB, SUPERVISOR, Server, WEBSITE};

/// Asserts a problem+json refusal with `status` and `kind`.
fn refused(answer: &(u16, Value), status: u16, kind: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(
        answer.1["type"],
        format!("urn:switchboard:problem:{kind}"),
        "{}",
        answer.1
    );
}

async fn visitor_writes(api: &Api, connector: &str, visitor: &str) -> (u16, Value) {
    api.post(
        &format!("/v1/webchat/{connector}/messages"),
        json!({"visitor": visitor, "message_id": format!("m-{visitor}"), "text": "Hello"}),
    )
    .await
}

#[tokio::test]
async fn a_request_without_a_valid_key_is_refused_401_and_appends_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let head = server.head().await;

    let nobody = server.as_key(None);
    let answer = visitor_writes(&nobody, "website", "v-1").await;
    refused(&answer, 401, "unauthenticated");
    assert!(
        answer.1["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{}",
        answer.1
    );
    let response = nobody
        .http
        .get(nobody.url("/v1/waiting"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"switchboard\""
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let stranger = server.as_key(Some("sb_not_a_key_of_ours"));
    refused(
        &visitor_writes(&stranger, "website", "v-1").await,
        401,
        "unauthenticated",
    );
    // Not a bearer scheme at all.
    let basic = nobody
        .http
        .post(nobody.url("/v1/agents/alice/ready"))
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    // A bad key is refused before the body is read: malformed JSON gets 401, not 400.
    let (status, _, body) = stranger
        .post_raw("/v1/webchat/website/messages", "{not json")
        .await;
    assert_eq!(status, 401, "{body}");

    // Health, readiness and metrics stay open: load balancers and Prometheus carry no key.
    for open in ["/healthz", "/readyz", "/metrics"] {
        let response = nobody.http.get(nobody.url(open)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{open}");
    }
    assert_eq!(server.head().await, head, "nothing was appended");
}

#[tokio::test]
async fn each_role_may_do_only_its_own_work() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (website, alice, bob) = (
        server.as_key(Some(WEBSITE)),
        server.as_key(Some(ALICE)),
        server.as_key(Some(BOB)),
    );
    let (supervisor, auditor) = (
        server.as_key(Some(SUPERVISOR)),
        server.as_key(Some(AUDITOR)),
    );

    // The connector brings a message in; Alice logs in and goes ready and is offered it.
    let (status, sent) = visitor_writes(&website, "website", "v-1").await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    let (status, body) = alice
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = alice.post("/v1/agents/alice/ready", json!(null)).await;
    assert_eq!(status, 200, "{body}");
    let head = server.head().await;

    // Nobody acts on another agent's activity: not Bob for Alice, in the path or in the body.
    refused(
        &bob.post("/v1/agents/alice/pause", json!({"reason": "lunch"}))
            .await,
        403,
        "no-rights",
    );
    let accept = format!("/v1/conversations/{conversation}/accept");
    let answer = bob.post(&accept, json!({"agent": "alice"})).await;
    refused(&answer, 403, "no-rights");
    assert_eq!(
        answer.1["detail"], "this key acts as agent 'bob', not as 'alice'",
        "{}",
        answer.1
    );
    // Roles that do not act as agents at all.
    for (api, role) in [
        (&supervisor, "supervisor"),
        (&auditor, "auditor"),
        (&website, "connector"),
    ] {
        let answer = api.post(&accept, json!({"agent": "alice"})).await;
        refused(&answer, 403, "wrong-role");
        assert!(
            answer.1["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("has role '{role}', which may not act as an agent")),
            "{}",
            answer.1
        );
    }
    // Only connectors (and admins) bring customers' messages in.
    refused(
        &visitor_writes(&alice, "website", "v-2").await,
        403,
        "wrong-role",
    );
    // A connector reads nothing; only auditors and admins read the log; only admins keys.
    refused(&website.get("/v1/waiting").await, 403, "wrong-role");
    refused(&supervisor.get("/v1/log").await, 403, "wrong-role");
    refused(&alice.get("/v1/log").await, 403, "wrong-role");
    refused(&auditor.get("/v1/keys").await, 403, "wrong-role");
    refused(
        &supervisor
            .post("/v1/keys", json!({"name": "mine", "role": "admin"}))
            .await,
        403,
        "wrong-role",
    );
    assert_eq!(server.head().await, head, "no refusal appended anything");

    // What each may do, they can.
    let (status, body) = alice.post(&accept, json!({"agent": "alice"})).await;
    assert_eq!(status, 200, "{body}");
    let after = body["position"].as_u64().unwrap();
    let (status, log) = auditor.get("/v1/log?limit=1").await;
    assert_eq!(status, 200, "{log}");
    let (status, summary) = supervisor
        .get(&format!("/v1/conversations/{conversation}?after={after}"))
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["agents"], json!(["alice"]));
    // An agent reads their own work, not another agent's.
    let (status, me) = alice.get(&format!("/v1/agents/alice?after={after}")).await;
    assert_eq!(status, 200, "{me}");
    refused(&alice.get("/v1/agents/bob").await, 403, "no-rights");
    refused(
        &bob.get(&format!("/v1/conversations/{conversation}")).await,
        403,
        "no-rights",
    );
    let (status, agents) = alice.get("/v1/agents").await;
    assert_eq!(status, 200, "{agents}");
    let ids: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alice"], "{agents}");

    // Who am I.
    let (status, me) = alice.get("/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me,
        json!({"key": "demo-alice", "name": "demo-alice", "role": "agent", "agent": "alice"})
    );
}

#[tokio::test]
async fn a_supervisor_sees_only_the_queues_it_has_rights_to() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (status, sent) = visitor_writes(&server.as_key(Some(WEBSITE)), "website", "v-1").await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    let after = sent["position"].as_u64().unwrap();

    // A supervisor of sales only, issued over the API.
    let (status, issued) = server
        .post(
            "/v1/keys",
            json!({"name": "Sales supervisor", "role": "supervisor", "queues": ["sales"]}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let sales = server.as_key(Some(issued["secret"].as_str().unwrap()));
    let support = server.as_key(Some(SUPERVISOR));

    for path in [
        format!("/v1/waiting?after={after}"),
        format!("/v1/board?after={after}"),
        format!("/v1/interactions?after={after}"),
    ] {
        let (status, seen) = support.get(&path).await;
        assert_eq!(status, 200, "{seen}");
        assert!(seen.to_string().contains(&conversation), "{path}: {seen}");
        let (status, unseen) = sales.get(&path).await;
        assert_eq!(status, 200, "{unseen}");
        assert!(
            !unseen.to_string().contains(&conversation),
            "{path}: {unseen}"
        );
    }
    let export = sales
        .http
        .get(sales.url("/v1/interactions/export?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert_eq!(
        export.text().await.unwrap().lines().count(),
        1,
        "the header alone"
    );
    for path in [
        format!("/v1/conversations/{conversation}"),
        format!("/v1/conversations/{conversation}/history"),
        format!("/v1/conversations/{conversation}/focus"),
    ] {
        refused(&sales.get(&path).await, 403, "no-rights");
        let (status, body) = support.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

#[tokio::test]
async fn an_admin_issues_and_revokes_keys_and_a_revocation_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let head = server.head().await;

    // Bad requests are refused precisely and append nothing.
    refused(
        &server
            .post("/v1/keys", json!({"name": "x", "role": "agent"}))
            .await,
        400,
        "bad-request",
    );
    refused(
        &server
            .post(
                "/v1/keys",
                json!({"name": "x", "role": "agent", "agent": "mallory"}),
            )
            .await,
        404,
        "unknown-agent",
    );
    refused(
        &server
            .post("/v1/keys", json!({"name": "x", "role": "wizard"}))
            .await,
        422,
        "unreadable-request",
    );
    refused(
        &server
            .post("/v1/keys", json!({"name": " ", "role": "auditor"}))
            .await,
        422,
        "invalid-key",
    );
    let (status, _, body) = server.post_raw("/v1/keys", "{\"name\":").await;
    assert_eq!(status, 400, "{body}");
    refused(&server.delete("/v1/keys/nobody").await, 404, "unknown-key");
    assert_eq!(server.head().await, head, "nothing was appended");

    // Issued: the secret is shown once and opens the very next request.
    let (status, issued) = server
        .post(
            "/v1/keys",
            json!({"name": "Alice's second console", "role": "agent", "agent": "alice"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let id = issued["id"].as_str().unwrap().to_owned();
    let secret = issued["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sb_"), "{issued}");
    let console = server.as_key(Some(&secret));
    let (status, me) = console.get("/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["key"], id.as_str());
    assert_eq!(me["agent"], "alice");

    // Listed without any secret or digest; the issue is in the log, who did it included.
    let (status, list) = server.get("/v1/keys").await;
    assert_eq!(status, 200, "{list}");
    let text = list.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("sha256"),
        "{list}"
    );
    let row = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap();
    assert_eq!(row["source"], "api");
    assert_eq!(row["issued_by"], "demo-admin");
    let (_, log) = server.get(&format!("/v1/log?after={head}")).await;
    assert_eq!(log["events"][0]["type"], "ApiKeyIssued", "{log}");
    assert!(
        !log.to_string().contains(&secret),
        "the secret is never stored"
    );

    // Revoked: refused from the very next request. A configured key can be revoked too.
    let (status, revoked) = server.delete(&format!("/v1/keys/{id}")).await;
    assert_eq!(status, 200, "{revoked}");
    refused(&console.get("/v1/me").await, 401, "unauthenticated");
    refused(
        &server.delete(&format!("/v1/keys/{id}")).await,
        409,
        "key-already-revoked",
    );
    let (status, revoked) = server.delete("/v1/keys/demo-bob").await;
    assert_eq!(status, 200, "{revoked}");
    let bob = server.as_key(Some(BOB));
    refused(&bob.get("/v1/me").await, 401, "unauthenticated");

    // After a restart (from the snapshot and from the log alike) the revocations hold.
    assert!(server.stop().success());
    std::fs::remove_dir_all(data.path().join("snapshots")).unwrap();
    let server = Server::start(data.path());
    refused(
        &server.as_key(Some(BOB)).get("/v1/me").await,
        401,
        "unauthenticated",
    );
    refused(
        &server.as_key(Some(&secret)).get("/v1/me").await,
        401,
        "unauthenticated",
    );
    let (status, me) = server.as_key(Some(ALICE)).get("/v1/me").await;
    assert_eq!(status, 200, "{me}");
    let (status, me) = server.as_key(Some(ADMIN)).get("/v1/me").await;
    assert_eq!(status, 200, "{me}");
}
