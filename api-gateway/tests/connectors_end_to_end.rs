//! Providers' webhooks and the outbox through the real binary: signed calls in each provider's
//! own format, refused unsigned or mis-signed or malformed with nothing appended, stored once
//! however often the provider retries; and an agent's reply out through the outbox with its
//! receipts coming back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use connectors::signature::sign;
use serde_json::{Value, json};
use support::{Server, WEBSITE};

const DELIVERY: &str = "sb_demo_delivery";
/// The demo connectors' secrets, as `switchboard.toml` configures them.
const WHATSAPP_SECRET: &str = "demo-whatsapp-app-secret";
const META_SECRET: &str = "demo-meta-app-secret";
const VIBER_TOKEN: &str = "demo-viber-bot-token";

/// How a call is signed.
#[derive(Clone, Copy, Debug)]
enum Signed {
    Not,
    Wrongly,
    Rightly,
}

/// The signature header a provider would send for `body`, signed as asked.
fn signature(connector: &str, signed: Signed, body: &[u8]) -> Option<(&'static str, String)> {
    let (header, secret, prefix) = match connector {
        "viber" => ("x-viber-content-signature", VIBER_TOKEN, ""),
        "whatsapp" => ("x-hub-signature-256", WHATSAPP_SECRET, "sha256="),
        _ => ("x-hub-signature-256", META_SECRET, "sha256="),
    };
    let key = match signed {
        Signed::Not => return None,
        Signed::Wrongly => "not the secret",
        Signed::Rightly => secret,
    };
    Some((header, format!("{prefix}{}", sign(key.as_bytes(), body))))
}

/// Posts `body` to a connector's webhook with `signature`, as it stands.
async fn post_webhook(
    server: &Server,
    connector: &str,
    body: Vec<u8>,
    signature: Option<(&str, String)>,
) -> reqwest::Response {
    let api = server.as_key(None);
    let mut request = api
        .http
        .post(api.url(&format!("/v1/connectors/{connector}/webhook")))
        .header("content-type", "application/json")
        .body(body);
    if let Some((header, value)) = signature {
        request = request.header(header, value);
    }
    request.send().await.unwrap()
}

/// Posts a provider's body to a connector's webhook, signed as asked; the status and answer.
async fn deliver(server: &Server, connector: &str, body: &[u8], signed: Signed) -> (u16, Value) {
    let signature = signature(connector, signed, body);
    let response = post_webhook(server, connector, body.to_vec(), signature).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn whatsapp_text(from: &str, id: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": "Jana Nováková"}, "wa_id": from}],
                    "messages": [{"from": from, "id": id, "timestamp": "1795424793", "type": "text", "text": {"body": text}}]
                }
            }]
        }]
    }))
    .unwrap()
}

fn whatsapp_status(id: &str, recipient: &str, status: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "statuses": [{"id": id, "status": status, "timestamp": "1795424800", "recipient_id": recipient}]
                }
            }]
        }]
    }))
    .unwrap()
}

fn outcomes(report: &Value) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["outcome"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_signed_whatsapp_message_is_stored_once_and_anything_unsigned_or_malformed_appends_nothing()
 {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let body = whatsapp_text(
        "420777123456",
        "wamid.HBgMNDIwNzc3MTIzNDU2FQIAEhggQ0",
        "Dobrý den",
    );
    let head = server.head().await;
    for signed in [Signed::Not, Signed::Wrongly] {
        let (status, answer) = deliver(&server, "whatsapp", &body, signed).await;
        assert_eq!(status, 401, "{signed:?}: {answer}");
        assert_eq!(answer["type"], "urn:switchboard:problem:bad-signature");
        assert_eq!(server.head().await, head, "{signed:?} appended something");
    }
    // Signed with the right secret but the body altered on the way: refused too.
    let mut altered = body.clone();
    let (status, _) = deliver(&server, "whatsapp", &body, Signed::Rightly).await;
    assert_eq!(status, 200);
    let head = server.head().await;
    altered.extend_from_slice(b" ");
    let signed_for_the_original = signature("whatsapp", Signed::Rightly, &body);
    let response = post_webhook(&server, "whatsapp", altered, signed_for_the_original).await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(server.head().await, head);

    // The provider retries: the same message id is stored once.
    let (status, again) = deliver(&server, "whatsapp", &body, Signed::Rightly).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["items"][0]["outcome"], "stored");
    assert_eq!(again["items"][0]["duplicate"], true, "{again}");
    assert_eq!(server.head().await, head, "a retried delivery appended");

    // What was stored: a WhatsApp conversation with the contact's number and profile name.
    let (status, log) = server.get("/v1/log?after=0&limit=100").await;
    assert_eq!(status, 200, "{log}");
    let started = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "ConversationStarted")
        .unwrap();
    assert_eq!(started["payload"]["channel"], "whatsapp");
    // The core routes on a pseudonym; the number itself is in the (sealed) handle.
    assert_ne!(started["payload"]["contact"], "420777123456");
    assert_eq!(started["payload"]["handle"], "420777123456");
    assert_eq!(started["payload"]["contact_name"], "Jana Nováková");

    // Signed, but not WhatsApp's format: 400, nothing appended.
    for malformed in [
        &b"{not json"[..],
        br#"{"object":"page","entry":[]}"#,
        br#"[1,2,3]"#,
    ] {
        let (status, answer) = deliver(&server, "whatsapp", malformed, Signed::Rightly).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(server.head().await, head);
    }
}

