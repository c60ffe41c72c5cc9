//! Team queues (collaboration and grab), skills, the waiting limit, a customer who leaves, pause
//! limits and declined transfers: given what happened, when a command arrives, then these events,
//! or this rejection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use expect_test::expect;
use routing_core::{AgentId, QueueId, Timestamp};
use support::*;

/// dave and erin logged in to the collaboration queue and ready; alice has no rights to it.
fn team_ready() -> routing_core::State {
    given(vec![
        at(10, log_in("dave", "team")),
        at(10, log_in("erin", "team")),
        at(11, ready("dave")),
        at(12, ready("erin")),
    ])
}

#[test]
fn collaboration_the_whole_team_is_notified_and_anyone_with_rights_may_join() {
    let mut state = team_ready();
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"team-web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"team","priority":0}
        20s TeamNotified {"conversation":"00000000-0000-0000-0000-000000000001","queue":"team","mode":"collaboration","agents":["dave","erin"]}
    "#]].assert_eq(&when(
        &mut state,
        starting(1, 20, customer_writes("team-web", "v-1", "m-1")),
    ));
    expect![[r#"
        21s ConversationJoined {"conversation":"00000000-0000-0000-0000-000000000001","agent":"dave","queue":"team","as_admin":false}
    "#]].assert_eq(&when(&mut state, at(21, join("dave", 1))));
    expect![[r#"
        22s ConversationJoined {"conversation":"00000000-0000-0000-0000-000000000001","agent":"erin","queue":"team","as_admin":false}
    "#]].assert_eq(&when(&mut state, at(22, join("erin", 1))));
    expect![[r#"
        rejected: agent 'erin' is already in the conversation
    "#]]
    .assert_eq(&when(&mut state, at(23, join("erin", 1))));
    expect![[r#"
        rejected: agent 'alice' has no rights to queue 'team'
    "#]]
    .assert_eq(&when(&mut state, at(23, join("alice", 1))));
    // Both are in it: either may answer, and when one leaves the other continues.
    expect![[r#"
        24s AgentMessageSent {"conversation":"00000000-0000-0000-0000-000000000001","agent":"erin","message_id":"a-1","text":"text of a-1","outbox":true,"email_fallback":null}
    "#]].assert_eq(&when(&mut state, at(24, reply("erin", 1, "a-1"))));
    expect![[r#"
        25s AgentLeft {"conversation":"00000000-0000-0000-0000-000000000001","agent":"dave","status":null,"remaining":["erin"]}
    "#]].assert_eq(&when(&mut state, at(25, leave("dave", 1))));
}

#[test]
fn collaboration_joining_needs_room_for_the_channel() {
    let mut state = team_ready();
    when(
        &mut state,
        starting(1, 20, customer_writes("team-web", "v-1", "m-1")),
    );
    when(
        &mut state,
        starting(2, 21, customer_writes("team-web", "v-2", "m-2")),
    );
    when(&mut state, at(22, join("erin", 1)));
    expect![[r#"
        rejected: agent 'erin' has no room for another webchat conversation
    "#]]
    .assert_eq(&when(&mut state, at(23, join("erin", 2))));
}

/// alice and dave logged in to the grab queue and ready; erin administers it.
fn grab_team_ready() -> routing_core::State {
    given(vec![
        at(10, log_in("alice", "grab")),
        at(10, log_in("dave", "grab")),
        at(11, ready("alice")),
        at(12, ready("dave")),
        starting(1, 20, customer_writes("grab-web", "v-1", "m-1")),
    ])
}

#[test]
fn grab_the_team_is_notified_exactly_one_agent_wins_and_the_loser_is_told_who_won() {
    let mut state = given(vec![
        at(10, log_in("alice", "grab")),
        at(10, log_in("dave", "grab")),
        at(11, ready("alice")),
        at(12, ready("dave")),
    ]);
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"grab-web","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"grab","priority":0}
        20s TeamNotified {"conversation":"00000000-0000-0000-0000-000000000001","queue":"grab","mode":"grab","agents":["alice","dave"]}
    "#]].assert_eq(&when(
        &mut state,
        starting(1, 20, customer_writes("grab-web", "v-1", "m-1")),
    ));
    expect![[r#"
        21s ConversationGrabbed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"dave","queue":"grab"}
    "#]].assert_eq(&when(&mut state, at(21, grab("dave", 1))));
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 was already grabbed by 'dave'
    "#]]
    .assert_eq(&when(&mut state, at(21, grab("alice", 1))));
    // After the grab, the others can neither join nor take it from the list.
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 was already grabbed by 'dave'
    "#]]
    .assert_eq(&when(&mut state, at(22, join("alice", 1))));
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 was already grabbed by 'dave'
    "#]]
    .assert_eq(&when(&mut state, at(22, take_from_waiting("alice", 1))));
}

#[test]
fn grab_team_admins_join_a_grabbed_conversation_but_do_not_grab() {
    let mut state = grab_team_ready();
    expect![[r#"
        rejected: agent 'erin' administers queue 'grab': admins join conversations, they do not grab them
    "#]].assert_eq(&when(&mut state, at(21, grab("erin", 1))));
    when(&mut state, at(22, grab("dave", 1)));
    expect![[r#"
        23s ConversationJoined {"conversation":"00000000-0000-0000-0000-000000000001","agent":"erin","queue":"grab","as_admin":true}
    "#]].assert_eq(&when(&mut state, at(23, join("erin", 1))));
}

#[test]
fn grab_agents_grab_rather_than_join_and_taking_from_the_list_is_a_grab() {
    let mut state = grab_team_ready();
    expect![[r#"
        rejected: in grab queue 'grab' agents grab a conversation; only the team's admins join one
    "#]]
    .assert_eq(&when(&mut state, at(21, join("dave", 1))));
    expect![[r#"
        22s ConversationGrabbed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"dave","queue":"grab"}
    "#]].assert_eq(&when(&mut state, at(22, take_from_waiting("dave", 1))));
    expect![[r#"
        rejected: conversation 00000000-0000-0000-0000-000000000001 was already grabbed by 'dave'
    "#]]
    .assert_eq(&when(&mut state, at(23, grab("alice", 1))));
}

#[test]
fn grab_when_the_owner_leaves_the_conversation_is_up_for_grabs_again() {
    let mut state = grab_team_ready();
    when(&mut state, at(21, grab("dave", 1)));
    expect![[r#"
        22s AgentLeft {"conversation":"00000000-0000-0000-0000-000000000001","agent":"dave","status":null,"remaining":[]}
        22s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"grab","priority":0}
        22s TeamNotified {"conversation":"00000000-0000-0000-0000-000000000001","queue":"grab","mode":"grab","agents":["alice","dave"]}
    "#]].assert_eq(&when(&mut state, at(22, leave("dave", 1))));
    expect![[r#"
        23s ConversationGrabbed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","queue":"grab"}
    "#]].assert_eq(&when(&mut state, at(23, grab("alice", 1))));
}

#[test]
fn joining_and_grabbing_belong_to_their_modes() {
    let mut state = grab_team_ready();
    when(
        &mut state,
        starting(2, 21, customer_writes("team-web", "v-2", "m-2")),
    );
    when(&mut state, at(21, log_in("bob", "support")));
    when(
        &mut state,
        starting(3, 22, customer_writes("web", "v-3", "m-3")),
    );
    expect![[r#"
        rejected: queue 'support' routes each conversation to one agent at a time: accept an offer or take it from the waiting list
    "#]].assert_eq(&when(&mut state, at(23, join("bob", 3))));
    expect![[r#"
        rejected: queue 'team' is not a grab queue: its conversations are not grabbed
    "#]]
    .assert_eq(&when(&mut state, at(23, grab("dave", 2))));
    expect![[r#"
        rejected: agent 'bob' has no rights to queue 'grab'
    "#]]
    .assert_eq(&when(&mut state, at(23, grab("bob", 1))));
}

#[test]
fn skills_a_conversation_that_needs_a_skill_goes_only_to_an_agent_who_has_it() {
    // bob is idle the longest, but only alice speaks Spanish.
    let mut state = given(vec![at(10, log_in("bob", "support")), at(11, ready("bob"))]);
    expect![[r#"
        20s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"es","channel":"webchat","contact":"v-1","contact_name":null}
        20s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"text of m-1","kind":"text","attachments":[]}
        20s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0,"skills":["spanish"]}
    "#]].assert_eq(&when(
        &mut state,
        starting(1, 20, customer_writes("es", "v-1", "m-1")),
    ));
    when(&mut state, at(21, log_in("alice", "support")));
    expect![[r#"
        22s AgentBecameReady {"agent":"alice"}
        22s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":52000}
    "#]].assert_eq(&when(&mut state, at(22, ready("alice"))));
    // A conversation without needs still goes to the agent idle the longest.
    expect![[r#"
        23s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"web","channel":"webchat","contact":"v-2","contact_name":null}
        23s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
        23s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","priority":0}
        23s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob","alice"],"eligible":2,"tie_break":"strategy_order","expires_at":53000}
    "#]].assert_eq(&when(
        &mut state,
        starting(2, 23, customer_writes("web", "v-2", "m-2")),
    ));
}

#[test]
fn skills_an_agent_who_frees_up_is_offered_only_what_they_can_serve() {
    let mut state = given(vec![
        starting(1, 10, customer_writes("es", "v-1", "m-1")),
        starting(2, 11, customer_writes("web", "v-2", "m-2")),
        at(12, log_in("bob", "support")),
    ]);
    // The Spanish conversation is older, but bob cannot serve it: he is offered the next one.
    expect![[r#"
        13s AgentBecameReady {"agent":"bob"}
        13s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":43000}
    "#]].assert_eq(&when(&mut state, at(13, ready("bob"))));
}

#[test]
fn a_conversation_that_reaches_the_waiting_limit_overflows_to_the_next_queue() {
    let mut state = given(vec![
        at(10, log_in("dave", "grab")),
        at(10, log_in("bob", "support")),
        at(11, ready("dave")),
        at(12, ready("bob")),
        starting(1, 20, customer_writes("grab-web", "v-1", "m-1")),
    ]);
    // Nobody grabbed it in 4 minutes (the grab queue's limit): it moves to support.
    expect![[r#"
        259s ConversationSoonOverdue {"conversation":"00000000-0000-0000-0000-000000000001","unanswered_since":20000}
    "#]].assert_eq(&when(&mut state, at(259, tick())));
    expect![[r#"
        260s WaitLimitReached {"conversation":"00000000-0000-0000-0000-000000000001","queue":"grab","waiting_since":20000,"then":"overflowed","to":"support"}
        260s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
        260s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":290000}
    "#]].assert_eq(&when(&mut state, at(260, tick())));
}

/// The test centre, with support closing a conversation nobody took within two minutes.
fn support_closing_after_two_minutes_of_waiting() -> routing_core::CentreConfig {
    let mut config = centre();
    config
        .queues
        .get_mut(&QueueId::new("support"))
        .unwrap()
        .max_wait = Some(routing_core::MaxWait {
        after_ms: 120_000,
        then: routing_core::AfterMaxWait::Close,
    });
    config
}

#[test]
fn a_conversation_that_reaches_the_waiting_limit_is_closed_unanswered_when_the_queue_says_so() {
    let mut state = given_in(
        support_closing_after_two_minutes_of_waiting(),
        vec![
            at(10, log_in("bob", "support")),
            starting(1, 20, customer_writes("web", "v-1", "m-1")),
            at(115, ready("bob")),
        ],
    );
    // The limit counts from when it entered the queue, not from the offer; the offer ringing
    // then is withdrawn.
    expect![[r#"
        140s OfferRescinded {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","reason":"wait_limit_reached"}
        140s WaitLimitReached {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","waiting_since":20000,"then":"closed"}
    "#]].assert_eq(&when(&mut state, at(140, tick())));
    // The customer's next message starts a new conversation.
    expect![[r#"
        150s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000002","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        150s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000002","message_id":"m-2","text":"text of m-2","kind":"text","attachments":[]}
        150s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","priority":0}
        150s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"only_eligible","expires_at":180000}
    "#]].assert_eq(&when(
        &mut state,
        starting(2, 150, customer_writes("web", "v-1", "m-2")),
    ));
}

#[test]
fn an_answered_conversation_is_not_subject_to_the_waiting_limit() {
    let mut state = given_in(
        support_closing_after_two_minutes_of_waiting(),
        vec![
            at(10, log_in("bob", "support")),
            at(11, ready("bob")),
            starting(1, 20, customer_writes("web", "v-1", "m-1")),
            at(25, accept("bob", 1)),
            at(30, reply("bob", 1, "a-1")),
        ],
    );
    expect![[r#""#]].assert_eq(&when(&mut state, at(200, tick())));
}

#[test]
fn the_customer_left_while_it_rang_is_the_offers_outcome_and_the_conversation_ends_unanswered() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
        starting(2, 21, customer_writes("web", "v-2", "m-2")),
    ]);
    // bob's chat slot goes to the next customer at once.
    expect![[r#"
        25s OfferRescinded {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","reason":"customer_left"}
        25s CustomerLeft {"conversation":"00000000-0000-0000-0000-000000000001","closed":true}
        25s ConversationOffered {"conversation":"00000000-0000-0000-0000-000000000002","queue":"support","agent":"bob","strategy":"longest_idle","candidates":["bob"],"eligible":1,"tie_break":"became_free_while_waiting","expires_at":55000}
    "#]].assert_eq(&when(&mut state, at(25, customer_leaves("web", "v-1"))));
    expect![[r#"
        rejected: contact 'v-1' has no open conversation through connector 'web'
    "#]]
    .assert_eq(&when(&mut state, at(26, customer_leaves("web", "v-1"))));
}

#[test]
fn a_customer_who_leaves_an_answered_conversation_waits_on_nobody_until_an_agent_closes_it() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
        at(21, accept("bob", 1)),
    ]);
    expect![[r#"
        25s CustomerLeft {"conversation":"00000000-0000-0000-0000-000000000001","closed":false}
    "#]]
    .assert_eq(&when(&mut state, at(25, customer_leaves("web", "v-1"))));
    // No overdue, reminder or re-offer follows: nobody waits for an answer.
    assert_eq!(
        state.next_deadline(),
        Some(Timestamp::from_millis(20_000 + 1_800_000)),
        "only the automatic close is left"
    );
    expect![[r#"
        30s ConversationClosed {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob","status":"resolved"}
    "#]].assert_eq(&when(&mut state, at(30, close("bob", 1, Some("resolved")))));
}

#[test]
fn a_pause_that_overruns_its_limit_is_reported_once() {
    let mut state = given(vec![
        at(10, log_in("bob", "support")),
        at(11, ready("bob")),
        at(20, pause("bob", "break")),
    ]);
    assert_eq!(state.next_deadline(), Some(Timestamp::from_millis(620_000)));
    expect![[r#""#]].assert_eq(&when(&mut state, at(619, tick())));
    expect![[r#"
        700s PauseLimitExceeded {"agent":"bob","reason":"break","paused_at":20000,"limit_ms":600000}
    "#]]
    .assert_eq(&when(&mut state, at(700, tick())));
    assert_eq!(state.next_deadline(), None, "reported once per pause");
    // A pause with a reason that has no limit is never reported; going ready ends the watch.
    when(&mut state, at(710, ready("bob")));
    when(&mut state, at(720, pause("bob", "lunch")));
    assert_eq!(state.next_deadline(), None);
}

#[test]
fn a_declined_transfer_goes_to_the_queue_when_the_queue_says_so() {
    let mut config = centre();
    for queue in config.queues.values_mut() {
        queue.on_transfer_declined = routing_core::TransferDeclined::ToQueue;
    }
    let mut state = given_in(
        config,
        vec![
            at(10, log_in("alice", "support")),
            at(11, ready("alice")),
            starting(1, 12, customer_writes("web", "v-1", "m-1")),
            at(13, accept("alice", 1)),
            at(14, log_in("bob", "support")),
            at(15, ready("bob")),
            at(20, transfer_to_agent("alice", 1, "bob")),
        ],
    );
    // Neither alice (who handed it on) nor bob (who declined it) is offered it again.
    expect![[r#"
        21s OfferRejected {"conversation":"00000000-0000-0000-0000-000000000001","agent":"bob"}
        21s TransferredToQueue {"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","queue":"support"}
        21s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
    "#]].assert_eq(&when(&mut state, at(21, reject("bob", 1))));
    assert_eq!(
        state.waiting_in(&QueueId::new("support")),
        vec![conversation(1)]
    );
    let free = |agent: &str| {
        state
            .agent(&AgentId::new(agent))
            .is_some_and(|a| a.has_room_for(routing_core::Channel::Webchat))
    };
    assert!(
        free("alice") && free("bob"),
        "both could take it, neither is offered it"
    );
}

/// Runs commands, returning the state and the log they produced.
fn live(commands: Vec<At>) -> (routing_core::State, Vec<routing_core::Event>) {
    let mut state = routing_core::State::new(centre());
    let mut log = Vec::new();
    for step in commands {
        log.extend(
            state
                .execute(step.command, &context(step.seconds, step.new_conversation))
                .unwrap(),
        );
    }
    (state, log)
}

#[test]
fn every_deadline_survives_a_restart_and_fires_at_the_same_time() {
    // An offer ringing, a customer waiting for an answer (overdue, reminder, no-reply), a
    // conversation waiting in the grab queue (waiting limit), a watched console, a pause with a
    // limit, and every automatic close.
    let (mut running, log) = live(vec![
        at(10, log_in("alice", "support")),
        at(10, log_in("bob", "support")),
        at(11, ready("alice")),
        at(12, heartbeat("alice")),
        starting(1, 20, customer_writes("web", "v-1", "m-1")),
        at(21, accept("alice", 1)),
        starting(2, 22, customer_writes("web", "v-2", "m-2")),
        starting(3, 23, customer_writes("grab-web", "v-3", "m-3")),
        at(24, ready("bob")),
        at(25, pause("bob", "break")),
        starting(4, 26, customer_writes("wa", "v-4", "m-4")),
    ]);
    let mut restarted = routing_core::State::new(centre());
    for event in &log {
        restarted.apply(event);
    }
    assert_eq!(restarted, running);
    let mut fired = 0;
    for seconds in (30..4000).step_by(7) {
        let now = context(seconds, 100);
        assert_eq!(restarted.next_deadline(), running.next_deadline());
        let expected = running.execute(tick(), &now).unwrap();
        assert_eq!(restarted.execute(tick(), &now).unwrap(), expected);
        fired += expected.len();
    }
    assert!(fired > 10, "the deadlines fired ({fired} events)");
}
