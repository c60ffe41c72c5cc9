//! The conversation lifecycle as the product documents tell it: given what happened, when a
//! command arrives, then these events, or this rejection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use expect_test::expect;
use support::*;

#[test]
fn a_customer_message_is_enqueued_and_offered_to_a_ready_agent_logged_in_to_the_queue() {
    let mut state = given(vec![at(10, log_in("bob", "support")), at(11, ready("bob"))]);
    let outcome = when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":50000}
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn a_customer_message_waits_when_no_agent_is_ready() {
    let mut state = given(vec![at(10, log_in("bob", "support"))]);
    let outcome = when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
    "#]].assert_eq(&outcome);
}

#[test]
fn an_agent_who_goes_ready_is_offered_the_oldest_waiting_conversations_up_to_capacity() {
    let mut state = given(vec![
        starting(1, 10, customer_writes("web", "v-1", "m-1")),
        starting(2, 11, customer_writes("shop", "v-2", "m-2")),
        starting(3, 12, customer_writes("web", "v-3", "m-3")),
        at(13, log_in("alice", "support")),
        at(14, log_in("alice", "sales")),
    ]);
    let outcome = when(&mut state, at(20, ready("alice")));
    expect![[r#"
        20s AgentBecameReady {"agent":"alice"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":50000}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"sales","agent":"alice","strategy":"longest_idle","candidates":["alice"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":50000}
    "#]].assert_eq(&outcome);
}

#[test]
fn the_agent_idle_the_longest_gets_the_conversation() {
    let mut state = given(vec![
        at(10, log_in("alice", "support")),
        at(11, log_in("bob", "support")),
        at(12, ready("bob")),
        at(13, ready("alice")),
    ]);
    let outcome = when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob","alice"],"eligible":2,"tie_break":"strategy_order","expires_at":50000}
    "#]].assert_eq(&outcome);
}

#[test]
fn equally_idle_agents_are_separated_by_their_id() {
    let mut state = given(vec![
        at(10, log_in("alice", "support")),
        at(10, log_in("bob", "support")),
        at(12, ready("bob")),
        at(12, ready("alice")),
    ]);
    let outcome = when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"eligible":2,"tie_break":"equal_rank_lowest_id","expires_at":50000}
    "#]].assert_eq(&outcome);
}

#[test]
fn an_agent_at_capacity_is_not_offered_more() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(
        &mut state,
        starting(2, 20, customer_writes("web", "v-2", "m-2")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"web","channel":"webchat","contact":"v-2","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","priority":0}
    "#]].assert_eq(&outcome);
}

#[test]
fn capacity_is_per_channel() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(
        &mut state,
        starting(2, 20, customer_writes("wa", "+420600000000", "wamid.1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"wa","channel":"whatsapp","contact":"+420600000000","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"wamid.1","text":"text of wamid.1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":50000}
    "#]].assert_eq(&outcome);
}

#[test]
fn a_paused_agent_is_not_offered() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        at(12, pause("bob", "lunch")),
    ]);
    let outcome = when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
    "#]].assert_eq(&outcome);
}

#[test]
fn an_agent_logged_out_of_the_queue_is_not_offered() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        at(12, log_out("bob", "support")),
    ]);
    let outcome = when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
    "#]].assert_eq(&outcome);
}

