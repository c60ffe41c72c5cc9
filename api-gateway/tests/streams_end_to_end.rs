//! Live notifications through the real binary: an agent's stream carries the offer (with the time
//! left), the conversation's messages and its end; a client that reconnects with `Last-Event-ID`
//! misses nothing and gets nothing twice; a dashboard's stream redraws within its rights.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::{ALICE, BOB, SUPERVISOR, Server, SseReader, WEBSITE};

fn position(message: &support::SseMessage) -> u64 {
    message.id.as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_agent_hears_of_the_offer_and_the_messages_and_resumes_where_it_left_off() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (alice, bob, website) = (
        server.as_key(Some(ALICE)),
        server.as_key(Some(BOB)),
        server.as_key(Some(WEBSITE)),
    );
    let mut stream = SseReader::open(&alice, "/v1/agents/alice/stream", None).await;
    let mut bobs = SseReader::open(&bob, "/v1/agents/bob/stream", None).await;

    let (status, sent) = website
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-1", "name": "Jana", "message_id": "m-1", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    alice
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    alice.post("/v1/agents/alice/ready", json!(null)).await;

    // Her own presence first, then the offer, with the time left and whom it is from.
    let (offer, before) = stream.until("ConversationOffered").await;
    let kinds: Vec<&str> = before.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(kinds, ["AgentLoggedIn", "AgentBecameReady"]);
    assert_eq!(offer.data["payload"]["agent"], "alice");
    assert_eq!(offer.data["payload"]["conversation"], conversation.as_str());
    let left = offer.data["time_left_ms"].as_u64().unwrap();
    assert!(left > 0 && left <= 30_000, "{}", offer.data);
    assert_eq!(offer.data["conversation"]["contact_name"], "Jana");
    assert_eq!(offer.data["conversation"]["queue"], "support");
    let offered_at = position(&offer);

    let (status, body) = alice
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let accepted = stream.next().await;
    assert_eq!(accepted.event, "OfferAccepted");
    assert_eq!(position(&accepted), offered_at + 1);

    // The connection drops. Meanwhile the customer writes twice and Alice answers.
    drop(stream);
    for (id, text) in [("m-2", "Order 1234"), ("m-3", "Are you there?")] {
        let (status, body) = website
            .post(
                "/v1/webchat/website/messages",
                json!({"visitor": "v-1", "message_id": id, "text": text}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    alice
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "Yes, looking"}),
        )
        .await;
    let (status, closed) = alice
        .post(
            &format!("/v1/conversations/{conversation}/close"),
            json!({"agent": "alice", "status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");

    // Reconnecting after the acceptance: both messages, then the close; her own reply is not news.
    let mut stream =
        SseReader::open(&alice, "/v1/agents/alice/stream", Some(position(&accepted))).await;
    let first = stream.next().await;
    let second = stream.next().await;
    let third = stream.next().await;
    assert_eq!(
        (
            first.event.as_str(),
            second.event.as_str(),
            third.event.as_str()
        ),
        (
            "CustomerMessageReceived",
            "CustomerMessageReceived",
            "ConversationClosed"
        )
    );
    assert_eq!(first.data["payload"]["text"], "Order 1234");
    assert_eq!(second.data["payload"]["text"], "Are you there?");
    assert_eq!(position(&first), position(&accepted) + 1, "nothing skipped");
    assert!(position(&first) < position(&second) && position(&second) < position(&third));
    assert_eq!(
        position(&third),
        closed["position"].as_u64().unwrap(),
        "nothing after it"
    );

    // Bob heard none of it: his stream's first message is his own presence.
    bob.post("/v1/agents/bob/queues/support/login", json!(null))
        .await;
    assert_eq!(bobs.next().await.event, "AgentLoggedIn");
}

#[tokio::test]
async fn a_stream_is_only_for_its_agent_and_a_bad_last_event_id_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    for (key, status) in [(Some(BOB), 403), (Some(SUPERVISOR), 403), (None, 401)] {
        let api = server.as_key(key);
        let (got, body) = api.get("/v1/agents/alice/stream").await;
        assert_eq!(got, status, "{body}");
    }
    let (status, body) = server.get("/v1/agents/nobody/stream").await;
    assert_eq!(status, 404, "{body}");
    let response = server
        .http
        .get(server.url("/v1/agents/alice/stream"))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_dashboard_redraws_what_changed_within_its_rights() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (status, issued) = server
        .post(
            "/v1/keys",
            json!({"name": "Sales", "role": "supervisor", "queues": ["sales"]}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let sales = server.as_key(Some(issued["secret"].as_str().unwrap()));
    let support = server.as_key(Some(SUPERVISOR));
    let mut board = SseReader::open(&support, "/v1/dashboard/stream", None).await;
    let mut elsewhere = SseReader::open(&sales, "/v1/dashboard/stream", None).await;
    // A quiet stream says it is connected at once, not only at the first keep-alive: a browser
    // that shows nothing of a response before its first bytes would otherwise think it cut off.
    assert!(
        board.first_bytes().await.starts_with(": connected"),
        "the stream opens with a comment"
    );

    let (status, sent) = server
        .as_key(Some(WEBSITE))
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-1", "message_id": "m-1", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap();

    let (mark, redrawn) = board.until("position").await;
    let row = redrawn.iter().find(|m| m.event == "conversation").unwrap();
    assert_eq!(row.data["conversation"], conversation);
    assert_eq!(row.data["board_status"], "rep_needed");
    let queue = redrawn.iter().find(|m| m.event == "queue").unwrap();
    assert_eq!(queue.data["queue"], "support");
    assert_eq!(queue.data["waiting"], 1);
    assert!(
        redrawn.iter().all(|m| m.id.is_none()),
        "only the run's last message carries the position"
    );
    assert_eq!(
        position(&mark),
        sent["position"].as_u64().unwrap(),
        "{:?}",
        mark
    );

    // The sales supervisor is told a run went by, and nothing of what was in it.
    let (_, hidden) = elsewhere.until("position").await;
    assert!(hidden.is_empty(), "{hidden:?}");

    // Reconnecting from before the message redraws it again.
    let mut again = SseReader::open(&support, "/v1/dashboard/stream", Some(0)).await;
    let (_, redrawn) = again.until("position").await;
    assert!(
        redrawn
            .iter()
            .any(|m| m.event == "conversation" && m.data["conversation"] == conversation)
    );

    // Stopping the server ends open streams, so that it stops without waiting for them.
    let stopping = std::thread::spawn(move || server.stop());
    assert!(again.ended().await, "the stream ended");
    assert!(stopping.join().unwrap().success());
}

#[tokio::test]
async fn a_stream_ends_once_its_key_is_revoked_and_cannot_start_beyond_the_log() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (status, issued) = server
        .post(
            "/v1/keys",
            json!({"name": "Alice's tablet", "role": "agent", "agent": "alice"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let tablet = server.as_key(Some(issued["secret"].as_str().unwrap()));
    let mut stream = SseReader::open(&tablet, "/v1/agents/alice/stream", None).await;
    tablet
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    assert_eq!(stream.next().await.event, "AgentLoggedIn");

    let (status, revoked) = server
        .delete(&format!("/v1/keys/{}", issued["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200, "{revoked}");
    // Alice (on her other key) goes on working; the revoked tablet hears none of it.
    let (status, body) = server
        .as_key(Some(ALICE))
        .post("/v1/agents/alice/ready", json!(null))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(stream.ended().await, "the stream ended");

    let response = server
        .http
        .get(server.url("/v1/agents/alice/stream"))
        .header("last-event-id", "999999")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
