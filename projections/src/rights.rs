//! What a caller may see: the users (agents) and queues they have rights to, as in the product
//! ("you can only see interactions of users and queues you have rights to").
//!
//! Every query of a read model takes a [`Visible`] and returns only the rows it allows. A row with
//! a queue needs rights to that queue; a row with a user needs rights to that user; a row with both
//! needs both. This module only answers "may they see it"; it must never decide who has which
//! rights (the caller's credentials do).

pub use routing_core::access::Scope;
use routing_core::{AgentId, QueueId};
use serde::{Deserialize, Serialize};

/// The users and queues a caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visible {
    pub users: Scope<AgentId>,
    pub queues: Scope<QueueId>,
}

impl Visible {
    /// An administrator's or auditor's view: everything.
    pub fn everything() -> Self {
        Self {
            users: Scope::All,
            queues: Scope::All,
        }
    }

    /// Whether a row in `queue` (if it has one) handled by `user` (if anyone) may be seen. A row
    /// nobody handled is judged by its queue alone.
    pub fn allows(&self, queue: Option<&QueueId>, user: Option<&AgentId>) -> bool {
        self.queues.allows_optional(queue) && user.is_none_or(|user| self.users.allows(user))
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
        };
        assert!(visible.allows(Some(&sales), Some(&ada)));
        assert!(visible.allows(Some(&sales), None));
        assert!(!visible.allows(Some(&sales), Some(&bo)));
        assert!(!visible.allows(Some(&support), Some(&ada)));
        assert!(!visible.allows(None, None));
        assert!(Visible::everything().allows(None, None));
    }
}
