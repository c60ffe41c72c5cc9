//! What a caller may see: the users (agents) and queues they have rights to, as in the product
//! ("you can only see interactions of users and queues you have rights to").
//!
//! Every query of a read model takes a [`Visible`] and returns only the rows it allows. A row with
//! a queue needs rights to that queue; a row with a user needs rights to that user; a row with both
//! needs both. This module only answers "may they see it"; it must never decide who has which
//! rights (the caller's credentials do).

use crate::conversations::ConversationSummary;
pub use routing_core::access::Scope;
use routing_core::{AgentId, QueueId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The users and queues a caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visible {
    pub users: Scope<AgentId>,
    pub queues: Scope<QueueId>,
    /// An agent's own work, seen whatever its queue: a conversation handed to them from a
    /// queue they have no rights to is still theirs to read.
    #[serde(default)]
    pub own: Option<AgentId>,
    /// The queues whose team the caller administers: their conversations are seen whoever is in
    /// them, as a team admin "can see and join all team conversations".
    #[serde(default)]
    pub administers: BTreeSet<QueueId>,
}

impl Visible {
    /// An administrator's or auditor's view: everything.
    pub fn everything() -> Self {
        Self {
            users: Scope::All,
            queues: Scope::All,
            own: None,
            administers: Default::default(),
        }
    }

    /// Whether a row in `queue` (if it has one) handled by `user` (if anyone) may be seen. A row
    /// nobody handled is judged by its queue alone.
    pub fn allows(&self, queue: Option<&QueueId>, user: Option<&AgentId>) -> bool {
        if user.is_some() && user == self.own.as_ref() {
            return true;
        }
        if queue.is_some_and(|queue| self.administers.contains(queue)) {
            return true;
        }
        self.queues.allows_optional(queue) && user.is_none_or(|user| self.users.allows(user))
    }

    /// Whether a conversation may be seen: its queue, and, when agents are in it, at least one
    /// of them. One nobody is in (waiting, or not yet taken) is judged by its queue alone.
    pub fn sees_conversation(&self, conversation: &ConversationSummary) -> bool {
        if self
            .own
            .as_ref()
            .is_some_and(|own| conversation.agents.contains(own))
        {
            return true;
        }
        if conversation
            .queue
            .as_ref()
            .is_some_and(|queue| self.administers.contains(queue))
        {
            return true;
        }
        self.queues.allows_optional(conversation.queue.as_ref())
            && (conversation.agents.is_empty()
                || conversation.agents.iter().any(|a| self.users.allows(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_needs_rights_to_its_queue_and_to_its_user() {
        let sales = QueueId::new("sales");
        let support = QueueId::new("support");
        let ada = AgentId::new("ada");
        let bo = AgentId::new("bo");
        let visible = Visible {
            users: Scope::Only([ada.clone()].into()),
            queues: Scope::Only([sales.clone()].into()),
            own: None,
            administers: Default::default(),
        };
        assert!(visible.allows(Some(&sales), Some(&ada)));
        assert!(visible.allows(Some(&sales), None));
        assert!(!visible.allows(Some(&sales), Some(&bo)));
        assert!(!visible.allows(Some(&support), Some(&ada)));
        assert!(!visible.allows(None, None));
        assert!(Visible::everything().allows(None, None));
    }

    #[test]
    fn a_conversation_needs_its_queue_and_one_of_the_agents_in_it() {
        use routing_core::ids::ExternalContactId;
        use routing_core::{Channel, ConnectorId, Timestamp};
        let (ada, bo) = (AgentId::new("ada"), AgentId::new("bo"));
        let mut row = ConversationSummary::started(
            crate::testing::id(1),
            &ConnectorId::new("web"),
            Channel::Webchat,
            &ExternalContactId::new("v-1"),
            Timestamp::from_millis(0),
        );
        let ada_in_sales = Visible {
            users: Scope::Only([ada.clone()].into()),
            queues: Scope::Only([QueueId::new("sales")].into()),
            own: None,
            administers: Default::default(),
        };
        assert!(!ada_in_sales.sees_conversation(&row), "no queue yet");
        row.queue = Some(QueueId::new("sales"));
        assert!(
            ada_in_sales.sees_conversation(&row),
            "waiting, nobody in it"
        );
        row.agents = [bo.clone()].into();
        assert!(
            !ada_in_sales.sees_conversation(&row),
            "only another agent in it"
        );
        row.agents = [bo, ada.clone()].into();
        assert!(ada_in_sales.sees_conversation(&row));
        row.queue = Some(QueueId::new("support"));
        assert!(!ada_in_sales.sees_conversation(&row), "another queue");
        // Ada's own key: a conversation she is in is hers to read, whatever its queue.
        let ada_herself = Visible {
            own: Some(ada.clone()),
            administers: Default::default(),
            ..ada_in_sales.clone()
        };
        assert!(ada_herself.sees_conversation(&row));
        assert!(ada_herself.allows(Some(&QueueId::new("support")), Some(&ada)));
        row.agents = [AgentId::new("bo")].into();
        assert!(!ada_herself.sees_conversation(&row));
        // As her team's admin (of support), she sees its conversations whoever is in them, and
        // their rows; not another team's.
        let ada_admin = Visible {
            administers: [QueueId::new("support")].into(),
            ..ada_herself.clone()
        };
        assert!(ada_admin.sees_conversation(&row));
        assert!(ada_admin.allows(Some(&QueueId::new("support")), Some(&AgentId::new("bo"))));
        row.queue = Some(QueueId::new("experts"));
        assert!(!ada_admin.sees_conversation(&row));
        assert!(!ada_admin.allows(Some(&QueueId::new("experts")), Some(&AgentId::new("bo"))));
    }
}
