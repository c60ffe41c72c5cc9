//! Invariants over random sequences of commands at random (increasing) times: determinism, replay
//! equals live, capacity never exceeded, at most one outstanding offer per conversation, and no
//! conversation left waiting while an eligible free agent exists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use proptest::prelude::*;
use routing_core::codec;
use routing_core::state::{Phase, Presence};
use routing_core::{Event, State};
use std::collections::BTreeMap;
use support::script::{run, script};
use support::*;

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
    for (id, agent) in state.agents() {
        // What the agent's sets say matches what the conversations say.
        for conversation in agent.active.iter().chain(&agent.postponed) {
            let open = state.conversation(conversation);
            prop_assert!(
                open.is_some_and(|c| c.participants.contains(id)),
                "agent {} lists {} but is not in it",
                id,
                conversation
            );
        }
        let counted: u32 = agent.active.len() as u32 + agent.offers.len() as u32;
        prop_assert_eq!(agent.total_load(), counted, "load of {}", id);
    }
    for (id, conversation) in state.conversations() {
        if let Some(owner) = &conversation.grabbed_by {
            prop_assert!(
                conversation.participants.contains(owner),
                "{} owns {} without being in it",
                owner,
                id
            );
        }
    }
    for (conversation, agents) in &offered_to {
        prop_assert_eq!(agents.len(), 1, "{} offered to {:?}", conversation, agents);
        let open = state.conversation(conversation);
        prop_assert!(
            matches!(open.map(|c| c.phase()), Some(Phase::Offered { agent, .. }) if agent == agents[0])
                || open.is_some_and(|c| c.offer.as_ref().is_some_and(|o| o.agent == agents[0])),
            "agent's offers and the conversation's phase disagree for {}",
            conversation
        );
    }
    for (queue, queue_config) in &config.queues {
        if queue_config.mode != routing_core::RoutingMode::Routed {
            // A team queue's conversations wait until someone joins or grabs them.
            continue;
        }
        for waiting in state.waiting_in(queue) {
            let open = state.conversation(&waiting);
            prop_assert!(
                open.is_some(),
                "waiting conversation {} is not open",
                waiting
            );
            let open = open.unwrap();
            let channel = open.channel;
            for (id, agent) in state.agents() {
                // An agent who declined it (rejected, or let it time out) is not offered it again.
                let free = !open.declined_by.contains(id)
                    && agent.can_serve(open)
                    && agent.presence == Presence::Ready
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
