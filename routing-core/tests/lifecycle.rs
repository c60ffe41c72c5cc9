//! The conversation lifecycle as the product documents tell it: given what happened, when a
//! command arrives, then these events, or this rejection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use expect_test::expect;
use support::*;

#[test]
fn a_customer_message_is_enqueued_and_offered_to_a_ready_agent_logged_in_to_the_queue() {
    let state = given(vec![at(10, log_in("bob", "support")), at(11, ready("bob"))]);
    let outcome = when(
        &state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"tie_break":"only eligible agent"}
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn a_customer_message_waits_when_no_agent_is_ready() {
    let state = given(vec![at(10, log_in("bob", "support"))]);
    let outcome = when(
        &state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support"}
    "#]].assert_eq(&outcome);
}

#[test]
fn an_agent_who_goes_ready_is_offered_the_oldest_waiting_conversations_up_to_capacity() {
    let state = given(vec![
        starting(1, 10, customer_writes("web", "v-1", "m-1")),
        starting(2, 11, customer_writes("shop", "v-2", "m-2")),
        starting(3, 12, customer_writes("web", "v-3", "m-3")),
        at(13, log_in("alice", "support")),
        at(14, log_in("alice", "sales")),
    ]);
    let outcome = when(&state, at(20, ready("alice")));
    expect![[r#"
        20s AgentBecameReady {"agent":"alice"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice"],"tie_break":"only eligible agent: became free while the conversation waited"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"sales","agent":"alice","strategy":"longest_idle","candidates":["alice"],"tie_break":"only eligible agent: became free while the conversation waited"}
    "#]].assert_eq(&outcome);
}

#[test]
fn the_agent_idle_the_longest_gets_the_conversation() {
    let state = given(vec![
        at(10, log_in("alice", "support")),
        at(11, log_in("bob", "support")),
        at(12, ready("bob")),
        at(13, ready("alice")),
    ]);
    let outcome = when(
        &state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob","alice"],"tie_break":"idle the longest"}
    "#]].assert_eq(&outcome);
}

#[test]
fn equally_idle_agents_are_separated_by_their_id() {
    let state = given(vec![
        at(10, log_in("alice", "support")),
        at(10, log_in("bob", "support")),
        at(12, ready("bob")),
        at(12, ready("alice")),
    ]);
    let outcome = when(
        &state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"tie_break":"equally idle; lowest agent id"}
    "#]].assert_eq(&outcome);
}

#[test]
fn an_agent_at_capacity_is_not_offered_more() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(
        &state,
        starting(2, 20, customer_writes("web", "v-2", "m-2")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"web","channel":"webchat","contact":"v-2","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"m-2","text":"text of m-2"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support"}
    "#]].assert_eq(&outcome);
}

#[test]
fn capacity_is_per_channel() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(
        &state,
        starting(2, 20, customer_writes("wa", "+420600000000", "wamid.1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"wa","channel":"whatsapp","contact":"+420600000000","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"wamid.1","text":"text of wamid.1"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"tie_break":"only eligible agent"}
    "#]].assert_eq(&outcome);
}

#[test]
fn a_paused_agent_is_not_offered() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        at(12, pause("bob", "lunch")),
    ]);
    let outcome = when(
        &state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support"}
    "#]].assert_eq(&outcome);
}

#[test]
fn an_agent_logged_out_of_the_queue_is_not_offered() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        at(12, log_out("bob", "support")),
    ]);
    let outcome = when(
        &state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support"}
    "#]].assert_eq(&outcome);
}

#[test]
fn a_customer_message_on_an_open_conversation_does_not_start_another() {
    let state = given(vec![starting(1, 10, customer_writes("web", "v-1", "m-1"))]);
    let outcome = when(
        &state,
        starting(2, 20, customer_writes("web", "v-1", "m-2")),
    );
    expect![[r#"
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-2","text":"text of m-2"}
    "#]].assert_eq(&outcome);
}

#[test]
fn the_agent_the_conversation_is_offered_to_accepts_it() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(&state, at(20, accept("bob", 1)));
    expect![[r#"
        20s OfferAccepted {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn an_agent_cannot_accept_an_offer_made_to_someone_else() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(&state, at(20, accept("alice", 1)));
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 is not offered to agent 'alice'
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn an_agent_not_in_the_conversation_cannot_reply() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(&state, at(20, reply("bob", 1, "a-1")));
    expect![[r#"
        rejected: agent 'bob' is not in conversation 00000000-0000-0000-0000-000000000001
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn closing_without_a_status_is_refused() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        at(13, accept("bob", 1)),
    ]);
    expect![[r#"
        rejected: a status is required to close a conversation
    "#]]
    .assert_eq(&when(&state, at(20, close("bob", 1, None))));
    expect![[r#"
        rejected: a status is required to close a conversation
    "#]]
    .assert_eq(&when(&state, at(20, close("bob", 1, Some("  ")))));
}

#[test]
fn closing_frees_capacity_and_the_oldest_waiting_conversation_is_offered() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        starting(2, 13, customer_writes("web", "v-2", "m-2")),
        at(14, accept("bob", 1)),
    ]);
    let outcome = when(&state, at(20, close("bob", 1, Some("resolved"))));
    expect![[r#"
        20s ConversationClosed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","status":"resolved"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"tie_break":"only eligible agent: became free while the conversation waited"}
    "#]].assert_eq(&outcome);
}

#[test]
fn after_a_close_the_customers_next_message_starts_a_new_conversation_routed_again() {
    let state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        at(13, accept("bob", 1)),
        at(14, close("bob", 1, Some("resolved"))),
    ]);
    let outcome = when(
        &state,
        starting(2, 20, customer_writes("web", "v-1", "m-2")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"m-2","text":"text of m-2"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"tie_break":"only eligible agent"}
    "#]].assert_eq(&outcome);
}

#[test]
fn logging_in_to_a_queue_without_rights_is_refused() {
    let state = given(vec![]);
    expect![[r#"
        rejected: agent 'carol' has no rights to queue 'support'
    "#]]
    .assert_eq(&when(&state, at(10, log_in("carol", "support"))));
    expect![[r#"
        rejected: agent 'dave' is not configured
    "#]]
    .assert_eq(&when(&state, at(10, log_in("dave", "support"))));
    expect![[r#"
        rejected: queue 'billing' is not configured
    "#]]
    .assert_eq(&when(&state, at(10, log_in("carol", "billing"))));
}

#[test]
fn out_of_order_agent_commands_are_refused() {
    let state = given(vec![at(10, log_in("bob", "support")), at(11, ready("bob"))]);
    expect![[r#"
        rejected: agent 'bob' is already logged in to queue 'support'
    "#]]
    .assert_eq(&when(&state, at(20, log_in("bob", "support"))));
    expect![[r#"
        rejected: agent 'bob' is already ready
    "#]]
    .assert_eq(&when(&state, at(20, ready("bob"))));
    expect![[r#"
        rejected: agent 'bob' is not logged in to queue 'sales'
    "#]]
    .assert_eq(&when(&state, at(20, log_out("bob", "sales"))));
    expect![[r#"
        rejected: a pause needs a reason
    "#]]
    .assert_eq(&when(&state, at(20, pause("bob", " "))));
}

#[test]
fn a_message_through_a_connector_of_another_channel_is_refused() {
    let state = given(vec![]);
    let mut command = customer_writes("wa", "+420600000000", "wamid.1");
    if let routing_core::Command::ReceiveCustomerMessage { channel, .. } = &mut command {
        *channel = routing_core::Channel::Viber;
    }
    expect![[r#"
        rejected: connector 'wa' serves whatsapp, not viber
    "#]]
    .assert_eq(&when(&state, starting(1, 10, command)));
}
