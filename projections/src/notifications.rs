//! Live notifications: which events an agent's console must hear about, and which conversations,
//! queues and agents a dashboard must redraw after some events.
//!
//! Both are read off the views as they stand once the events are applied: who is in a
//! conversation is the conversations view's to say, which queues an agent is logged in to the
//! agents view's. This module never decides anything and never formats a message; the API does.

use crate::ReadModels;
use routing_core::event::StreamOf;
use routing_core::{AgentId, ConversationId, Event, EventKind, QueueId};
use std::collections::BTreeSet;

/// Calls `f` with each agent an event names as actor or addressee (not those merely in its
/// conversation) until `f` returns true; returns whether it did. A visitor rather than a list: it
/// runs for every event and every open stream, and must not allocate.
fn any_named(kind: &EventKind, mut f: impl FnMut(&AgentId) -> bool) -> bool {
    use EventKind as K;
    match kind {
        K::ConversationOffered(e) => f(&e.agent),
        K::OfferAccepted(e) => f(&e.agent),
        K::OfferRejected(e) => f(&e.agent),
        K::OfferTimedOut(e) => f(&e.agent),
        K::OfferRescinded(e) => f(&e.agent),
        K::AcceptedFromWaiting(e) => f(&e.agent),
        K::TransferOffered(e) => f(&e.from) || f(&e.to),
        K::TransferredToQueue(e) => f(&e.agent),
        K::InviteOffered(e) => f(&e.by) || f(&e.to),
        K::AgentLeft(e) => f(&e.agent),
        K::ConversationPostponed(e) => f(&e.agent),
        K::ConversationResumed(e) => f(&e.agent),
        K::ConversationClosed(e) => f(&e.agent),
        K::ConversationJoined(e) => f(&e.agent),
        K::ConversationGrabbed(e) => f(&e.agent),
        K::OutboundConversationStarted(e) => f(&e.agent),
        K::TeamNotified(e) => e.agents.iter().any(f),
        K::AgentsReminded(e) => e.agents.iter().any(f),
        K::ConversationReclaimed(e) => e.agents.iter().any(f),
        _ => match kind.stream() {
            StreamOf::Agent(agent) => f(agent),
            StreamOf::Conversation(_)
            | StreamOf::Key(_)
            | StreamOf::Contact(..)
            | StreamOf::Connector(_) => false,
        },
    }
}

/// The agents whose consoles must hear about `event`, read off the views as they stand once it
/// is applied: offers, transfers and invitations to or from them and how they end, their team's
/// notifications and grabs (who won matters to everyone logged in to the queue), conversations
/// joining the waiting list of a queue they are logged in to, reminders,
/// their own presence, and whatever happens in a conversation they are in (messages above all).
/// Heartbeats and focus changes are the console's own doing and are left out, and so is an
/// agent's own message. In id order, each once.
pub fn audience(models: &ReadModels, event: &Event) -> Vec<AgentId> {
    let mut agents: Vec<AgentId> = Vec::new();
    match &event.kind {
        EventKind::AgentHeartbeatRecorded(_)
        | EventKind::ActivityFocused(_)
        | EventKind::ActivityBlurred(_)
        | EventKind::ApiKeyIssued(_)
        | EventKind::ApiKeyRevoked(_) => return agents,
        EventKind::ConversationGrabbed(e) => agents.extend(logged_in(models, &e.queue)),
        // The waiting list: who is logged in to a queue hears a conversation join it. Not who
        // took it: that is for those in it, and a console reads its waiting list again now and
        // then to drop rows taken by others.
        EventKind::ConversationEnqueued(e) => agents.extend(logged_in(models, &e.queue)),
        _ => {}
    }
    any_named(&event.kind, |named| {
        agents.push(named.clone());
        false
    });
    if let Some(conversation) = event.kind.conversation()
        && let Some(from) = models.conversations.handed_over_by(&conversation)
    {
        // The giver of an accepted transfer is no longer in it, but their console must close it.
        agents.push(from.clone());
    }
    if let Some(summary) = event
        .kind
        .conversation()
        .and_then(|c| models.conversations.get(&c))
    {
        agents.extend(summary.agents.iter().cloned());
    }
    if let EventKind::AgentMessageSent(e) = &event.kind {
        agents.retain(|a| a != &e.agent);
    }
    agents.sort();
    agents.dedup();
    agents
}

