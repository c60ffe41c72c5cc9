//! Read models: what agents and supervisors look at, built only from the log.
//!
//! Every view here is a pure fold over decoded events: it never does IO, never decides anything
//! and never reads a clock (a query that needs "now", like time in queue, takes it as an argument).
//! Feeding the same events from position 0 must rebuild exactly the same view.

pub mod agents;
pub mod conversations;
pub mod rfc3339;
pub mod waiting;

use routing_core::{AgentId, Event};

/// Every read model, fed together and checkpointed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadModels {
    /// The position of the last event applied; 0 before any.
    checkpoint: u64,
    pub waiting: waiting::WaitingView,
    pub conversations: conversations::ConversationsView,
    pub agents: agents::AgentsView,
}

impl ReadModels {
    /// Empty views for a contact centre with these agents.
    pub fn new(agents: impl IntoIterator<Item = AgentId>) -> Self {
        Self {
            checkpoint: 0,
            waiting: waiting::WaitingView::default(),
            conversations: conversations::ConversationsView::default(),
            agents: agents::AgentsView::new(agents),
        }
    }

    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// Applies the event stored at `position`. Positions at or below the checkpoint were already
    /// counted and are skipped, so feeding an event twice never counts it twice.
    pub fn apply(&mut self, position: u64, event: &Event) {
        if position <= self.checkpoint {
            return;
        }
        self.waiting.apply(event);
        self.conversations.apply(event);
        self.agents.apply(event);
        self.checkpoint = position;
    }
}
