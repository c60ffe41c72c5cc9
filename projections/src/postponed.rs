//! The postponed view: each agent's postponed activities, which they resume when they are ready.
//!
//! A conversation joins its agent's list when they postpone it and leaves it when they resume it,
//! leave it, lose it (reclaimed) or it closes. This view never decides anything: it only
//! remembers.

use crate::rights::Visible;
use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConnectorId, ConversationId, Event, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Known {
    connector: ConnectorId,
    channel: Channel,
    contact: ExternalContactId,
    contact_name: Option<String>,
    handle: Option<String>,
    queue: Option<QueueId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostponedRow {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub connector: ConnectorId,
    pub channel: Channel,
    pub queue: Option<QueueId>,
    pub contact: ExternalContactId,
    pub contact_name: Option<String>,
    /// The customer's handle, where `contact` is a pseudonym.
    pub handle: Option<String>,
    #[serde(with = "crate::rfc3339")]
    pub postponed_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostponedView {
    known: BTreeMap<ConversationId, Known>,
    /// agent → conversation → row.
    lists: BTreeMap<AgentId, BTreeMap<ConversationId, PostponedRow>>,
}

impl PostponedView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.known.insert(
                    e.conversation,
                    Known {
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: e.contact_name.clone(),
                        handle: e.handle.clone(),
                        queue: None,
                    },
                );
            }
            EventKind::OutboundConversationStarted(e) => {
                self.known.insert(
                    e.conversation,
                    Known {
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: None,
                        handle: e.handle.clone(),
                        queue: Some(e.queue.clone()),
                    },
                );
            }
            EventKind::ConversationEnqueued(e) => self.moved(e.conversation, &e.queue),
            EventKind::TransferredToQueue(e) => self.moved(e.conversation, &e.queue),
            EventKind::ConversationPostponed(e) => {
                let Some(known) = self.known.get(&e.conversation) else {
                    return;
                };
                let row = PostponedRow {
                    conversation: e.conversation,
                    agent: e.agent.clone(),
                    connector: known.connector.clone(),
                    channel: known.channel,
                    queue: known.queue.clone(),
                    contact: known.contact.clone(),
                    contact_name: known.contact_name.clone(),
                    handle: known.handle.clone(),
                    postponed_at: at,
                };
                self.lists
                    .entry(e.agent.clone())
                    .or_default()
                    .insert(e.conversation, row);
            }
            EventKind::ConversationResumed(e) => self.off(&e.agent, e.conversation),
            EventKind::AgentLeft(e) => self.off(&e.agent, e.conversation),
            EventKind::ConversationReclaimed(e) => {
                for agent in &e.agents {
                    self.off(agent, e.conversation);
                }
            }
            kind => {
                if let Some(ended) = kind.ended_conversation() {
                    self.closed(ended);
                }
            }
        }
    }

    fn moved(&mut self, conversation: ConversationId, queue: &QueueId) {
        if let Some(known) = self.known.get_mut(&conversation) {
            known.queue = Some(queue.clone());
        }
    }

    fn off(&mut self, agent: &AgentId, conversation: ConversationId) {
        if let Some(list) = self.lists.get_mut(agent) {
            list.remove(&conversation);
            if list.is_empty() {
                self.lists.remove(agent);
            }
        }
    }

    fn closed(&mut self, conversation: ConversationId) {
        self.known.remove(&conversation);
        self.lists.retain(|_, list| {
            list.remove(&conversation);
            !list.is_empty()
        });
    }

    /// `agent`'s postponed activities, oldest postponement first, if `visible` allows them.
    pub fn of(&self, agent: &AgentId, visible: &Visible) -> Vec<&PostponedRow> {
        let mut rows: Vec<&PostponedRow> = self
            .lists
            .get(agent)
            .map(|list| {
                list.values()
                    .filter(|row| visible.allows(row.queue.as_ref(), Some(&row.agent)))
                    .collect()
            })
            .unwrap_or_default();
        rows.sort_by_key(|row| (row.postponed_at, row.conversation));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rights::Scope;
    use crate::testing::{arrival, at, id};
    use routing_core::event::{ConversationClosed, ConversationPostponed, ConversationResumed};

    fn started(view: &mut PostponedView, n: u128, queue: &str) {
        for event in arrival(n, queue, 0) {
            view.apply(&event);
        }
    }

    fn postponed(view: &mut PostponedView, n: u128, agent: &str, ms: i64) {
        view.apply(&at(
            ms,
            ConversationPostponed {
                conversation: id(n),
                agent: AgentId::new(agent),
            },
        ));
    }

    #[test]
    fn an_agents_postponed_list_follows_postponing_resuming_and_closing() {
        let mut view = PostponedView::default();
        let ada = AgentId::new("ada");
        let everything = Visible::everything();
        for n in 1..=3 {
            started(&mut view, n, "support");
        }
        postponed(&mut view, 2, "ada", 20);
        postponed(&mut view, 1, "ada", 30);
        postponed(&mut view, 3, "bo", 40);
        let listed = |view: &PostponedView| {
            view.of(&ada, &everything)
                .iter()
                .map(|r| r.conversation)
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(&view), [id(2), id(1)], "oldest postponement first");
        assert_eq!(
            view.of(&ada, &everything)[0].postponed_at,
            Timestamp::from_millis(20)
        );

        view.apply(&at(
            50,
            ConversationResumed {
                conversation: id(2),
                agent: ada.clone(),
            },
        ));
        assert_eq!(listed(&view), [id(1)]);
        view.apply(&at(
            60,
            ConversationClosed {
                conversation: id(1),
                agent: ada.clone(),
                status: "resolved".into(),
            },
        ));
        assert!(listed(&view).is_empty());
        assert_eq!(view.of(&AgentId::new("bo"), &everything).len(), 1);

        // Without rights to Bo, his list is not shown.
        let not_bo = Visible {
            users: Scope::Only([ada.clone()].into()),
            queues: Scope::All,
            own: None,
            administers: Default::default(),
        };
        assert!(view.of(&AgentId::new("bo"), &not_bo).is_empty());
    }
}
