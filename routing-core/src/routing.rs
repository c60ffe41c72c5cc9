//! Routing: which agent a waiting conversation is offered to, and which waiting conversations an
//! agent who gained room is offered.
//!
//! Both walk the indexes in their order (the queue's strategy for agents, priority then age for
//! conversations) and stop at the first match, so a decision costs a few logarithmic steps, not a
//! scan of every agent or every conversation. Ties go to the lower agent id, and the offer records
//! why it went where it went.

use crate::config::{Channel, RoutingMode};
use crate::event::{ConversationOffered, TieBreak};
use crate::execute::Run;
use crate::ids::{AgentId, ConversationId};
use crate::state::{AgentIx, Conversation, QueueIx, Rank, WaitKey};
use crate::time::Timestamp;

/// How many of the best-ranked eligible agents an offer names.
const CANDIDATES_RECORDED: usize = 3;

impl Run<'_> {
    /// Offers what can be offered after the command's own events: conversations first (each to
    /// the best eligible agent), then agents with room (each the best conversations they may take).
    pub(crate) fn dispatch(&mut self) {
        loop {
            if let Some(conversation) = self.to_offer.pop_front() {
                self.offer_conversation(conversation);
            } else if let Some(agent) = self.to_fill.pop_front() {
                self.fill_agent(&agent);
            } else {
                return;
            }
        }
    }

    fn offer_conversation(&mut self, id: ConversationId) {
        let state = &*self.state;
        let Some(conversation) = state.conversation(&id) else {
            return;
        };
        if !conversation.is_waiting() {
            return;
        }
        let Some(queue_id) = conversation.queue.clone() else {
            return;
        };
        let (Some(queue), Some(config)) =
            (state.queue_ix(&queue_id), state.queue_config(&queue_id))
        else {
            return;
        };
        if config.mode != RoutingMode::Routed {
            // A team queue's conversations are joined or grabbed, never offered.
            return;
        }
        let channel = conversation.channel;
        if let Some(window) = config.last_agent_window_ms
            && let Some((last, took_at)) =
                state.last_agent_of(&conversation.connector, &conversation.contact)
            && self.now.millis_since(*took_at) <= window
            && !conversation.declined_by.contains(last)
            && state
                .agent(last)
                .is_some_and(|a| a.is_listed(queue, channel) && a.can_serve(conversation))
        {
            let offer = ConversationOffered {
                conversation: id,
                queue: queue_id,
                agent: last.clone(),
                strategy: config.strategy,
                candidates: vec![last.clone()],
                eligible: u32::try_from(state.indexes().available_count(queue, channel))
                    .unwrap_or(u32::MAX),
                tie_break: TieBreak::LastAgentPreferred,
                expires_at: offer_expiry(self.now, config.offer_timeout_ms),
            };
            self.emit(offer);
            return;
        }
        let mut best: Vec<(Rank, AgentIx)> = Vec::with_capacity(CANDIDATES_RECORDED);
        let mut passed_over = 0usize;
        for (rank, agent) in state.indexes().available(queue, channel) {
            let candidate = state.agent_at(*agent);
            if conversation.declined_by.contains(&candidate.id)
                || !candidate.can_serve(conversation)
            {
                passed_over += 1;
                continue;
            }
            best.push((*rank, *agent));
            if best.len() == CANDIDATES_RECORDED {
                break;
            }
        }
        let Some((winner_rank, winner)) = best.first().copied() else {
            return;
        };
        let eligible = state
            .indexes()
            .available_count(queue, channel)
            .saturating_sub(passed_over);
        let tie_break = describe(winner_rank, best.get(1).map(|(r, _)| *r));
        let offer = ConversationOffered {
            conversation: id,
            queue: queue_id,
            agent: state.agent_at(winner).id.clone(),
            strategy: config.strategy,
            candidates: best
                .iter()
                .map(|(_, a)| state.agent_at(*a).id.clone())
                .collect(),
            eligible: u32::try_from(eligible).unwrap_or(u32::MAX),
            tie_break,
            expires_at: offer_expiry(self.now, config.offer_timeout_ms),
        };
        self.emit(offer);
    }

    /// The best-ranked agent of `queue` free for `conversation`'s channel who is not already in it
    /// (for an invitation to a queue).
    pub(crate) fn best_available(
        &self,
        queue: &crate::QueueId,
        conversation: &Conversation,
    ) -> Option<AgentId> {
        let state = &*self.state;
        let ix = state.queue_ix(queue)?;
        state
            .indexes()
            .available(ix, conversation.channel)
            .map(|(_, agent)| state.agent_at(*agent))
            .find(|agent| {
                !conversation.participants.contains(&agent.id) && agent.can_serve(conversation)
            })
            .map(|agent| agent.id.clone())
    }

    /// Offers an agent the best waiting conversations they may take, until they are full.
    fn fill_agent(&mut self, id: &AgentId) {
        loop {
            let Some(offer) = self.next_for(id) else {
                return;
            };
            self.emit(offer);
        }
    }

    fn next_for(&self, id: &AgentId) -> Option<ConversationOffered> {
        let state = &*self.state;
        let agent = state.agent(id)?;
        if agent.presence != crate::state::Presence::Ready {
            return None;
        }
        let mut best: Option<(WaitKey, QueueIx, Channel)> = None;
        for queue in &agent.logged_in_ix {
            let (queue, Some(config)) = (*queue, state.queue_at(*queue)) else {
                continue;
            };
            if config.mode != RoutingMode::Routed {
                continue;
            }
            for channel in &config.channels {
                if !agent.has_room_for(*channel) {
                    continue;
                }
                let head = state.indexes().waiting_in(queue, *channel).find(|key| {
                    state
                        .conversation(&key.conversation)
                        .is_some_and(|c| !c.declined_by.contains(id) && agent.can_serve(c))
                });
                if let Some(key) = head
                    && best.is_none_or(|(b, _, _)| *key < b)
                {
                    best = Some((*key, queue, *channel));
                }
            }
        }
        let (key, _, _) = best?;
        let conversation = state.conversation(&key.conversation)?;
        let queue_id = conversation.queue.clone()?;
        let config = state.queue_config(&queue_id)?;
        Some(ConversationOffered {
            conversation: key.conversation,
            queue: queue_id,
            agent: id.clone(),
            strategy: config.strategy,
            candidates: vec![id.clone()],
            eligible: 1,
            tie_break: TieBreak::BecameFreeWhileWaiting,
            expires_at: offer_expiry(self.now, config.offer_timeout_ms),
        })
    }
}

pub(crate) fn offer_expiry(now: Timestamp, timeout_ms: u64) -> Timestamp {
    Timestamp::from_millis(
        now.as_millis()
            .saturating_add(i64::try_from(timeout_ms).unwrap_or(i64::MAX)),
    )
}

/// Why the winner beat the runner-up.
fn describe(winner: Rank, runner_up: Option<Rank>) -> TieBreak {
    match runner_up {
        None => TieBreak::OnlyEligible,
        Some(second) if second == winner => TieBreak::EqualRankLowestId,
        Some(_) => TieBreak::StrategyOrder,
    }
}