/// The agents logged in to `queue`.
fn logged_in<'a>(models: &'a ReadModels, queue: &'a QueueId) -> impl Iterator<Item = AgentId> + 'a {
    models
        .agents
        .all()
        .filter(move |a| a.queues.contains(queue))
        .map(|a| a.agent.clone())
}

/// Whether `agent` is in the [`audience`] of `event`.
pub fn concerns_agent(models: &ReadModels, agent: &AgentId, event: &Event) -> bool {
    audience(models, event).contains(agent)
}

/// What a run of events changed, for a dashboard to redraw: conversations, the queues they are
/// (or were) in, and agents whose work changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Touched {
    pub conversations: BTreeSet<ConversationId>,
    pub queues: BTreeSet<QueueId>,
    pub agents: BTreeSet<AgentId>,
}

impl Touched {
    pub fn add(&mut self, models: &ReadModels, event: &Event) {
        if matches!(
            event.kind,
            EventKind::AgentHeartbeatRecorded(_)
                | EventKind::ApiKeyIssued(_)
                | EventKind::ApiKeyRevoked(_)
        ) {
            return;
        }
        any_named(&event.kind, |named| {
            self.agents.insert(named.clone());
            false
        });
        match &event.kind {
            EventKind::ConversationEnqueued(e) => {
                self.queues.insert(e.queue.clone());
            }
            EventKind::WaitLimitReached(e) => {
                self.queues.insert(e.queue.clone());
            }
            EventKind::TransferredToQueue(e) => {
                self.queues.insert(e.queue.clone());
            }
            _ => {}
        }
        if let Some(conversation) = event.kind.conversation() {
            self.conversations.insert(conversation);
            if let Some(summary) = models.conversations.get(&conversation) {
                self.queues.extend(summary.queue.iter().cloned());
                self.agents.extend(summary.agents.iter().cloned());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty() && self.queues.is_empty() && self.agents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{arrival, at, id};
    use routing_core::event::{
        AgentHeartbeatRecorded, AgentMessageSent, ConversationOffered, CustomerMessageReceived,
        OfferAccepted, TieBreak,
    };
    use routing_core::ids::MessageId;
    use routing_core::{RoutingStrategy, Timestamp};

    fn models_with(events: &[Event]) -> ReadModels {
        let mut models = ReadModels::new([AgentId::new("ada"), AgentId::new("bo")]);
        for (n, event) in events.iter().enumerate() {
            models.apply(n as u64 + 1, event);
        }
        models
    }

    fn offered(to: &str) -> Event {
        at(
            20,
            ConversationOffered {
                conversation: id(1),
                queue: QueueId::new("support"),
                agent: AgentId::new(to),
                strategy: RoutingStrategy::LongestIdle,
                candidates: vec![AgentId::new(to)],
                eligible: 1,
                tie_break: TieBreak::OnlyEligible,
                expires_at: Timestamp::from_millis(30_020),
            },
        )
    }

    fn customer_writes() -> Event {
        at(
            40,
            CustomerMessageReceived {
                conversation: id(1),
                message_id: MessageId::new("m-2"),
                text: "still there?".into(),
                kind: routing_core::MessageKind::Text,
                attachments: Vec::new(),
            },
        )
    }

    #[test]
    fn an_agent_hears_of_offers_to_them_and_of_messages_in_conversations_they_are_in() {
        let (ada, bo) = (AgentId::new("ada"), AgentId::new("bo"));
        let mut events: Vec<Event> = arrival(1, "support", 10).into();
        let models = models_with(&events);
        assert!(concerns_agent(&models, &ada, &offered("ada")));
        assert!(!concerns_agent(&models, &bo, &offered("ada")));
        assert!(
            !concerns_agent(&models, &ada, &customer_writes()),
            "not in it yet"
        );

        events.push(offered("ada"));
        events.push(at(
            30,
            OfferAccepted {
                conversation: id(1),
                agent: ada.clone(),
            },
        ));
        let models = models_with(&events);
        assert!(concerns_agent(&models, &ada, &customer_writes()));
        assert!(!concerns_agent(&models, &bo, &customer_writes()));
        let own = at(
            50,
            AgentMessageSent {
                conversation: id(1),
                agent: ada.clone(),
                message_id: MessageId::new("a-1"),
                text: "yes".into(),
                template: None,
                outbox: true,
                email_fallback: None,
            },
        );
        assert!(!concerns_agent(&models, &ada, &own), "their own message");
        let beat = at(60, AgentHeartbeatRecorded { agent: ada.clone() });
        assert!(!concerns_agent(&models, &ada, &beat));
    }

    #[test]
    fn agents_logged_in_to_a_queue_hear_its_waiting_list_change() {
        use routing_core::event::{AgentLoggedIn, ConversationEnqueued};
        let (ada, bo) = (AgentId::new("ada"), AgentId::new("bo"));
        let logged_in = at(
            1,
            AgentLoggedIn {
                agent: bo.clone(),
                queue: QueueId::new("support"),
            },
        );
        let mut events = vec![logged_in];
        let models = models_with(&events);
        let enqueued = at(
            10,
            ConversationEnqueued {
                conversation: id(1),
                queue: QueueId::new("support"),
                priority: 0,
                skills: Vec::new(),
            },
        );
        assert!(concerns_agent(&models, &bo, &enqueued), "Bo may accept it");
        assert!(
            !concerns_agent(&models, &ada, &enqueued),
            "Ada is not logged in"
        );
        events.extend(arrival(1, "support", 10));
        let models = models_with(&events);
        let taken = at(
            30,
            OfferAccepted {
                conversation: id(1),
                agent: ada.clone(),
            },
        );
        assert!(
            !concerns_agent(&models, &bo, &taken),
            "who took it is for those in it, not for every colleague"
        );
        assert!(!concerns_agent(&models, &bo, &customer_writes()));
    }

    #[test]
    fn the_giver_of_an_accepted_transfer_hears_of_it_though_no_longer_in_it() {
        use routing_core::event::TransferOffered;
        let (ada, bo) = (AgentId::new("ada"), AgentId::new("bo"));
        let mut events: Vec<Event> = arrival(1, "support", 10).into();
        events.push(at(
            20,
            OfferAccepted {
                conversation: id(1),
                agent: ada.clone(),
            },
        ));
        events.push(at(
            30,
            TransferOffered {
                conversation: id(1),
                from: ada.clone(),
                to: bo.clone(),
                expires_at: Timestamp::from_millis(60_000),
            },
        ));
        let accepted = at(
            40,
            OfferAccepted {
                conversation: id(1),
                agent: bo.clone(),
            },
        );
        events.push(accepted.clone());
        let models = models_with(&events);
        assert_eq!(audience(&models, &accepted), [ada.clone(), bo.clone()]);
        // The next event in it is Bo's alone.
        let mut later = events.clone();
        later.push(customer_writes());
        let models = models_with(&later);
        assert!(!concerns_agent(&models, &ada, &customer_writes()));
    }

    #[test]
    fn a_dashboard_redraws_the_conversation_its_queue_and_the_agents_in_it() {
        let mut events: Vec<Event> = arrival(1, "support", 10).into();
        events.push(offered("ada"));
        let models = models_with(&events);
        let mut touched = Touched::default();
        for event in &events {
            touched.add(&models, event);
        }
        assert_eq!(touched.conversations, [id(1)].into());
        assert_eq!(touched.queues, [QueueId::new("support")].into());
        assert_eq!(touched.agents, [AgentId::new("ada")].into());
    }
}
