//! The indexes that keep routing decisions logarithmic: who is available per (queue, channel),
//! ranked by the queue's strategy; who waits per (queue, channel), in serving order; and every
//! deadline, in time order. They are derived from the rest of the state and maintained by `apply`,
//! so a replay rebuilds them exactly. They must never be changed outside `apply`.

use super::{AgentState, Conversation, Indexed, Presence};
use crate::config::{Channel, QueueConfig, Reminder, RoutingStrategy};
use crate::ids::ConversationId;
use crate::state::QueueConfigRef;
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// An agent's dense index, in configuration (id) order: ties between equal ranks go to the lower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AgentIx(pub(crate) u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct QueueIx(pub(crate) u32);

/// An agent's place in a queue's availability order: lower is offered first.
pub(crate) type Rank = (i64, i64);

/// A conversation's place in its queue: higher priority first, then oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WaitKey {
    pub(crate) priority: Reverse<u8>,
    pub(crate) since: Timestamp,
    pub(crate) conversation: ConversationId,
}

impl WaitKey {
    pub(crate) fn of(conversation: &Conversation) -> Self {
        Self {
            priority: Reverse(conversation.priority),
            since: conversation.waiting_since,
            conversation: conversation.id,
        }
    }
}

/// Something the core must do at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Deadline {
    OfferExpires(ConversationId),
    SoonOverdue(ConversationId),
    Overdue(ConversationId),
    Remind(ConversationId),
    NoReply(ConversationId),
    AutoClose(ConversationId),
    /// An agent's console has been silent for the heartbeat timeout (by the agent's index).
    AgentSilent(u32),
    /// A conversation has waited with nobody in it for its queue's limit.
    MaxWait(ConversationId),
    /// An agent's pause has lasted the limit for its reason (by the agent's index).
    PauseLimit(u32),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Indexes {
    available: BTreeMap<(QueueIx, Channel), BTreeSet<(Rank, AgentIx)>>,
    waiting: BTreeMap<(QueueIx, Channel), BTreeSet<WaitKey>>,
    deadlines: BTreeSet<(Timestamp, Deadline)>,
    waiting_count: usize,
}

/// The rank an agent has under a strategy.
pub(crate) fn rank(strategy: RoutingStrategy, agent: &AgentState) -> Rank {
    match strategy {
        RoutingStrategy::LongestIdle => (agent.idle_since.as_millis(), 0),
        RoutingStrategy::RoundRobin => (i64::try_from(agent.last_offer).unwrap_or(i64::MAX), 0),
        RoutingStrategy::LeastBusy => (i64::from(agent.total_load()), agent.idle_since.as_millis()),
    }
}

/// The (queue, channel) pairs where an agent can be offered a conversation now, with their rank.
pub(crate) fn availability(
    queue_at: &[QueueConfig],
    agent: &AgentState,
) -> Vec<(QueueIx, Channel, Rank)> {
    if agent.presence != Presence::Ready {
        return Vec::new();
    }
    let mut entries = Vec::new();
    for ix in &agent.logged_in_ix {
        let Some(queue_config) = queue_at.get(ix.0 as usize) else {
            continue;
        };
        for channel in &queue_config.channels {
            if agent.has_room_for(*channel) {
                entries.push((*ix, *channel, rank(queue_config.strategy, agent)));
            }
        }
    }
    entries
}

impl Indexes {
    pub(crate) fn list(&mut self, agent: AgentIx, entries: &[(QueueIx, Channel, Rank)]) {
        for (queue, channel, rank) in entries {
            self.available
                .entry((*queue, *channel))
                .or_default()
                .insert((*rank, agent));
        }
    }

    pub(crate) fn unlist(&mut self, agent: AgentIx, entries: &mut Vec<(QueueIx, Channel, Rank)>) {
        for (queue, channel, rank) in entries.drain(..) {
            if let Some(set) = self.available.get_mut(&(queue, channel)) {
                set.remove(&(rank, agent));
            }
        }
    }

    /// Available agents for a queue's channel, best first.
    pub(crate) fn available(
        &self,
        queue: QueueIx,
        channel: Channel,
    ) -> impl Iterator<Item = &(Rank, AgentIx)> {
        self.available.get(&(queue, channel)).into_iter().flatten()
    }

    pub(crate) fn available_count(&self, queue: QueueIx, channel: Channel) -> usize {
        self.available
            .get(&(queue, channel))
            .map_or(0, BTreeSet::len)
    }

