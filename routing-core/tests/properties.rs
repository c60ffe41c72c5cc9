//! Invariants over random sequences of commands at random (increasing) times: determinism, replay
//! equals live, capacity never exceeded, at most one outstanding offer per conversation, and no
//! conversation left waiting while an eligible free agent exists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use proptest::prelude::*;
use routing_core::codec;
use routing_core::state::{Phase, Presence};
use routing_core::{Command, Event, State, decide};
use std::collections::BTreeMap;
use support::*;

const AGENTS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const QUEUES: [&str; 3] = ["support", "sales", "billing"];
const CONNECTORS: [&str; 3] = ["web", "shop", "wa"];

/// Commands drawn with ids from small pools so that they often hit the same agents and
/// conversations; many are invalid on purpose (rejections must leave no trace).
fn command() -> impl Strategy<Value = Command> {
    let agent = prop::sample::select(&AGENTS[..]);
    let queue = prop::sample::select(&QUEUES[..]);
    let conversation = 1u128..12;
    prop_oneof![
        4 => (prop::sample::select(&CONNECTORS[..]), 0u8..6, 0u16..1000)
            .prop_map(|(c, contact, m)| customer_writes(c, &format!("contact-{contact}"), &format!("m-{m}"))),
        2 => (agent.clone(), queue.clone()).prop_map(|(a, q)| log_in(a, q)),
        1 => (agent.clone(), queue).prop_map(|(a, q)| log_out(a, q)),
        2 => agent.clone().prop_map(ready),
        1 => agent.clone().prop_map(|a| pause(a, "break")),
        3 => (agent.clone(), conversation.clone()).prop_map(|(a, c)| accept(a, c)),
        2 => (agent.clone(), conversation.clone()).prop_map(|(a, c)| reply(a, c, "r")),
        2 => (agent, conversation, prop::option::of(Just("resolved")))
            .prop_map(|(a, c, s)| close(a, c, s)),
    ]
}

/// A step of a script: a command drawn blindly, or one aimed at what the state holds now (an
/// outstanding offer, an active conversation), so that accepts and closes really happen often.
#[derive(Debug, Clone)]
enum Step {
    Blind(Command),
    AcceptAnOffer(usize),
    ReplyInAConversation(usize),
    CloseAConversation(usize, bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => command().prop_map(Step::Blind),
        3 => any::<usize>().prop_map(Step::AcceptAnOffer),
        1 => any::<usize>().prop_map(Step::ReplyInAConversation),
        2 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(n, s)| Step::CloseAConversation(n, s)),
    ]
}

/// Steps with the gap (in seconds) since the previous one.
fn script() -> impl Strategy<Value = Vec<(i64, Step)>> {
    prop::collection::vec((0i64..120, step()), 1..100)
}

/// Turns a step into a command against the current state.
fn resolve(state: &State, step: &Step) -> Command {
    let pick = |n: usize, want_offers: bool| {
        let pairs: Vec<_> = state
            .agents()
            .flat_map(|(id, agent)| {
                let set = if want_offers {
                    &agent.offers
                } else {
                    &agent.active
                };
                set.iter().map(move |c| (id.clone(), *c))
            })
            .collect();
        if pairs.is_empty() {
            None
        } else {
            Some(pairs[n % pairs.len()].clone())
        }
    };
    let fallback = || ready("alice");
    match step {
        Step::Blind(command) => command.clone(),
        Step::AcceptAnOffer(n) => {
            pick(*n, true).map_or_else(fallback, |(agent, conversation)| Command::AcceptOffer {
                agent,
                conversation,
            })
        }
        Step::ReplyInAConversation(n) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| {
                Command::SendAgentMessage {
                    agent,
                    conversation,
                    message_id: routing_core::ids::MessageId::new("r"),
                    text: "reply".into(),
                }
            })
        }
        Step::CloseAConversation(n, with_status) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| Command::Close {
                agent,
                conversation,
                status: with_status.then(|| "resolved".to_owned()),
            })
        }
    }
}

