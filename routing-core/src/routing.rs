//! Routing decisions: which agent gets a conversation, and which conversations a freed agent gets.
//!
//! Pure functions of the state plus the changes the current command is about to make. Candidates
//! are ranked by an explicit total order (the strategy's key, then the agent id) so that the same
//! state always gives the same choice, and the event records why.

use crate::config::{Channel, RoutingStrategy};
use crate::event::ConversationOffered;
use crate::ids::{AgentId, ConversationId, QueueId};
use crate::state::{AgentState, Presence, State};
use std::collections::BTreeMap;

/// Whether `agent` may be offered one more conversation of `channel` in `queue`, given the load it
/// will have once the current command's own events are applied.
fn has_room(state: &State, id: &AgentId, agent: &AgentState, channel: Channel, load: u32) -> bool {
    let capacity = state
        .config()
        .agents
        .get(id)
        .map_or(0, |config| config.capacity_for(channel));
    agent.presence == Presence::Ready && load < capacity
}

/// Picks the agent a new conversation in `queue` is offered to, if any agent is eligible.
///
/// Today this scans the queue's agents; the routing-core issue replaces it with per-queue indexes
/// so that a decision does not grow with the number of agents.
pub(crate) fn choose_agent(
    state: &State,
    conversation: ConversationId,
    queue: &QueueId,
    channel: Channel,
) -> Option<ConversationOffered> {
    let strategy = state.config().queues.get(queue)?.strategy;
    let mut candidates: Vec<(&AgentId, &AgentState)> = state
        .agents()
        .filter(|(id, agent)| {
            agent.logged_in.contains(queue)
                && has_room(state, id, agent, channel, agent.load_for(channel))
        })
        .collect();
    match strategy {
        RoutingStrategy::LongestIdle => {
            candidates.sort_by(|(a_id, a), (b_id, b)| {
                a.free_since.cmp(&b.free_since).then_with(|| a_id.cmp(b_id))
            });
        }
    }
    let (winner, first) = candidates.first()?;
    let tie_break = match candidates.get(1) {
        None => "only eligible agent".to_owned(),
        Some((_, second)) if second.free_since == first.free_since => {
            "equally idle; lowest agent id".to_owned()
        }
        Some(_) => "idle the longest".to_owned(),
    };
    Some(ConversationOffered {
        conversation,
        queue: queue.clone(),
        agent: (*winner).clone(),
        strategy,
        candidates: candidates.iter().map(|(id, _)| (*id).clone()).collect(),
        tie_break,
    })
}

/// The conversations an agent who has just become able to take work is offered, oldest first
/// across the queues they are logged in to, until their capacity is full.
///
/// A conversation is only ever waiting when no eligible agent was free for it, so the agent who
/// just became free is its only candidate. `load` is the agent's load after the command's own
/// events; `queues` the queues they are logged in to after them.
pub(crate) fn fill_agent<'a>(
    state: &State,
    id: &AgentId,
    queues: impl IntoIterator<Item = &'a QueueId>,
    mut load: BTreeMap<Channel, u32>,
) -> Vec<ConversationOffered> {
    let Some(agent) = state.agent(id) else {
        return Vec::new();
    };
    let ready = AgentState {
        presence: Presence::Ready,
        ..agent.clone()
    };
    let mut waiting: Vec<(crate::Timestamp, ConversationId, &QueueId, Channel)> = Vec::new();
    for queue in queues {
        for conversation in state.waiting_in(queue) {
            if let Some(open) = state.conversation(&conversation) {
                waiting.push((open.enqueued_at, conversation, queue, open.channel));
            }
        }
    }
    waiting.sort();
    let mut offers = Vec::new();
    for (_, conversation, queue, channel) in waiting {
        let current = load.get(&channel).copied().unwrap_or(0);
        if !has_room(state, id, &ready, channel, current) {
            continue;
        }
        let Some(strategy) = state.config().queues.get(queue).map(|q| q.strategy) else {
            continue;
        };
        load.insert(channel, current + 1);
        offers.push(ConversationOffered {
            conversation,
            queue: queue.clone(),
            agent: id.clone(),
            strategy,
            candidates: vec![id.clone()],
            tie_break: "only eligible agent: became free while the conversation waited".to_owned(),
        });
    }
    offers
}