    /// Moves a conversation's index entries from `old` to `new`, touching only what differs:
    /// most changes leave its deadlines and its place in the queue as they were.
    pub(super) fn relist_conversation(&mut self, old: &Indexed, new: &Indexed) {
        if old.waiting != new.waiting {
            if let Some((queue, channel, key)) = old.waiting
                && let Some(set) = self.waiting.get_mut(&(queue, channel))
                && set.remove(&key)
            {
                self.waiting_count -= 1;
            }
            if let Some((queue, channel, key)) = new.waiting
                && self
                    .waiting
                    .entry((queue, channel))
                    .or_default()
                    .insert(key)
            {
                self.waiting_count += 1;
            }
        }
        // Only each conversation's earliest deadline is in the global set; when it fires, the
        // state changes and the next one takes its place.
        if old.deadline != new.deadline {
            if let Some(deadline) = old.deadline {
                self.deadlines.remove(&deadline);
            }
            if let Some(deadline) = new.deadline {
                self.deadlines.insert(deadline);
            }
        }
    }

    /// Waiting conversations of a queue's channel, in serving order.
    pub(crate) fn waiting_in(
        &self,
        queue: QueueIx,
        channel: Channel,
    ) -> impl Iterator<Item = &WaitKey> {
        self.waiting.get(&(queue, channel)).into_iter().flatten()
    }

    pub(crate) fn waiting_count(&self) -> usize {
        self.waiting_count
    }

    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    pub(crate) fn move_deadline(
        &mut self,
        old: Option<(Timestamp, Deadline)>,
        new: Option<(Timestamp, Deadline)>,
    ) {
        if let Some(old) = old {
            self.deadlines.remove(&old);
        }
        if let Some(new) = new {
            self.deadlines.insert(new);
        }
    }

    /// The earliest deadline, if it is due at `now`.
    pub(crate) fn first_due(&self, now: Timestamp) -> Option<(Timestamp, Deadline)> {
        self.deadlines.first().copied().filter(|(at, _)| *at <= now)
    }
}

/// Where a conversation belongs in the indexes: its queue's waiting set if it waits, and the
/// earliest of the deadlines its state implies.
pub(super) fn desired(
    conversation: &Conversation,
    queue: Option<QueueIx>,
    config: QueueConfigRef<'_>,
) -> Indexed {
    let mut indexed = Indexed::default();
    if conversation.is_waiting()
        && let Some(queue) = queue
    {
        indexed.waiting = Some((queue, conversation.channel, WaitKey::of(conversation)));
    }
    let id = conversation.id;
    if let Some(offer) = &conversation.offer {
        earliest(
            &mut indexed.deadline,
            (offer.expires_at, Deadline::OfferExpires(id)),
        );
    }
    let Some(config) = config else {
        return indexed;
    };
    let after = |start: Timestamp, ms: u64| {
        Timestamp::from_millis(
            start
                .as_millis()
                .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX)),
        )
    };
    if let Some(since) = conversation.unanswered_since {
        if conversation.overdue_level < 1 {
            earliest(
                &mut indexed.deadline,
                (
                    after(since, config.soon_overdue_after_ms),
                    Deadline::SoonOverdue(id),
                ),
            );
        }
        if conversation.overdue_level < 2 {
            earliest(
                &mut indexed.deadline,
                (after(since, config.overdue_after_ms), Deadline::Overdue(id)),
            );
        }
        let staffed = !conversation.participants.is_empty();
        if let Reminder::AfterMs(ms) = config.reminder
            && staffed
            && !conversation.reminded
        {
            earliest(
                &mut indexed.deadline,
                (after(since, ms), Deadline::Remind(id)),
            );
        }
        if let Some(ms) = config.no_reply_limit_ms
            && staffed
            && !conversation.postponed
        {
            earliest(
                &mut indexed.deadline,
                (after(since, ms), Deadline::NoReply(id)),
            );
        }
    }
    if let Some(max_wait) = &config.max_wait
        && conversation.participants.is_empty()
        && conversation.queue.is_some()
    {
        earliest(
            &mut indexed.deadline,
            (
                after(conversation.waiting_since, max_wait.after_ms),
                Deadline::MaxWait(id),
            ),
        );
    }
    earliest(
        &mut indexed.deadline,
        (
            after(
                conversation.last_customer_message_at,
                config.auto_close_after_ms,
            ),
            Deadline::AutoClose(id),
        ),
    );
    indexed
}

fn earliest(current: &mut Option<(Timestamp, Deadline)>, candidate: (Timestamp, Deadline)) {
    if current.is_none_or(|held| candidate < held) {
        *current = Some(candidate);
    }
}
