//! The missed view: inbound interactions that ended with nobody answering, shown until the
//! customer is contacted back (the product's Missed activities and Missed column).
//!
//! An inbound conversation is missed when it closes (expired, waiting limit, customer left) with
//! no agent ever having taken it; its missed time is when it closed. It counts as contacted back
//! once the same contact on the same connector is answered later: an agent starts an outbound
//! conversation to them, or takes a newer conversation of theirs. A contacted-back row stays,
//! marked (the Missed column's "NO"). This view never decides anything: it only remembers.

use crate::rights::Visible;
use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConnectorId, ConversationId, Event, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An open conversation, as far as missing it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Open {
    connector: ConnectorId,
    channel: Channel,
    contact: ExternalContactId,
    contact_name: Option<String>,
    handle: Option<String>,
    queue: Option<QueueId>,
    started_at: Timestamp,
    enqueued_at: Option<Timestamp>,
    /// An agent took it (or started it).
    answered: bool,
}

/// Who contacted a missed customer back, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactedBack {
    #[serde(with = "crate::rfc3339")]
    pub at: Timestamp,
    pub by: AgentId,
    /// The conversation in which they were answered.
    pub conversation: ConversationId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedRow {
    pub conversation: ConversationId,
    pub connector: ConnectorId,
    pub channel: Channel,
    pub queue: Option<QueueId>,
    /// The contact's pseudonym (or a pre-pseudonym contact's handle).
    pub contact: ExternalContactId,
    pub contact_name: Option<String>,
    /// The customer's handle, where `contact` is a pseudonym; gone once they are anonymised.
    pub handle: Option<String>,
    #[serde(with = "crate::rfc3339")]
    pub started_at: Timestamp,
    /// How long it waited in its queue (from its first enqueueing) before it was missed.
    pub wait_ms: u64,
    #[serde(with = "crate::rfc3339")]
    pub missed_at: Timestamp,
    pub contacted_back: Option<ContactedBack>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedView {
    open: BTreeMap<ConversationId, Open>,
    /// Looked up once per missed row of every interaction-list query: hashed, not ordered (every
    /// listing sorts what it takes out).
    rows: HashMap<ConversationId, MissedRow>,
    /// Missed, not yet contacted back: connector → contact → conversations.
    waiting_for_contact:
        BTreeMap<ConnectorId, BTreeMap<ExternalContactId, BTreeSet<ConversationId>>>,
}

impl MissedView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.open.insert(
                    e.conversation,
                    Open {
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: e.contact_name.clone(),
                        handle: e.handle.clone(),
                        queue: None,
                        started_at: at,
                        enqueued_at: None,
                        answered: false,
                    },
                );
            }
            EventKind::OutboundConversationStarted(e) => {
                self.open.insert(
                    e.conversation,
                    Open {
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: None,
                        handle: e.handle.clone(),
                        queue: Some(e.queue.clone()),
                        started_at: at,
                        enqueued_at: None,
                        answered: true,
                    },
                );
                self.contacted_back(&e.connector, &e.contact, at, &e.agent, e.conversation);
            }
            EventKind::ConversationEnqueued(e) => {
                if let Some(open) = self.open.get_mut(&e.conversation) {
                    open.queue = Some(e.queue.clone());
                    open.enqueued_at.get_or_insert(at);
                }
            }
            EventKind::TransferredToQueue(e) => {
                if let Some(open) = self.open.get_mut(&e.conversation) {
                    open.queue = Some(e.queue.clone());
                }
            }
            EventKind::ContactAnonymised(e) => {
                for row in self.rows.values_mut() {
                    if row.connector == e.connector && row.contact == e.contact {
                        row.contact_name = None;
                        row.handle = None;
                    }
                }
            }
            EventKind::OfferAccepted(e) => self.answered(e.conversation, &e.agent, at),
            EventKind::AcceptedFromWaiting(e) => self.answered(e.conversation, &e.agent, at),
            EventKind::ConversationJoined(e) => self.answered(e.conversation, &e.agent, at),
            EventKind::ConversationGrabbed(e) => self.answered(e.conversation, &e.agent, at),
            kind => {
                if let Some(ended) = kind.ended_conversation() {
                    self.closed(ended, at);
                }
            }
        }
    }

    fn answered(&mut self, conversation: ConversationId, agent: &AgentId, at: Timestamp) {
        let Some(open) = self.open.get_mut(&conversation) else {
            return;
        };
        if open.answered {
            return;
        }
        open.answered = true;
        let (connector, contact) = (open.connector.clone(), open.contact.clone());
        self.contacted_back(&connector, &contact, at, agent, conversation);
    }

    fn contacted_back(
        &mut self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
        at: Timestamp,
        agent: &AgentId,
        conversation: ConversationId,
    ) {
        let Some(contacts) = self.waiting_for_contact.get_mut(connector) else {
            return;
        };
        let Some(missed) = contacts.remove(contact) else {
            return;
        };
        if contacts.is_empty() {
            self.waiting_for_contact.remove(connector);
        }
        for id in missed {
            if let Some(row) = self.rows.get_mut(&id) {
                row.contacted_back = Some(ContactedBack {
                    at,
                    by: agent.clone(),
                    conversation,
                });
            }
        }
    }

    fn closed(&mut self, conversation: ConversationId, at: Timestamp) {
        let Some(open) = self.open.remove(&conversation) else {
            return;
        };
        if open.answered {
            return;
        }
        let waited_from = open.enqueued_at.unwrap_or(open.started_at);
        self.waiting_for_contact
            .entry(open.connector.clone())
            .or_default()
            .entry(open.contact.clone())
            .or_default()
            .insert(conversation);
        self.rows.insert(
            conversation,
            MissedRow {
                conversation,
                connector: open.connector,
                channel: open.channel,
                queue: open.queue,
                contact: open.contact,
                contact_name: open.contact_name,
                handle: open.handle,
                started_at: open.started_at,
                wait_ms: u64::try_from(at.as_millis() - waited_from.as_millis()).unwrap_or(0),
                missed_at: at,
                contacted_back: None,
            },
        );
    }

    /// The missed interactions `visible` allows, newest first; those contacted back only if asked.
    pub fn list(&self, visible: &Visible, with_contacted_back: bool) -> Vec<&MissedRow> {
        let mut rows: Vec<&MissedRow> = self
            .rows
            .values()
            .filter(|row| with_contacted_back || row.contacted_back.is_none())
            .filter(|row| visible.allows(row.queue.as_ref(), None))
            .collect();
        rows.sort_by(|a, b| {
            b.missed_at
                .cmp(&a.missed_at)
                .then(b.conversation.cmp(&a.conversation))
        });
        rows
    }

    pub fn get(&self, conversation: &ConversationId) -> Option<&MissedRow> {
        self.rows.get(conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rights::Scope;
    use crate::testing::{at, id};
    use routing_core::event::{
        ConversationEnqueued, ConversationStarted, CustomerLeft, OfferAccepted,
        OutboundConversationStarted,
    };

    /// A conversation from `contact` that waits in `queue` from `ms` on.
    fn arrives(view: &mut MissedView, n: u128, contact: &str, queue: &str, ms: i64) {
        view.apply(&at(
            ms,
            ConversationStarted {
                handle: None,
                conversation: id(n),
                connector: ConnectorId::new("wa"),
                channel: Channel::Whatsapp,
                contact: ExternalContactId::new(contact),
                contact_name: Some("Jana".into()),
            },
        ));
        view.apply(&at(
            ms,
            ConversationEnqueued {
                conversation: id(n),
                queue: QueueId::new(queue),
                priority: 0,
                skills: Vec::new(),
            },
        ));
    }

    fn leaves(view: &mut MissedView, n: u128, ms: i64) {
        view.apply(&at(
            ms,
            CustomerLeft {
                conversation: id(n),
                closed: true,
            },
        ));
    }

    #[test]
    fn an_unanswered_conversation_is_missed_until_its_contact_is_answered() {
        let mut view = MissedView::default();
        let everything = Visible::everything();
        // Answered, then the customer leaves: not missed.
        arrives(&mut view, 1, "+420111", "support", 0);
        view.apply(&at(
            5_000,
            OfferAccepted {
                conversation: id(1),
                agent: AgentId::new("ada"),
            },
        ));
        leaves(&mut view, 1, 9_000);
        assert!(view.list(&everything, true).is_empty());

        // Nobody answers twice: both missed, with their wait and missed time.
        arrives(&mut view, 2, "+420222", "support", 10_000);
        leaves(&mut view, 2, 70_000);
        arrives(&mut view, 3, "+420222", "support", 80_000);
        leaves(&mut view, 3, 85_000);
        let rows = view.list(&everything, false);
        assert_eq!(
            rows.iter().map(|r| r.conversation).collect::<Vec<_>>(),
            [id(3), id(2)],
            "newest first"
        );
        assert_eq!(rows[1].wait_ms, 60_000);
        assert_eq!(rows[1].missed_at, Timestamp::from_millis(70_000));
        assert_eq!(rows[1].contact_name.as_deref(), Some("Jana"));

        // An agent writes to them: both contacted back, shown only when asked for.
        view.apply(&at(
            90_000,
            OutboundConversationStarted {
                customer_wrote_at: None,
                handle: None,
                conversation: id(4),
                connector: ConnectorId::new("wa"),
                channel: Channel::Whatsapp,
                contact: ExternalContactId::new("+420222"),
                queue: QueueId::new("support"),
                agent: AgentId::new("bo"),
            },
        ));
        assert!(view.list(&everything, false).is_empty());
        let back = view.get(&id(2)).and_then(|r| r.contacted_back.clone());
        assert_eq!(
            back,
            Some(ContactedBack {
                at: Timestamp::from_millis(90_000),
                by: AgentId::new("bo"),
                conversation: id(4),
            })
        );
        assert_eq!(view.list(&everything, true).len(), 2);

        // Missed again, then their next conversation is answered: contacted back too.
        arrives(&mut view, 5, "+420333", "sales", 100_000);
        leaves(&mut view, 5, 101_000);
        arrives(&mut view, 6, "+420333", "sales", 102_000);
        assert_eq!(view.list(&everything, false).len(), 1);
        view.apply(&at(
            103_000,
            OfferAccepted {
                conversation: id(6),
                agent: AgentId::new("ada"),
            },
        ));
        assert!(view.list(&everything, false).is_empty());
    }

    #[test]
    fn missed_interactions_of_a_queue_without_rights_are_not_shown() {
        let mut view = MissedView::default();
        arrives(&mut view, 1, "+420111", "support", 0);
        leaves(&mut view, 1, 1_000);
        arrives(&mut view, 2, "+420222", "sales", 0);
        leaves(&mut view, 2, 1_000);
        let sales_only = Visible {
            users: Scope::All,
            queues: Scope::Only([QueueId::new("sales")].into()),
            own: None,
            administers: Default::default(),
        };
        let rows = view.list(&sales_only, true);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].queue, Some(QueueId::new("sales")));
    }
}