#[tokio::test]
async fn metas_handshake_answers_the_challenge_only_with_the_verify_token() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let api = server.as_key(None);
    let get = |query: &str| {
        let url = api.url(&format!("/v1/connectors/whatsapp/webhook?{query}"));
        let http = api.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, body) =
        get("hub.mode=subscribe&hub.verify_token=demo-verify-token&hub.challenge=1158201444").await;
    assert_eq!((status, body.as_str()), (200, "1158201444"));
    let (status, _) =
        get("hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444").await;
    assert_eq!(status, 403);
    let (status, _) =
        get("hub.mode=unsubscribe&hub.verify_token=demo-verify-token&hub.challenge=1").await;
    assert_eq!(status, 400);
    // Viber has no handshake of this kind.
    let response = api
        .http
        .get(api.url(
            "/v1/connectors/viber/webhook?hub.mode=subscribe&hub.verify_token=demo-verify-token&hub.challenge=1",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
}

/// Alice takes the conversation that WhatsApp contact `from` started; its id.
async fn alice_takes(server: &Server, from: &str, message_id: &str) -> String {
    let head = server.head().await;
    let (status, report) = deliver(
        server,
        "whatsapp",
        &whatsapp_text(from, message_id, "Where is my parcel?"),
        Signed::Rightly,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let conversation = server.conversation_started_after(head).await;
    server.agent_takes("alice", &conversation, head).await;
    conversation
}

#[tokio::test]
async fn a_reply_leaves_through_the_outbox_and_the_providers_receipts_move_it_on() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let conversation = alice_takes(&server, "420777000111", "wamid.IN1").await;
    // Within the window, free text; the connector's approved templates are offered for later.
    let (_, summary) = server
        .get(&format!("/v1/conversations/{conversation}"))
        .await;
    assert_eq!(
        summary["reply_rules"]["template_required"], false,
        "{summary}"
    );
    assert_eq!(
        summary["reply_rules"]["templates"],
        json!(["order_update", "follow_up"]),
        "{summary}"
    );
    // A template the connector does not list is refused, and appends nothing.
    let head = server.head().await;
    let (status, refused) = server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "10% off", "template": "discount"}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["type"], "urn:switchboard:problem:unknown-template",
        "{refused}"
    );
    assert_eq!(server.head().await, head);
    let (status, sent) = server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "It leaves the depot today."}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let position = sent["position"].as_u64().unwrap();

    // The delivery worker reads the outbox with its own key.
    let delivery = server.as_key(Some(DELIVERY));
    let (status, outbox) = delivery
        .get(&format!("/v1/connectors/whatsapp/outbox?after={position}"))
        .await;
    assert_eq!(status, 200, "{outbox}");
    let items = outbox["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{outbox}");
    assert_eq!(items[0]["contact"], "420777000111");
    assert_eq!(items[0]["channel"], "whatsapp");
    assert_eq!(items[0]["text"], "It leaves the depot today.");
    let message = items[0]["message_id"].as_str().unwrap().to_owned();
    // Another connector's key sees nothing of it.
    let (status, _) = server
        .as_key(Some(WEBSITE))
        .get("/v1/connectors/whatsapp/outbox")
        .await;
    assert_eq!(status, 403);

    let (status, confirmed) = delivery
        .post(
            &format!("/v1/connectors/whatsapp/outbox/{message}"),
            json!({"outcome": "sent", "provider_message_id": "wamid.OUT1"}),
        )
        .await;
    assert_eq!(status, 200, "{confirmed}");
    let confirmed_at = confirmed["position"].as_u64().unwrap();
    let (status, outbox) = delivery
        .get(&format!(
            "/v1/connectors/whatsapp/outbox?after={confirmed_at}"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(outbox["items"].as_array().unwrap().is_empty(), "{outbox}");

    // WhatsApp reports it delivered, then read; a late "delivered" changes nothing.
    let mut receipt_at = 0;
    for status_name in ["delivered", "read"] {
        let (status, report) = deliver(
            &server,
            "whatsapp",
            &whatsapp_status("wamid.OUT1", "420777000111", status_name),
            Signed::Rightly,
        )
        .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(outcomes(&report), ["stored"], "{report}");
        receipt_at = report["items"][0]["position"].as_u64().unwrap();
    }
    let (status, state) = delivery
        .get(&format!(
            "/v1/connectors/whatsapp/messages/{message}?after={receipt_at}"
        ))
        .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["status"], "read");
    assert_eq!(state["provider_message_id"], "wamid.OUT1");
    let head = server.head().await;
    // WhatsApp delivers the "delivered" receipt again: the same receipt, stored once.
    let (status, report) = deliver(
        &server,
        "whatsapp",
        &whatsapp_status("wamid.OUT1", "420777000111", "delivered"),
        Signed::Rightly,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(outcomes(&report), ["stored"], "{report}");
    assert_eq!(report["items"][0]["duplicate"], true, "{report}");
    // A failure reported after the message was read moves nothing back.
    let (status, report) = deliver(
        &server,
        "whatsapp",
        &whatsapp_status("wamid.OUT1", "420777000111", "failed"),
        Signed::Rightly,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(outcomes(&report), ["refused"], "{report}");
    assert!(
        report["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("already read"),
        "{report}"
    );
    // A receipt for a message Switchboard never sent is refused on its own, too.
    let (status, report) = deliver(
        &server,
        "whatsapp",
        &whatsapp_status("wamid.SOMEONE-ELSES", "420777000111", "read"),
        Signed::Rightly,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(outcomes(&report), ["refused"], "{report}");
    assert_eq!(server.head().await, head, "a refused receipt appended");
}

#[tokio::test]
async fn a_reply_to_an_offline_web_chat_visitor_who_left_an_address_is_marked_for_e_mail() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let website = server.as_key(Some(WEBSITE));
    let (status, sent) = website
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-7", "message_id": "m-1", "text": "Call me back?"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    let head = server.head().await;
    server.agent_takes("alice", &conversation, head).await;
    let (status, answer) = website
        .post(
            "/v1/webchat/website/presence",
            json!({"visitor": "v-7", "online": false, "email": "jana@example.com"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = website
        .post(
            "/v1/webchat/website/presence",
            json!({"visitor": "v-7", "online": false, "email": "jana at example"}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    let (status, reply) = server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "We will write to you."}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, outbox) = website
        .get(&format!(
            "/v1/connectors/website/outbox?after={}",
            reply["position"]
        ))
        .await;
    assert_eq!(status, 200, "{outbox}");
    let items = outbox["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{outbox}");
    assert_eq!(items[0]["email_fallback"], "jana@example.com");
}

/// Every fixture of every provider (written in the provider's documented format, in
/// `connectors/tests/fixtures/`), posted unsigned, wrongly signed, rightly signed, and again.
#[tokio::test]
async fn every_providers_fixture_is_refused_unsigned_or_mis_signed_and_stored_once_when_signed() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors/tests/fixtures");
    let mut posted = 0;
    for (provider, connector) in [
        ("whatsapp", "whatsapp"),
        ("messenger", "messenger"),
        ("instagram", "instagram"),
        ("viber", "viber"),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(fixtures.join(provider))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{provider}: {files:?}");
        for file in files {
            let name = format!("{provider}/{}", file.file_name().unwrap().to_string_lossy());
            let body = std::fs::read(&file).unwrap();
            let head = server.head().await;
            for signed in [Signed::Not, Signed::Wrongly] {
                let (status, answer) = deliver(&server, connector, &body, signed).await;
                assert_eq!(status, 401, "{name} {signed:?}: {answer}");
                assert_eq!(server.head().await, head, "{name} {signed:?} appended");
            }
            let (status, first) = deliver(&server, connector, &body, Signed::Rightly).await;
            assert_eq!(status, 200, "{name}: {first}");
            let items = first["items"].as_array().unwrap();
            assert!(!items.is_empty(), "{name}: {first}");
            // Every item is accounted for, in order.
            for (n, item) in items.iter().enumerate() {
                assert_eq!(item["index"], n, "{name}: {first}");
            }
            let stored_once = server.head().await;
            // A fixture of customers' messages stores some; a mixed one refuses some too.
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            let receipts_or_notes = [
                "statuses",
                "receipts",
                "delivered",
                "seen",
                "failed",
                "subscribed",
                "unsubscribed",
                "conversation_started",
                "webhook",
                "bad_message",
            ];
            if !receipts_or_notes.contains(&stem.as_str()) {
                assert!(first["stored"].as_u64().unwrap() >= 1, "{name}: {first}");
                assert!(stored_once > head, "{name}: nothing appended");
            }
            if stem == "mixed" || stem == "bad_message" {
                assert!(first["refused"].as_u64().unwrap() >= 1, "{name}: {first}");
            }
            // The provider retries the whole delivery: nothing new is appended.
            let (status, again) = deliver(&server, connector, &body, Signed::Rightly).await;
            assert_eq!(status, 200, "{name}: {again}");
            assert_eq!(server.head().await, stored_once, "{name}: a retry appended");
            for item in again["items"].as_array().unwrap() {
                if item["outcome"] == "stored" {
                    assert_eq!(item["duplicate"], true, "{name}: {again}");
                }
            }
            posted += 1;
        }
    }
    assert!(posted >= 20, "{posted}");
}

#[tokio::test]
async fn an_instagram_reply_over_1000_characters_never_reaches_the_outbox() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let head = server.head().await;
    let body = serde_json::to_vec(&json!({
        "object": "instagram",
        "entry": [{"id": "17841400000000000", "time": 1795424793000_i64, "messaging": [{
            "sender": {"id": "6912345678901234"},
            "recipient": {"id": "17841400000000000"},
            "timestamp": 1795424793000_i64,
            "message": {"mid": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", "text": "Is the red one in stock?"}
        }]}]
    }))
    .unwrap();
    let (status, report) = deliver(&server, "instagram", &body, Signed::Rightly).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(outcomes(&report), ["stored"], "{report}");
    let conversation = server.conversation_started_after(head).await;
    server.agent_takes("alice", &conversation, head).await;
    // The rule is stated before anyone types: what a console shows.
    let (status, summary) = server
        .get(&format!("/v1/conversations/{conversation}"))
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary["reply_rules"],
        json!({"max_chars": 1000, "template_required": false, "window_closes_at": null, "templates": []})
    );
    let before = server.head().await;
    let (status, answer) = server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "x".repeat(1001)}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["type"], "urn:switchboard:problem:message-too-long");
    assert_eq!(server.head().await, before, "a refused reply appended");
    let (status, sent) = server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "y".repeat(1000)}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let (status, outbox) = server
        .as_key(Some(DELIVERY))
        .get(&format!(
            "/v1/connectors/instagram/outbox?after={}",
            sent["position"]
        ))
        .await;
    assert_eq!(status, 200, "{outbox}");
    let items = outbox["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the reply within the limit: {outbox}");
    assert_eq!(items[0]["text"].as_str().unwrap().chars().count(), 1000);
    assert_eq!(items[0]["contact"], "6912345678901234");
}

#[tokio::test]
async fn a_large_batch_from_meta_is_read_and_an_oversized_one_refused_as_a_problem() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    // Three hundred customers in one call, about 100 KB: more than the API's own bodies.
    let messages: Vec<Value> = (0..300)
        .map(|n| json!({"from": format!("42077700{n:04}"), "id": format!("wamid.BATCH{n}"), "timestamp": "1795424793", "type": "text", "text": {"body": format!("message {n} {}", "·".repeat(100))}}))
        .collect();
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
            "messages": messages
        }}]}]
    }))
    .unwrap();
    assert!(body.len() > 64 * 1024, "{}", body.len());
    let (status, report) = deliver(&server, "whatsapp", &body, Signed::Rightly).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["stored"], 300, "{}", report["refused"]);

    let head = server.head().await;
    let huge = vec![b' '; 5 * 1024 * 1024];
    let signed = signature("whatsapp", Signed::Rightly, &huge);
    let response = post_webhook(&server, "whatsapp", huge, signed).await;
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    assert_eq!(server.head().await, head);
}