/// Runs a script live: decide, apply. Returns the state, every accepted event, and the state after
/// each step (for the invariants).
fn run(script: &[(i64, Step)]) -> (State, Vec<Event>, Vec<State>) {
    let mut state = State::new(centre());
    let mut log = Vec::new();
    let mut states = Vec::new();
    let mut seconds = 0;
    let mut next_conversation = 1;
    for (gap, step) in script {
        seconds += gap;
        let command = resolve(&state, step);
        if let Ok(events) = decide(&state, command, &context(seconds, next_conversation)) {
            if events
                .iter()
                .any(|e| matches!(e.kind, routing_core::EventKind::ConversationStarted(_)))
            {
                next_conversation += 1;
            }
            for event in &events {
                state.apply(event);
            }
            log.extend(events);
        }
        states.push(state.clone());
    }
    (state, log, states)
}

fn encoded(events: &[Event]) -> Vec<(String, Vec<u8>, i64)> {
    events
        .iter()
        .map(|e| {
            let encoded = codec::encode(e).unwrap();
            (
                encoded.event_type.to_owned(),
                encoded.payload,
                e.at.as_millis(),
            )
        })
        .collect()
}

fn check_invariants(state: &State) -> Result<(), TestCaseError> {
    let config = state.config().clone();
    let mut offered_to: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for (id, agent) in state.agents() {
        let capacity = &config.agents[id];
        for (channel, load) in &agent.load {
            prop_assert!(
                *load <= capacity.capacity_for(*channel),
                "agent {id} has {load} {channel} conversations, capacity {}",
                capacity.capacity_for(*channel)
            );
        }
        for conversation in &agent.offers {
            offered_to
                .entry(*conversation)
                .or_default()
                .push(id.clone());
        }
    }
    for (conversation, agents) in &offered_to {
        prop_assert_eq!(agents.len(), 1, "{} offered to {:?}", conversation, agents);
        let open = state.conversation(conversation);
        prop_assert!(
            matches!(open.map(|c| &c.phase), Some(Phase::Offered { agent, .. }) if *agent == agents[0]),
            "agent's offers and the conversation's phase disagree for {}",
            conversation
        );
    }
    for queue in config.queues.keys() {
        for waiting in state.waiting_in(queue) {
            let channel = state.conversation(&waiting).map(|c| c.channel);
            prop_assert!(
                channel.is_some(),
                "waiting conversation {} is not open",
                waiting
            );
            let channel = channel.unwrap_or(routing_core::Channel::Webchat);
            for (id, agent) in state.agents() {
                let free = agent.presence == Presence::Ready
                    && agent.logged_in.contains(queue)
                    && agent.load_for(channel) < config.agents[id].capacity_for(channel);
                prop_assert!(
                    !free,
                    "conversation {} waits in {} while agent {} is free for it",
                    waiting,
                    queue,
                    id
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_same_commands_at_the_same_times_give_the_same_events_byte_for_byte(script in script()) {
        let (_, first, _) = run(&script);
        let (_, second, _) = run(&script);
        prop_assert_eq!(encoded(&first), encoded(&second));
    }

    #[test]
    fn state_rebuilt_from_the_log_equals_the_live_state(script in script()) {
        let (live, log, _) = run(&script);
        let mut replayed = State::new(centre());
        for event in &log {
            // Through the stored shape, as a restart would read it.
            let stored = codec::encode(event).unwrap();
            let decoded = codec::decode(stored.event_type, stored.schema_version, &stored.payload, event.at).unwrap();
            prop_assert_eq!(&decoded, event);
            replayed.apply(&decoded);
        }
        prop_assert_eq!(replayed, live);
    }

    #[test]
    fn routing_safety_holds_after_every_command(script in script()) {
        let (_, _, states) = run(&script);
        for state in &states {
            check_invariants(state)?;
        }
    }
}