#[test]
fn a_customer_message_on_an_open_conversation_does_not_start_another() {
    let mut state = given(vec![starting(1, 10, customer_writes("web", "v-1", "m-1"))]);
    let outcome = when(
        &mut state,
        starting(2, 20, customer_writes("web", "v-1", "m-2")),
    );
    expect![[r#"
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
    "#]].assert_eq(&outcome);
}

#[test]
fn the_agent_the_conversation_is_offered_to_accepts_it() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(&mut state, at(20, accept("bob", 1)));
    expect![[r#"
        20s OfferAccepted {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn an_agent_cannot_accept_an_offer_made_to_someone_else() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(&mut state, at(20, accept("alice", 1)));
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 is not offered to agent 'alice'
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn an_agent_not_in_the_conversation_cannot_reply() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
    ]);
    let outcome = when(&mut state, at(20, reply("bob", 1, "a-1")));
    expect![[r#"
        rejected: agent 'bob' is not in conversation 00000000-0000-0000-0000-000000000001
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn closing_without_a_status_is_refused() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        at(13, accept("bob", 1)),
    ]);
    expect![[r#"
        rejected: a status is required to close a conversation
    "#]]
    .assert_eq(&when(&mut state, at(20, close("bob", 1, None))));
    expect![[r#"
        rejected: a status is required to close a conversation
    "#]]
    .assert_eq(&when(&mut state, at(20, close("bob", 1, Some("  ")))));
}

#[test]
fn where_the_centre_lists_close_statuses_and_pause_reasons_only_those_are_taken() {
    let mut config = centre();
    config.close_statuses = vec!["resolved".into(), "spam".into()];
    config.pause_reasons = vec!["lunch".into()];
    let mut state = given_in(
        config,
        vec![
            at(10, log_in("bob", "support")),
            at(11, ready("bob")),
            starting(1, 12, customer_writes("web", "v-1", "m-1")),
            at(13, accept("bob", 1)),
        ],
    );
    expect![[r#"
        rejected: 'done' is not a close status here; choose one of: resolved, spam
    "#]]
    .assert_eq(&when(&mut state, at(20, close("bob", 1, Some("done")))));
    expect![[r#"
        rejected: 'nap' is not a pause reason here; choose one of: lunch
    "#]]
    .assert_eq(&when(&mut state, at(21, pause("bob", "nap"))));
    let closed = when(&mut state, at(22, close("bob", 1, Some("spam"))));
    assert!(closed.contains("ConversationClosed"), "{closed}");
    let paused = when(&mut state, at(23, pause("bob", "lunch")));
    assert!(paused.contains("AgentPaused"), "{paused}");
}

#[test]
fn closing_frees_capacity_and_the_oldest_waiting_conversation_is_offered() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        starting(2, 13, customer_writes("web", "v-2", "m-2")),
        at(14, accept("bob", 1)),
    ]);
    let outcome = when(&mut state, at(20, close("bob", 1, Some("resolved"))));
    expect![[r#"
        20s ConversationClosed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","status":"resolved"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":50000}
    "#]].assert_eq(&outcome);
}

#[test]
fn after_a_close_the_customers_next_message_starts_a_new_conversation_routed_again() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        at(13, accept("bob", 1)),
        at(14, close("bob", 1, Some("resolved"))),
    ]);
    let outcome = when(
        &mut state,
        starting(2, 20, customer_writes("web", "v-1", "m-2")),
    );
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":50000}
    "#]].assert_eq(&outcome);
}

#[test]
fn logging_in_to_a_queue_without_rights_is_refused() {
    let mut state = given(vec![]);
    expect![[r#"
        rejected: agent 'carol' has no rights to queue 'support'
    "#]]
    .assert_eq(&when(&mut state, at(10, log_in("carol", "support"))));
    expect![[r#"
        rejected: agent 'zed' is not configured
    "#]]
    .assert_eq(&when(&mut state, at(10, log_in("zed", "support"))));
    expect![[r#"
        rejected: queue 'billing' is not configured
    "#]]
    .assert_eq(&when(&mut state, at(10, log_in("carol", "billing"))));
}

#[test]
fn out_of_order_agent_commands_are_refused() {
    let mut state = given(vec![at(10, log_in("bob", "support")), at(11, ready("bob"))]);
    expect![[r#"
        rejected: agent 'bob' is already logged in to queue 'support'
    "#]]
    .assert_eq(&when(&mut state, at(20, log_in("bob", "support"))));
    expect![[r#"
        rejected: agent 'bob' is already ready
    "#]]
    .assert_eq(&when(&mut state, at(20, ready("bob"))));
    expect![[r#"
        rejected: agent 'bob' is not logged in to queue 'sales'
    "#]]
    .assert_eq(&when(&mut state, at(20, log_out("bob", "sales"))));
    expect![[r#"
        rejected: a pause needs a reason
    "#]]
    .assert_eq(&when(&mut state, at(20, pause("bob", " "))));
}

#[test]
fn a_message_through_a_connector_of_another_channel_is_refused() {
    let mut state = given(vec![]);
    let mut command = customer_writes("wa", "+420600000000", "wamid.1");
    if let routing_core::Command::ReceiveCustomerMessage { channel, .. } = &mut command {
        *channel = routing_core::Channel::Viber;
    }
    expect![[r#"
        rejected: connector 'wa' serves whatsapp, not viber
    "#]]
    .assert_eq(&when(&mut state, starting(1, 10, command)));
}

/// A centre with one queue whose strategy, offer limit and missed-offer pause are set per test.
fn one_queue(
    strategy: routing_core::RoutingStrategy,
    pause_on_missed_offer: bool,
) -> routing_core::CentreConfig {
    let mut config = centre();
    for queue in config.queues.values_mut() {
        queue.strategy = strategy;
        queue.offer_timeout_ms = 20_000;
        queue.pause_on_missed_offer = pause_on_missed_offer;
    }
    config
}

fn three_ready_in_support(
    strategy: routing_core::RoutingStrategy,
    pause: bool,
) -> routing_core::State {
    let mut config = one_queue(strategy, pause);
    config
        .agents
        .get_mut(&routing_core::AgentId::new("carol"))
        .unwrap()
        .queues
        .insert(routing_core::QueueId::new("support"));
    given_in(
        config,
        vec![
            at(10, log_in("alice", "support")),
            at(10, log_in("bob", "support")),
            at(10, log_in("carol", "support")),
            at(11, ready("carol")),
            at(12, ready("alice")),
            at(13, ready("bob")),
        ],
    )
}

#[test]
fn a_rejected_offer_moves_to_the_next_agent_never_straight_back() {
    let mut state = three_ready_in_support(routing_core::RoutingStrategy::LongestIdle, false);
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"carol","strategy":"longest_idle","candidates":["carol","alice","bob"],"eligible":3,"tie_break":"strategy_order","expires_at":40000}
    "#]].assert_eq(&when(&mut state, starting(1, 20, customer_writes("web", "v-1", "m-1"))));
    expect![[r#"
        21s OfferRejected {"conversation":"00000000-0000-0000-0000-000000000001","agent":"carol"}
        21s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"eligible":2,"tie_break":"strategy_order","expires_at":41000}
    "#]].assert_eq(&when(&mut state, at(21, reject("carol", 1))));
    expect![[r#"
        22s OfferRejected {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice"}
        22s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":42000}
    "#]].assert_eq(&when(&mut state, at(22, reject("alice", 1))));
    expect![[r#"
        23s OfferRejected {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
    "#]]
    .assert_eq(&when(&mut state, at(23, reject("bob", 1))));
}

#[test]
fn an_offer_nobody_answers_times_out_and_moves_on_without_a_pause_when_the_queue_says_so() {
    let mut state = three_ready_in_support(routing_core::RoutingStrategy::LongestIdle, false);
    when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    assert_eq!(
        state.next_deadline(),
        Some(routing_core::Timestamp::from_millis(40_000))
    );
    expect![[r#""#]].assert_eq(&when(&mut state, at(39, tick())));
    expect![[r#"
        41s OfferTimedOut {"conversation":"00000000-0000-0000-0000-000000000001","agent":"carol","expired_at":40000}
        41s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"eligible":2,"tie_break":"strategy_order","expires_at":61000}
    "#]].assert_eq(&when(&mut state, at(41, tick())));
    assert_eq!(
        state.next_deadline(),
        Some(routing_core::Timestamp::from_millis(61_000))
    );
}

#[test]
fn an_agent_who_lets_an_offer_expire_is_paused_unpaid_when_the_queue_says_so() {
    let mut state = three_ready_in_support(routing_core::RoutingStrategy::LongestIdle, true);
    when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    when(
        &mut state,
        starting(2, 21, customer_writes("web", "v-2", "m-2")),
    );
    expect![[r#"
        45s OfferTimedOut {"conversation":"00000000-0000-0000-0000-000000000001","agent":"carol","expired_at":40000}
        45s AgentPaused {"agent":"carol","reason":"missed offer","paid":false,"automatic":true}
        45s OfferTimedOut {"conversation":"00000000-0000-0000-0000-000000000002","agent":"alice","expired_at":41000}
        45s AgentPaused {"agent":"alice","reason":"missed offer","paid":false,"automatic":true}
        45s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":65000}
    "#]].assert_eq(&when(&mut state, at(45, tick())));
}

#[test]
fn pausing_withdraws_the_offers_ringing_for_the_agent() {
    let mut state = three_ready_in_support(routing_core::RoutingStrategy::LongestIdle, false);
    when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        21s AgentPaused {"agent":"carol","reason":"coffee","paid":false,"automatic":false}
        21s OfferRescinded {"conversation":"00000000-0000-0000-0000-000000000001","agent":"carol","reason":"agent_paused"}
        21s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"eligible":2,"tie_break":"strategy_order","expires_at":41000}
    "#]].assert_eq(&when(&mut state, at(21, pause("carol", "coffee"))));
}

#[test]
fn logging_out_of_a_queue_withdraws_its_offers_ringing_for_the_agent() {
    let mut state = three_ready_in_support(routing_core::RoutingStrategy::LongestIdle, false);
    when(
        &mut state,
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
    );
    expect![[r#"
        21s AgentLoggedOut {"agent":"carol","queue":"support"}
        21s OfferRescinded {"conversation":"00000000-0000-0000-0000-000000000001","agent":"carol","reason":"agent_logged_out"}
        21s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"eligible":2,"tie_break":"strategy_order","expires_at":41000}
    "#]].assert_eq(&when(&mut state, at(21, log_out("carol", "support"))));
}

#[test]
fn an_agent_with_rights_accepts_from_the_waiting_list_even_when_logged_out_of_the_queue() {
    let mut state = given(vec![starting(1, 10, customer_writes("web", "v-1", "m-1"))]);
    expect![[r#"
        20s AcceptedFromWaiting {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice"}
    "#]].assert_eq(&when(&mut state, at(20, take_from_waiting("alice", 1))));
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 is not waiting
    "#]]
    .assert_eq(&when(&mut state, at(21, take_from_waiting("bob", 1))));
}

#[test]
fn taking_a_conversation_ringing_for_a_colleague_withdraws_their_offer_and_they_get_the_next() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        starting(2, 13, customer_writes("web", "v-2", "m-2")),
    ]);
    expect![[r#"
        20s OfferRescinded {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","reason":"taken_from_waiting","by":"alice"}
        20s AcceptedFromWaiting {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":50000}
    "#]].assert_eq(&when(&mut state, at(20, take_from_waiting("alice", 1))));
}

#[test]
fn accepting_from_the_waiting_list_needs_rights_and_room() {
    let mut state = given(vec![
        starting(1, 10, customer_writes("web", "v-1", "m-1")),
        starting(2, 11, customer_writes("web", "v-2", "m-2")),
        at(12, take_from_waiting("bob", 1)),
    ]);
    expect![[r#"
        rejected: agent 'carol' has no rights to queue 'support'
    "#]]
    .assert_eq(&when(&mut state, at(20, take_from_waiting("carol", 2))));
    expect![[r#"
        rejected: agent 'bob' has no room for another webchat conversation
    "#]]
    .assert_eq(&when(&mut state, at(20, take_from_waiting("bob", 2))));
}

#[test]
fn round_robin_takes_turns() {
    let mut state = three_ready_in_support(routing_core::RoutingStrategy::RoundRobin, false);
    let mut offered = Vec::new();
    for n in 1..=6u128 {
        let seconds = 20 + i64::try_from(n).unwrap();
        let events = state
            .execute(
                customer_writes("web", &format!("v-{n}"), &format!("m-{n}")),
                &context(seconds, n),
            )
            .unwrap();
        for event in events {
            if let routing_core::EventKind::ConversationOffered(offer) = event.kind {
                offered.push(offer.agent.to_string());
            }
        }
    }
    // alice (2 web chats) takes two turns, bob (1) and carol (1) one each until full.
    expect![[r#"
        [
            "alice",
            "bob",
            "carol",
            "alice",
        ]
    "#]]
    .assert_debug_eq(&offered);
}

#[test]
fn least_busy_prefers_the_agent_with_fewest_conversations() {
    let mut state = three_ready_in_support(routing_core::RoutingStrategy::LeastBusy, false);
    let mut offered = Vec::new();
    for n in 1..=4u128 {
        let seconds = 20 + i64::try_from(n).unwrap();
        for event in state
            .execute(
                customer_writes("web", &format!("v-{n}"), &format!("m-{n}")),
                &context(seconds, n),
            )
            .unwrap()
        {
            if let routing_core::EventKind::ConversationOffered(offer) = event.kind {
                offered.push(offer.agent.to_string());
            }
        }
    }
    expect![[r#"
        [
            "carol",
            "alice",
            "bob",
            "alice",
        ]
    "#]]
    .assert_debug_eq(&offered);
}

#[test]
fn higher_priority_conversations_are_served_first_then_the_oldest() {
    let mut config = centre();
    config
        .connectors
        .get_mut(&routing_core::ConnectorId::new("wa"))
        .unwrap()
        .priority = 5;
    config
        .agents
        .get_mut(&routing_core::AgentId::new("bob"))
        .unwrap()
        .capacity
        .insert(routing_core::Channel::Whatsapp, 1);
    let mut state = given_in(
        config,
        vec![
            starting(1, 10, customer_writes("web", "v-1", "m-1")),
            starting(2, 11, customer_writes("wa", "+420600000001", "wamid.2")),
            at(12, log_in("alice", "support")),
        ],
    );
    expect!["[ConversationId(00000000-0000-0000-0000-000000000002), ConversationId(00000000-0000-0000-0000-000000000001)]"].assert_eq(&format!("{:?}", state.waiting_in(&routing_core::QueueId::new("support"))));
    expect![[r#"
        20s AgentLoggedIn {"agent":"bob","queue":"support"}
    "#]]
    .assert_eq(&when(&mut state, at(20, log_in("bob", "support"))));
    expect![[r#"
        21s AgentBecameReady {"agent":"bob"}
        21s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":51000}
        21s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":51000}
    "#]].assert_eq(&when(&mut state, at(21, ready("bob"))));
}

/// Alice (support and sales, 2 web chats) and Bob (support, 1 web chat) ready; Alice in
/// conversation 1, which she accepted.
fn alice_in_a_conversation() -> routing_core::State {
    given(vec![
        at(10, log_in("alice", "support")),
        at(11, ready("alice")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        at(13, accept("alice", 1)),
        at(14, log_in("bob", "support")),
        at(15, ready("bob")),
    ])
}

#[test]
fn a_transfer_to_an_agent_is_an_offer_they_accept_and_the_transferring_agents_activity_ends() {
    let mut state = alice_in_a_conversation();
    expect![[r#"
        20s TransferOffered {"conversation":"00000000-0000-0000-0000-000000000001","from":"alice","to":"bob","expires_at":50000}
    "#]].assert_eq(&when(&mut state, at(20, transfer_to_agent("alice", 1, "bob"))));
    expect![[r#"
        21s AgentMessageSent {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","message_id":"a-1","text":"text of a-1","outbox":true,"email_fallback":null}
    "#]].assert_eq(&when(&mut state, at(21, reply("alice", 1, "a-1"))));
    expect![[r#"
        22s OfferAccepted {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
    "#]]
    .assert_eq(&when(&mut state, at(22, accept("bob", 1))));
    expect![[r#"
        rejected: agent 'alice' is not in conversation 00000000-0000-0000-0000-000000000001
    "#]]
    .assert_eq(&when(&mut state, at(23, reply("alice", 1, "a-2"))));
}

#[test]
fn a_declined_transfer_returns_to_the_transferring_agent() {
    let mut state = alice_in_a_conversation();
    when(&mut state, at(20, transfer_to_agent("alice", 1, "bob")));
    expect![[r#"
        21s OfferRejected {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
    "#]]
    .assert_eq(&when(&mut state, at(21, reject("bob", 1))));
    expect![[r#"
        22s AgentMessageSent {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","message_id":"a-1","text":"text of a-1","outbox":true,"email_fallback":null}
    "#]].assert_eq(&when(&mut state, at(22, reply("alice", 1, "a-1"))));
}

#[test]
fn a_transfer_to_a_busy_or_absent_agent_is_refused() {
    let mut state = alice_in_a_conversation();
    expect![[r#"
        rejected: agent 'carol' is not ready to take it
    "#]]
    .assert_eq(&when(
        &mut state,
        at(20, transfer_to_agent("alice", 1, "carol")),
    ));
    expect![[r#"
        rejected: agent 'alice' is already in the conversation
    "#]]
    .assert_eq(&when(
        &mut state,
        at(20, transfer_to_agent("alice", 1, "alice")),
    ));
}

#[test]
fn a_transfer_to_a_queue_ends_the_activity_and_routes_it_again_not_straight_back() {
    let mut state = alice_in_a_conversation();
    expect![[r#"
        20s TransferredToQueue {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","queue":"support"}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":50000}
    "#]].assert_eq(&when(&mut state, at(20, transfer_to_queue("alice", 1, "support"))));
}

#[test]
fn an_invited_agent_joins_and_when_one_closes_the_customer_continues_with_the_other() {
    let mut state = alice_in_a_conversation();
    expect![[r#"
        20s InviteOffered {"conversation":"00000000-0000-0000-0000-000000000001","by":"alice","to":"bob","queue":null,"expires_at":50000}
    "#]].assert_eq(&when(&mut state, at(20, invite_agent("alice", 1, "bob"))));
    expect![[r#"
        21s OfferAccepted {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
    "#]]
    .assert_eq(&when(&mut state, at(21, accept("bob", 1))));
    expect![[r#"
        22s AgentLeft {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","status":"handed over","remaining":["bob"]}
    "#]].assert_eq(&when(&mut state, at(22, close("alice", 1, Some("handed over")))));
    expect![[r#"
        23s AgentMessageSent {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","message_id":"b-1","text":"text of b-1","outbox":true,"email_fallback":null}
    "#]].assert_eq(&when(&mut state, at(23, reply("bob", 1, "b-1"))));
    expect![[r#"
        24s ConversationClosed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","status":"resolved"}
    "#]].assert_eq(&when(&mut state, at(24, close("bob", 1, Some("resolved")))));
}

#[test]
fn an_invitation_to_a_queue_goes_to_its_best_free_agent_or_is_refused_when_nobody_is_free() {
    let mut state = alice_in_a_conversation();
    expect![[r#"
        rejected: nobody in queue 'sales' is free to take it now
    "#]]
    .assert_eq(&when(&mut state, at(20, invite_queue("alice", 1, "sales"))));
    expect![[r#"
        20s InviteOffered {"conversation":"00000000-0000-0000-0000-000000000001","by":"alice","to":"bob","queue":"support","expires_at":50000}
    "#]].assert_eq(&when(&mut state, at(20, invite_queue("alice", 1, "support"))));
}

#[test]
fn closing_withdraws_a_pending_invitation() {
    let mut state = alice_in_a_conversation();
    when(&mut state, at(20, invite_agent("alice", 1, "bob")));
    expect![[r#"
        21s OfferRescinded {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","reason":"conversation_closed"}
        21s ConversationClosed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","status":"resolved"}
    "#]].assert_eq(&when(&mut state, at(21, close("alice", 1, Some("resolved")))));
}

#[test]
fn the_last_agent_leaving_sends_the_conversation_back_to_its_queue() {
    let mut state = alice_in_a_conversation();
    expect![[r#"
        20s AgentLeft {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","status":null,"remaining":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":50000}
    "#]].assert_eq(&when(&mut state, at(20, leave("alice", 1))));
}

#[test]
fn a_postponed_conversation_frees_a_chat_slot_and_resuming_needs_one() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 12, customer_writes("web", "v-1", "m-1")),
        at(13, accept("bob", 1)),
        starting(2, 14, customer_writes("web", "v-2", "m-2")),
    ]);
    expect![[r#"
        20s ConversationPostponed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
        20s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":50000}
    "#]].assert_eq(&when(&mut state, at(20, postpone("bob", 1))));
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 is postponed; resume it first
    "#]]
    .assert_eq(&when(&mut state, at(21, reply("bob", 1, "b-1"))));
    expect![[r#"
        rejected: agent 'bob' has no room for another webchat conversation
    "#]]
    .assert_eq(&when(&mut state, at(22, resume("bob", 1))));
    expect![[r#"
        23s OfferAccepted {"conversation":"00000000-0000-0000-0000-000000000002","agent":"bob"}
    "#]]
    .assert_eq(&when(&mut state, at(23, accept("bob", 2))));
    expect![[r#"
        24s ConversationClosed {"conversation":"00000000-0000-0000-0000-000000000002","agent":"bob","status":"resolved"}
    "#]].assert_eq(&when(&mut state, at(24, close("bob", 2, Some("resolved")))));
    expect![[r#"
        25s ConversationResumed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
    "#]].assert_eq(&when(&mut state, at(25, resume("bob", 1))));
}

#[test]
fn an_agent_marks_a_conversation_important() {
    let mut state = alice_in_a_conversation();
    expect![[r#"
        20s ImportanceMarked {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","important":true}
    "#]].assert_eq(&when(&mut state, at(20, mark_important("alice", 1))));
    expect![[r#"
        rejected: agent 'bob' is not in conversation 00000000-0000-0000-0000-000000000001
    "#]]
    .assert_eq(&when(&mut state, at(20, mark_important("bob", 1))));
}

#[test]
fn a_customer_waiting_for_an_answer_becomes_soon_overdue_then_overdue_and_an_answer_resets_it() {
    // Support: soon to be overdue after 3 minutes, overdue after 5 (the defaults).
    let mut state = given(vec![starting(1, 0, customer_writes("web", "v-1", "m-1"))]);
    expect![[r#""#]].assert_eq(&when(&mut state, at(179, tick())));
    expect![[r#"
        180s ConversationSoonOverdue {"conversation":"00000000-0000-0000-0000-000000000001","unanswered_since":0}
    "#]].assert_eq(&when(&mut state, at(180, tick())));
    expect![[r#"
        300s ConversationOverdue {"conversation":"00000000-0000-0000-0000-000000000001","unanswered_since":0}
    "#]].assert_eq(&when(&mut state, at(300, tick())));
    // Sales (no re-offer for want of a reply): answered at 201 s, nothing more is due.
    let mut state = given(vec![
        at(0, log_in("carol", "sales")),
        at(0, ready("carol")),
        starting(1, 0, customer_writes("shop", "v-1", "m-1")),
        at(10, accept("carol", 1)),
        at(200, tick()),
        at(201, reply("carol", 1, "c-1")),
    ]);
    expect![[r#""#]].assert_eq(&when(&mut state, at(400, tick())));
}

#[test]
fn agents_are_reminded_once_after_the_queues_time_since_the_first_unanswered_message() {
    // Support reminds after 90 s.
    let mut state = given(vec![
        at(0, log_in("bob", "support")),
        at(0, ready("bob")),
        starting(1, 0, customer_writes("web", "v-1", "m-1")),
        at(10, accept("bob", 1)),
    ]);
    expect![[r#"
        90s AgentsReminded {"conversation":"00000000-0000-0000-0000-000000000001","agents":["bob"],"reason":"unanswered","since":0}
    "#]].assert_eq(&when(&mut state, at(90, tick())));
    expect![[r#"
        100s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
    "#]].assert_eq(&when(&mut state, at(100, customer_writes("web", "v-1", "m-2"))));
}

#[test]
fn agents_are_reminded_of_every_new_message_when_the_queue_says_so() {
    // Sales reminds on every message.
    let mut state = given(vec![
        at(0, log_in("carol", "sales")),
        at(0, ready("carol")),
        starting(1, 0, customer_writes("shop", "v-1", "m-1")),
        at(10, accept("carol", 1)),
    ]);
    expect![[r#"
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
        20s AgentsReminded {"conversation":"00000000-0000-0000-0000-000000000001","agents":["carol"],"reason":"new_message"}
    "#]].assert_eq(&when(&mut state, at(20, customer_writes("shop", "v-1", "m-2"))));
}

#[test]
fn no_reply_within_the_limit_re_offers_the_conversation_queue_wide_before_it_becomes_overdue() {
    // Support takes a conversation from agents who have not answered for 150 s, before it is
    // soon to be overdue (180 s): a queue is its team, so the re-offer goes to the queue.
    let mut state = given(vec![
        at(0, log_in("bob", "support")),
        at(0, ready("bob")),
        at(0, log_in("alice", "support")),
        starting(1, 1, customer_writes("web", "v-1", "m-1")),
        at(10, accept("bob", 1)),
        at(20, ready("alice")),
    ]);
    expect![[r#"
        151s AgentsReminded {"conversation":"00000000-0000-0000-0000-000000000001","agents":["bob"],"reason":"unanswered","since":1000}
        151s ConversationReclaimed {"conversation":"00000000-0000-0000-0000-000000000001","agents":["bob"],"reason":"no_reply","unanswered_since":1000}
        151s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        151s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice"],"eligible":1,"tie_break":"only_eligible","expires_at":181000}
    "#]].assert_eq(&when(&mut state, at(151, tick())));
}

#[test]
fn a_conversation_without_a_customer_message_for_the_queues_limit_is_closed_by_the_engine() {
    // Support closes after 30 minutes of customer silence (24 hours by default).
    let mut state = given(vec![
        at(0, log_in("bob", "support")),
        at(0, ready("bob")),
        starting(1, 0, customer_writes("web", "v-1", "m-1")),
        at(10, accept("bob", 1)),
        at(20, reply("bob", 1, "b-1")),
    ]);
    expect![[r#"
        1800s ConversationExpired {"conversation":"00000000-0000-0000-0000-000000000001","last_customer_message_at":0}
    "#]].assert_eq(&when(&mut state, at(1_800, tick())));
    expect![[r#"
        1801s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000000","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        1801s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000000","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
        1801s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000000","queue":"support","priority":0}
        1801s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000000","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":1831000}
    "#]].assert_eq(&when(&mut state, at(1_801, customer_writes("web", "v-1", "m-2"))));
}

#[test]
fn an_agent_whose_console_falls_silent_is_disconnected_and_nothing_waits_on_them() {
    // The default heartbeat timeout is 60 s. Bob's console beats, then falls silent while an
    // offer rings for him: the offer is withdrawn and goes to Alice.
    let mut state = given(vec![
        at(0, log_in("bob", "support")),
        at(0, ready("bob")),
        at(0, heartbeat("bob")),
        at(2, log_in("alice", "support")),
        at(2, ready("alice")),
    ]);
    // Beats closer together than a quarter of the timeout are not recorded.
    expect![[r#""#]].assert_eq(&when(&mut state, at(10, heartbeat("bob"))));
    expect![[r#"
        15s AgentHeartbeatRecorded {"agent":"bob"}
    "#]]
    .assert_eq(&when(&mut state, at(15, heartbeat("bob"))));
    when(
        &mut state,
        starting(1, 50, customer_writes("web", "v-1", "m-1")),
    );
    assert_eq!(
        state.next_deadline(),
        Some(routing_core::Timestamp::from_millis(75_000))
    );
    expect![[r#"
        75s AgentDisconnected {"agent":"bob","last_heartbeat_at":15000}
        75s OfferRescinded {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","reason":"agent_disconnected"}
        75s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice"],"eligible":1,"tie_break":"only_eligible","expires_at":105000}
    "#]].assert_eq(&when(&mut state, at(75, tick())));
}

#[test]
fn an_agent_who_closes_the_console_is_disconnected_and_their_unanswered_conversations_rerouted() {
    let mut state = given(vec![
        at(0, log_in("bob", "support")),
        at(0, ready("bob")),
        starting(1, 1, customer_writes("web", "v-1", "m-1")),
        at(2, accept("bob", 1)),
        at(3, log_in("alice", "support")),
        at(4, ready("alice")),
    ]);
    expect![[r#"
        10s AgentDisconnected {"agent":"bob","last_heartbeat_at":null}
        10s ConversationReclaimed {"conversation":"00000000-0000-0000-0000-000000000001","agents":["bob"],"reason":"agent_disconnected","unanswered_since":1000}
        10s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        10s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice"],"eligible":1,"tie_break":"only_eligible","expires_at":40000}
    "#]].assert_eq(&when(&mut state, at(10, disconnect("bob"))));
    expect![[r#"
        rejected: agent 'bob' is already disconnected
    "#]]
    .assert_eq(&when(&mut state, at(11, disconnect("bob"))));
    expect![[r#"
        12s AgentBecameReady {"agent":"bob"}
    "#]]
    .assert_eq(&when(&mut state, at(12, ready("bob"))));
}

#[test]
fn instagram_messages_are_at_most_1000_characters() {
    let mut config = centre();
    config.connectors.insert(
        routing_core::ConnectorId::new("ig"),
        routing_core::ConnectorConfig {
            channel: routing_core::Channel::InstagramDm,
            queue: routing_core::QueueId::new("support"),
            priority: 0,
            skills: Default::default(),
            templates: Vec::new(),
        },
    );
    for queue in config.queues.values_mut() {
        queue.channels.insert(routing_core::Channel::InstagramDm);
    }
    config
        .agents
        .get_mut(&routing_core::AgentId::new("alice"))
        .unwrap()
        .capacity
        .insert(routing_core::Channel::InstagramDm, 1);
    let mut dm = customer_writes("ig", "ig-user-1", "mid.1");
    if let routing_core::Command::ReceiveCustomerMessage { channel, .. } = &mut dm {
        *channel = routing_core::Channel::InstagramDm;
    }
    let mut state = given_in(
        config,
        vec![starting(1, 0, dm), at(1, take_from_waiting("alice", 1))],
    );
    expect![[r#"
        rejected: instagram_dm messages are at most 1000 characters; this one has 1001
    "#]]
    .assert_eq(&when(
        &mut state,
        at(2, reply_with("alice", 1, &"x".repeat(1001), None)),
    ));
    let exactly = when(
        &mut state,
        at(3, reply_with("alice", 1, &"x".repeat(1000), None)),
    );
    assert!(exactly.contains("AgentMessageSent"), "{exactly}");
}

#[test]
fn whatsapp_free_text_only_within_24_hours_of_the_customers_last_message_then_a_template() {
    let mut state = given(vec![
        starting(1, 0, customer_writes("wa", "+420600000001", "wamid.1")),
        at(1, take_from_waiting("bob", 1)),
        at(2, reply("bob", 1, "b-1")),
    ]);
    let day = 24 * 3600;
    expect![[r#"
        rejected: the customer last wrote more than 24 hours ago: on whatsapp only a template may be sent
    "#]].assert_eq(&when(
        &mut state,
        at(day + 1, reply_with("bob", 1, "Any news?", None)),
    ));
    expect![[r#"
        86402s AgentMessageSent {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","message_id":"t","text":"Your order shipped","template":"order_update","outbox":true,"email_fallback":null}
    "#]].assert_eq(&when(
        &mut state,
        at(
            day + 2,
            reply_with("bob", 1, "Your order shipped", Some("order_update")),
        ),
    ));
}

#[test]
fn where_a_connector_lists_its_approved_templates_only_those_are_sent() {
    let mut config = centre();
    if let Some(wa) = config
        .connectors
        .get_mut(&routing_core::ConnectorId::new("wa"))
    {
        wa.templates = vec!["order_update".into(), "follow_up".into()];
    }
    let mut state = given_in(
        config,
        vec![
            starting(1, 0, customer_writes("wa", "+420600000001", "wamid.1")),
            at(1, take_from_waiting("bob", 1)),
        ],
    );
    let day = 24 * 3600;
    expect![[r#"
        rejected: 'discount' is not an approved template of this connector; choose one of: order_update, follow_up
    "#]].assert_eq(&when(
        &mut state,
        at(day + 1, reply_with("bob", 1, "10% off", Some("discount"))),
    ));
    let sent = when(
        &mut state,
        at(
            day + 2,
            reply_with("bob", 1, "Your order shipped", Some("follow_up")),
        ),
    );
    assert!(sent.contains("AgentMessageSent"), "{sent}");
}

#[test]
fn an_agent_starts_a_conversation_only_with_a_contact_who_has_written_before() {
    let mut state = given(vec![
        starting(1, 0, customer_writes("wa", "+420600000001", "wamid.1")),
        at(1, take_from_waiting("bob", 1)),
        at(2, close("bob", 1, Some("resolved"))),
    ]);
    expect![[r#"
        rejected: contact '+420600000999' has never written through connector 'wa': outbound messages go only to contacts who have written before
    "#]].assert_eq(&when(
        &mut state,
        starting(2, 10, start_outbound("bob", "wa", "+420600000999", None)),
    ));
    expect![[r#"
        10s OutboundConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"wa","channel":"whatsapp","contact":"+420600000001","queue":"support","agent":"bob","customer_wrote_at":0}
        10s AgentMessageSent {"conversation":"00000000-0000-0000-0000-000000000002","agent":"bob","message_id":"o","text":"Hello again","outbox":true,"email_fallback":null}
    "#]].assert_eq(&when(
        &mut state,
        starting(2, 10, start_outbound("bob", "wa", "+420600000001", None)),
    ));
    expect![[r#"
        rejected: contact already has open conversation 00000000-0000-0000-0000-000000000002
    "#]]
    .assert_eq(&when(
        &mut state,
        starting(3, 11, start_outbound("bob", "wa", "+420600000001", None)),
    ));
    // Outside the 24-hour window only a template may start it.
    let mut later = given(vec![
        starting(1, 0, customer_writes("wa", "+420600000001", "wamid.1")),
        at(1, take_from_waiting("bob", 1)),
        at(2, close("bob", 1, Some("resolved"))),
    ]);
    expect![[r#"
        rejected: the customer last wrote more than 24 hours ago: on whatsapp only a template may be sent
    "#]].assert_eq(&when(
        &mut later,
        starting(
            2,
            90_000,
            start_outbound("bob", "wa", "+420600000001", None),
        ),
    ));
    expect![[r#"
        90000s OutboundConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"wa","channel":"whatsapp","contact":"+420600000001","queue":"support","agent":"bob","customer_wrote_at":0}
        90000s AgentMessageSent {"conversation":"00000000-0000-0000-0000-000000000002","agent":"bob","message_id":"o","text":"Hello again","template":"follow_up","outbox":true,"email_fallback":null}
    "#]].assert_eq(&when(
        &mut later,
        starting(
            2,
            90_000,
            start_outbound("bob", "wa", "+420600000001", Some("follow_up")),
        ),
    ));
}

#[test]
fn a_known_customer_writing_again_within_the_window_is_offered_to_their_last_agent_first() {
    let mut config = centre();
    for queue in config.queues.values_mut() {
        queue.last_agent_window_ms = Some(3_600_000);
    }
    let run = |config: routing_core::CentreConfig, again_at: i64| {
        let mut state = given_in(
            config,
            vec![
                at(0, log_in("bob", "support")),
                at(0, ready("bob")),
                starting(1, 1, customer_writes("web", "v-1", "m-1")),
                at(2, accept("bob", 1)),
                at(3, close("bob", 1, Some("resolved"))),
                at(4, log_in("alice", "support")),
                at(5, ready("alice")),
                // Bob takes and closes another chat, so that Alice is idle the longest.
                starting(2, 6, customer_writes("web", "v-2", "m-2")),
                at(7, accept("bob", 2)),
                at(8, close("bob", 2, Some("resolved"))),
            ],
        );
        when(
            &mut state,
            starting(3, again_at, customer_writes("web", "v-1", "m-3")),
        )
    };
    // Within the hour, v-1 goes back to Bob although Alice is idle longer.
    expect![[r#"
        600s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000003","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        600s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000003","message_id":"m-3","text":"text of m-3","kind":"text","attachments":[]}
        600s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000003","queue":"support","priority":0}
        600s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000003","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":2,"tie_break":"last_agent_preferred","expires_at":630000}
    "#]].assert_eq(&run(config.clone(), 600));
    // After it, the strategy decides.
    expect![[r#"
        7200s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000003","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        7200s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000003","message_id":"m-3","text":"text of m-3","kind":"text","attachments":[]}
        7200s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000003","queue":"support","priority":0}
        7200s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000003","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"eligible":2,"tie_break":"strategy_order","expires_at":7230000}
    "#]].assert_eq(&run(config, 7_200));
}

#[test]
fn a_customer_leaving_through_an_unknown_connector_names_the_connector() {
    let mut state = given(vec![]);
    let outcome = when(&mut state, at(10, customer_leaves("nowhere", "v-1")));
    expect![[r#"
        rejected: connector 'nowhere' is not configured
    "#]]
    .assert_eq(&outcome);
}