#[tokio::test]
async fn a_connector_with_an_account_refuses_the_customers_of_the_apps_other_numbers() {
    let data = tempfile::tempdir().unwrap();
    let config = support::write_config(
        data.path(),
        "[[queues]]\nid = \"support\"\nchannels = [\"whatsapp\"]\n\n\
         [[connectors]]\nid = \"whatsapp\"\nchannel = \"whatsapp\"\nqueue = \"support\"\n\
         webhook_secret = \"demo-whatsapp-app-secret\"\naccount = \"106540352242922\"\n",
    );
    let server = Server::start_with(&config, data.path().join("store"));
    // One Meta app, two numbers, one call: only this connector's number is its customers'.
    let change = |number: &str, from: &str, id: &str| {
        json!({"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": number},
            "messages": [{"from": from, "id": id, "timestamp": "1795424793", "type": "text", "text": {"body": "Hi"}}]
        }})
    };
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [
            change("106540352242922", "420777000001", "wamid.OURS"),
            change("999999999999999", "420777000002", "wamid.THEIRS"),
        ]}]
    }))
    .unwrap();
    let (status, report) = deliver(&server, "whatsapp", &body, Signed::Rightly).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(outcomes(&report), ["stored", "refused"], "{report}");
    assert!(
        report["items"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("999999999999999"),
        "{report}"
    );
}
