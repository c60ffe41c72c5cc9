//! The interaction list: one row per activity (an agent's part in a conversation), and one for a
//! conversation nobody took, with the product's columns; queried by time range, user, queue,
//! contact, sender, direction, answered and missed, sorted by any column either way, a page at a
//! time behind an opaque cursor.
//!
//! Rows are appended in the order their activities start, which is time order, so a time range is
//! found by binary search and only its rows are looked at. Whether a missed row was contacted back
//! is the missed view's to say; the query asks it. This view never decides anything and never
//! reads a clock: a row still open counts its duration up to the "now" a query passes.

use crate::conversations::Direction;
use crate::missed::MissedView;
use crate::rights::Visible;
use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConnectorId, ConversationId, Event, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Who ended an activity (the product's "Ended/Disconnection").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Agent,
    Customer,
    /// The engine: expired, closed at the waiting limit, taken back from an absent agent.
    System,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Row {
    conversation: ConversationId,
    time: Timestamp,
    queue: Option<QueueId>,
    user: Option<AgentId>,
    contact: Option<String>,
    external_contact: ExternalContactId,
    connector: ConnectorId,
    channel: Channel,
    answered: bool,
    wait_ms: u64,
    ended_at: Option<Timestamp>,
    ended_by: Option<EndedBy>,
    missed_at: Option<Timestamp>,
    direction: Direction,
}

/// The product's Missed column: not missed (0), missed and shown in Missed activities (1),
/// contacted back (NO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedMark {
    No,
    Missed,
    ContactedBack,
}

impl MissedMark {
    /// As the product's export writes it.
    pub fn as_export(self) -> &'static str {
        match self {
            MissedMark::No => "0",
            MissedMark::Missed => "1",
            MissedMark::ContactedBack => "NO",
        }
    }
}

/// A row as a query returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interaction {
    pub conversation: ConversationId,
    #[serde(with = "crate::rfc3339")]
    pub time: Timestamp,
    pub queue: Option<QueueId>,
    pub user: Option<AgentId>,
    pub contact: Option<String>,
    pub external_contact: ExternalContactId,
    pub title: String,
    pub answered: bool,
    pub wait_time_ms: u64,
    pub duration_ms: u64,
    pub ended_by: Option<EndedBy>,
    pub connector: ConnectorId,
    pub channel: Channel,
    pub missed: MissedMark,
    #[serde(with = "crate::rfc3339::option")]
    pub missed_time: Option<Timestamp>,
    pub direction: Direction,
}

/// The columns, in the product's order; any of them sorts the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Time,
    Queue,
    User,
    Contact,
    ExternalContact,
    Title,
    Answered,
    WaitTime,
    Duration,
    EndedBy,
    Connector,
    Missed,
    MissedTime,
    Direction,
}

impl Column {
    pub const ALL: [Column; 14] = [
        Column::Time,
        Column::Queue,
        Column::User,
        Column::Contact,
        Column::ExternalContact,
        Column::Title,
        Column::Answered,
        Column::WaitTime,
        Column::Duration,
        Column::EndedBy,
        Column::Connector,
        Column::Missed,
        Column::MissedTime,
        Column::Direction,
    ];

    /// The column's title, as the product names it.
    pub fn title(self) -> &'static str {
        match self {
            Column::Time => "Time",
            Column::Queue => "Queue",
            Column::User => "User",
            Column::Contact => "Contact",
            Column::ExternalContact => "External contact",
            Column::Title => "Title",
            Column::Answered => "Answered",
            Column::WaitTime => "Wait time",
            Column::Duration => "Duration",
            Column::EndedBy => "Ended by",
            Column::Connector => "Connector",
            Column::Missed => "Missed",
            Column::MissedTime => "Missed time",
            Column::Direction => "Direction",
        }
    }
}

/// A sort key: the column's value, then the row's place, so that every row has its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Key {
    Number(i64),
    Text(String),
    Absent,
}

/// Where a page ended: the last row's key and place. Opaque to callers (hex of its JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    key: Key,
    row: u64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        json.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(text: &str) -> Option<Self> {
        if text.len() % 2 != 0 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect();
        serde_json::from_slice(&bytes?).ok()
    }
}

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The time range, `from` included, `to` excluded.
    pub from: Timestamp,
    pub to: Timestamp,
    pub user: Option<AgentId>,
    pub queue: Option<QueueId>,
    /// The contact's name contains this (case-insensitive).
    pub contact: Option<String>,
    /// The customer's handle (the sender, or the recipient of an outbound conversation).
    pub sender: Option<ExternalContactId>,
    pub direction: Option<Direction>,
    pub answered: Option<bool>,
    pub missed: Option<bool>,
    pub sort: Column,
    pub descending: bool,
}

/// One page and the cursor of the next, if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub interactions: Vec<Interaction>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Context {
    connector: ConnectorId,
    channel: Channel,
    contact: ExternalContactId,
    contact_name: Option<String>,
    started_at: Timestamp,
    direction: Direction,
    queue: Option<QueueId>,
    /// Since when it has waited in its queue, while it waits.
    waiting_since: Option<Timestamp>,
    /// Open activities: agent → row.
    activities: BTreeMap<AgentId, u64>,
    /// Whether any agent ever took it.
    taken: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionsView {
    rows: Vec<Row>,
    open: BTreeMap<ConversationId, Context>,
}

impl InteractionsView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.open.insert(
                    e.conversation,
                    Context {
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: e.contact_name.clone(),
                        started_at: at,
                        direction: Direction::Inbound,
                        queue: None,
                        waiting_since: None,
                        activities: BTreeMap::new(),
                        taken: false,
                    },
                );
            }
            EventKind::OutboundConversationStarted(e) => {
                self.open.insert(
                    e.conversation,
                    Context {
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: None,
                        started_at: at,
                        direction: Direction::Outbound,
                        queue: Some(e.queue.clone()),
                        waiting_since: None,
                        activities: BTreeMap::new(),
                        taken: false,
                    },
                );
                self.taken(e.conversation, &e.agent, at);
            }
            EventKind::ConversationEnqueued(e) => self.queued(e.conversation, &e.queue, at),
            EventKind::TransferredToQueue(e) => {
                self.end(e.conversation, &e.agent, at, EndedBy::Agent);
                self.queued(e.conversation, &e.queue, at);
            }
            EventKind::OfferAccepted(e) => self.taken(e.conversation, &e.agent, at),
            EventKind::AcceptedFromWaiting(e) => self.taken(e.conversation, &e.agent, at),
            EventKind::ConversationJoined(e) => self.taken(e.conversation, &e.agent, at),
            EventKind::ConversationGrabbed(e) => self.taken(e.conversation, &e.agent, at),
            EventKind::AgentLeft(e) => self.end(e.conversation, &e.agent, at, EndedBy::Agent),
            EventKind::ConversationReclaimed(e) => {
                for agent in &e.agents {
                    self.end(e.conversation, agent, at, EndedBy::System);
                }
            }
            EventKind::CustomerMessageReceived(_) => {}
            kind => {
                if let Some(ended) = kind.ended_conversation() {
                    let by = match kind {
                        EventKind::ConversationClosed(_) => EndedBy::Agent,
                        EventKind::CustomerLeft(_) => EndedBy::Customer,
                        _ => EndedBy::System,
                    };
                    self.closed(ended, at, by);
                }
            }
        }
    }

    fn queued(&mut self, conversation: ConversationId, queue: &QueueId, at: Timestamp) {
        if let Some(context) = self.open.get_mut(&conversation) {
            context.queue = Some(queue.clone());
            context.waiting_since.get_or_insert(at);
        }
    }

    fn taken(&mut self, conversation: ConversationId, agent: &AgentId, at: Timestamp) {
        let Some(context) = self.open.get_mut(&conversation) else {
            return;
        };
        if context.activities.contains_key(agent) {
            return;
        }
        let wait_ms = context
            .waiting_since
            .take()
            .map_or(0, |since| at.millis_since(since));
        context.taken = true;
        let row = self.rows.len() as u64;
        context.activities.insert(agent.clone(), row);
        self.rows.push(Row {
            conversation,
            time: at,
            queue: context.queue.clone(),
            user: Some(agent.clone()),
            contact: context.contact_name.clone(),
            external_contact: context.contact.clone(),
            connector: context.connector.clone(),
            channel: context.channel,
            answered: true,
            wait_ms,
            ended_at: None,
            ended_by: None,
            missed_at: None,
            direction: context.direction,
        });
    }

    fn end(&mut self, conversation: ConversationId, agent: &AgentId, at: Timestamp, by: EndedBy) {
        let Some(row) = self
            .open
            .get_mut(&conversation)
            .and_then(|context| context.activities.remove(agent))
        else {
            return;
        };
        if let Some(row) = usize::try_from(row).ok().and_then(|r| self.rows.get_mut(r)) {
            row.ended_at = Some(at);
            row.ended_by = Some(by);
        }
    }

    fn closed(&mut self, conversation: ConversationId, at: Timestamp, by: EndedBy) {
        let Some(context) = self.open.remove(&conversation) else {
            return;
        };
        for row in context.activities.values() {
            if let Some(row) = usize::try_from(*row)
                .ok()
                .and_then(|r| self.rows.get_mut(r))
            {
                row.ended_at = Some(at);
                row.ended_by = Some(by);
            }
        }
        if !context.taken {
            self.rows.push(Row {
                conversation,
                time: context.started_at,
                queue: context.queue,
                user: None,
                contact: context.contact_name,
                external_contact: context.contact,
                connector: context.connector,
                channel: context.channel,
                answered: false,
                wait_ms: context
                    .waiting_since
                    .map_or(0, |since| at.millis_since(since)),
                ended_at: Some(at),
                ended_by: Some(by),
                missed_at: Some(at),
                direction: context.direction,
            });
        }
    }

    /// After an event of `conversation` at `at`: an open activity of an agent no longer in it
    /// (handed over) ends. Who is in a conversation is the conversations view's to say.
    pub fn settle(
        &mut self,
        conversation: ConversationId,
        in_it: &BTreeSet<AgentId>,
        at: Timestamp,
    ) {
        let gone: Vec<AgentId> = self
            .open
            .get(&conversation)
            .map(|context| {
                context
                    .activities
                    .keys()
                    .filter(|agent| !in_it.contains(*agent))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for agent in gone {
            self.end(conversation, &agent, at, EndedBy::Agent);
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows that `filter` and `visible` let through, sorted, after `after`, at most `limit`.
    pub fn page(
        &self,
        filter: &Filter,
        visible: &Visible,
        missed: &MissedView,
        now: Timestamp,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Page {
        let order = |a: &(Key, u64), b: &(Key, u64)| {
            let natural = a.cmp(b);
            if filter.descending {
                natural.reverse()
            } else {
                natural
            }
        };
        let after = after.map(|c| (c.key.clone(), c.row));
        // The best `limit + 1` candidates, kept sorted; one more than asked shows another page.
        let mut best: Vec<(Key, u64)> = Vec::with_capacity(limit + 2);
        for (place, row) in self.in_range(filter) {
            let mark = mark(row, missed);
            if !admits(filter, visible, row, mark) {
                continue;
            }
            let key = (key_of(filter.sort, row, mark, now), place);
            if after
                .as_ref()
                .is_some_and(|after| order(&key, after) != Ordering::Greater)
            {
                continue;
            }
            if best.len() > limit
                && best
                    .last()
                    .is_some_and(|last| order(&key, last) != Ordering::Less)
            {
                continue;
            }
            let at = best.partition_point(|kept| order(kept, &key) == Ordering::Less);
            best.insert(at, key);
            best.truncate(limit + 1);
        }
        let more = best.len() > limit;
        best.truncate(limit);
        let next = more.then(|| best.last()).flatten().map(|(key, row)| {
            Cursor {
                key: key.clone(),
                row: *row,
            }
            .encode()
        });
        let interactions = best
            .iter()
            .filter_map(|(_, place)| self.show(*place, missed, now))
            .collect();
        Page { interactions, next }
    }

    /// Every row that `filter` and `visible` let through, sorted: what an export holds.
    pub fn all(
        &self,
        filter: &Filter,
        visible: &Visible,
        missed: &MissedView,
        now: Timestamp,
    ) -> Vec<Interaction> {
        let mut keyed: Vec<(Key, u64)> = self
            .in_range(filter)
            .filter_map(|(place, row)| {
                let mark = mark(row, missed);
                admits(filter, visible, row, mark)
                    .then(|| (key_of(filter.sort, row, mark, now), place))
            })
            .collect();
        keyed.sort();
        if filter.descending {
            keyed.reverse();
        }
        keyed
            .iter()
            .filter_map(|(_, place)| self.show(*place, missed, now))
            .collect()
    }

    /// The rows whose time is in the filter's range, with their places.
    fn in_range(&self, filter: &Filter) -> impl Iterator<Item = (u64, &Row)> {
        let start = self.rows.partition_point(|row| row.time < filter.from);
        let end = self.rows.partition_point(|row| row.time < filter.to);
        let end = end.max(start);
        (start as u64..).zip(&self.rows[start..end])
    }

    fn show(&self, place: u64, missed: &MissedView, now: Timestamp) -> Option<Interaction> {
        let row = self.rows.get(usize::try_from(place).ok()?)?;
        let mark = mark(row, missed);
        Some(Interaction {
            conversation: row.conversation,
            time: row.time,
            queue: row.queue.clone(),
            user: row.user.clone(),
            contact: row.contact.clone(),
            external_contact: row.external_contact.clone(),
            title: title(row).to_owned(),
            answered: row.answered,
            wait_time_ms: row.wait_ms,
            duration_ms: duration(row, now),
            ended_by: row.ended_by,
            connector: row.connector.clone(),
            channel: row.channel,
            missed: mark,
            missed_time: row.missed_at,
            direction: row.direction,
        })
    }
}

fn mark(row: &Row, missed: &MissedView) -> MissedMark {
    if row.missed_at.is_none() {
        return MissedMark::No;
    }
    match missed.get(&row.conversation) {
        Some(missed) if missed.contacted_back.is_some() => MissedMark::ContactedBack,
        _ => MissedMark::Missed,
    }
}

fn title(row: &Row) -> &str {
    row.contact
        .as_deref()
        .unwrap_or_else(|| row.external_contact.as_str())
}

fn duration(row: &Row, now: Timestamp) -> u64 {
    row.ended_at.unwrap_or(now).millis_since(row.time)
}

fn admits(filter: &Filter, visible: &Visible, row: &Row, mark: MissedMark) -> bool {
    visible.allows(row.queue.as_ref(), row.user.as_ref())
        && filter
            .user
            .as_ref()
            .is_none_or(|u| row.user.as_ref() == Some(u))
        && filter
            .queue
            .as_ref()
            .is_none_or(|q| row.queue.as_ref() == Some(q))
        && filter
            .sender
            .as_ref()
            .is_none_or(|s| &row.external_contact == s)
        && filter.direction.is_none_or(|d| row.direction == d)
        && filter.answered.is_none_or(|a| row.answered == a)
        && filter.missed.is_none_or(|m| (mark != MissedMark::No) == m)
        && filter.contact.as_ref().is_none_or(|wanted| {
            row.contact
                .as_deref()
                .is_some_and(|name| name.to_lowercase().contains(&wanted.to_lowercase()))
        })
}

fn key_of(column: Column, row: &Row, mark: MissedMark, now: Timestamp) -> Key {
    let text = |value: Option<&str>| value.map_or(Key::Absent, |v| Key::Text(v.to_owned()));
    let number = |value: u64| Key::Number(i64::try_from(value).unwrap_or(i64::MAX));
    match column {
        Column::Time => Key::Number(row.time.as_millis()),
        Column::Queue => text(row.queue.as_ref().map(|q| q.as_str())),
        Column::User => text(row.user.as_ref().map(|u| u.as_str())),
        Column::Contact => text(row.contact.as_deref()),
        Column::ExternalContact => text(Some(row.external_contact.as_str())),
        Column::Title => text(Some(title(row))),
        Column::Answered => Key::Number(i64::from(row.answered)),
        Column::WaitTime => number(row.wait_ms),
        Column::Duration => number(duration(row, now)),
        Column::EndedBy => text(row.ended_by.map(|b| match b {
            EndedBy::Agent => "agent",
            EndedBy::Customer => "customer",
            EndedBy::System => "system",
        })),
        Column::Connector => text(Some(row.connector.as_str())),
        Column::Missed => Key::Number(mark as i64),
        Column::MissedTime => row
            .missed_at
            .map_or(Key::Absent, |at| Key::Number(at.as_millis())),
        Column::Direction => Key::Number(match row.direction {
            Direction::Inbound => 0,
            Direction::Outbound => 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReadModels;
    use crate::rights::Scope;
    use routing_core::event::{
        ConversationClosed, ConversationEnqueued, ConversationStarted, CustomerLeft, OfferAccepted,
        OutboundConversationStarted,
    };

    fn id(n: u128) -> ConversationId {
        ConversationId::from_uuid(uuid::Uuid::from_u128(n))
    }

    /// Three interactions: A answered by Ada in support, B missed in sales, C an outbound
    /// conversation Bo starts to B's customer (contacting them back).
    fn models() -> ReadModels {
        let mut models = ReadModels::new([AgentId::new("ada"), AgentId::new("bo")]);
        let mut position = 0;
        let mut feed = |ms: i64, kind: EventKind| {
            position += 1;
            models.apply(
                position,
                &Event {
                    at: Timestamp::from_millis(ms),
                    kind,
                },
            );
        };
        for (n, contact, queue, at) in [(1, "+111", "support", 0), (2, "+222", "sales", 100_000)] {
            feed(
                at,
                ConversationStarted {
                    conversation: id(n),
                    connector: ConnectorId::new("wa"),
                    channel: Channel::Whatsapp,
                    contact: ExternalContactId::new(contact),
                    contact_name: Some(format!("Customer {n}")),
                }
                .into(),
            );
            feed(
                at,
                ConversationEnqueued {
                    conversation: id(n),
                    queue: QueueId::new(queue),
                    priority: 0,
                    skills: Vec::new(),
                }
                .into(),
            );
        }
        feed(
            10_000,
            OfferAccepted {
                conversation: id(1),
                agent: AgentId::new("ada"),
            }
            .into(),
        );
        feed(
            70_000,
            ConversationClosed {
                conversation: id(1),
                agent: AgentId::new("ada"),
                status: "resolved".into(),
            }
            .into(),
        );
        feed(
            130_000,
            CustomerLeft {
                conversation: id(2),
                closed: true,
            }
            .into(),
        );
        feed(
            200_000,
            OutboundConversationStarted {
                conversation: id(3),
                connector: ConnectorId::new("wa"),
                channel: Channel::Whatsapp,
                contact: ExternalContactId::new("+222"),
                queue: QueueId::new("sales"),
                agent: AgentId::new("bo"),
            }
            .into(),
        );
        models
    }

    fn everything_in(from: i64, to: i64) -> Filter {
        Filter {
            from: Timestamp::from_millis(from),
            to: Timestamp::from_millis(to),
            user: None,
            queue: None,
            contact: None,
            sender: None,
            direction: None,
            answered: None,
            missed: None,
            sort: Column::Time,
            descending: false,
        }
    }

    fn listed(models: &ReadModels, filter: &Filter, visible: &Visible) -> Vec<u128> {
        models
            .interactions
            .all(
                filter,
                visible,
                &models.missed,
                Timestamp::from_millis(300_000),
            )
            .iter()
            .map(|i| i.conversation.as_uuid().as_u128())
            .collect()
    }

    #[test]
    fn each_activity_has_the_products_columns() {
        let models = models();
        let rows = models.interactions.all(
            &everything_in(0, 1_000_000),
            &Visible::everything(),
            &models.missed,
            Timestamp::from_millis(300_000),
        );
        assert_eq!(rows.len(), 3);
        let answered = &rows[0];
        assert_eq!(answered.user, Some(AgentId::new("ada")));
        assert_eq!(answered.queue, Some(QueueId::new("support")));
        assert_eq!(answered.title, "Customer 1");
        assert!(answered.answered);
        assert_eq!(
            (answered.wait_time_ms, answered.duration_ms),
            (10_000, 60_000)
        );
        assert_eq!(answered.ended_by, Some(EndedBy::Agent));
        assert_eq!(answered.missed, MissedMark::No);
        assert_eq!(answered.direction, Direction::Inbound);

        let missed = &rows[1];
        assert_eq!(missed.user, None);
        assert!(!missed.answered);
        assert_eq!(missed.wait_time_ms, 30_000);
        assert_eq!(missed.ended_by, Some(EndedBy::Customer));
        assert_eq!(
            missed.missed,
            MissedMark::ContactedBack,
            "Bo wrote to them later"
        );
        assert_eq!(missed.missed_time, Some(Timestamp::from_millis(130_000)));

        let outbound = &rows[2];
        assert_eq!(outbound.direction, Direction::Outbound);
        assert_eq!(outbound.title, "+222", "no name known: the handle");
        assert_eq!(outbound.ended_by, None);
        assert_eq!(outbound.duration_ms, 100_000, "open: counted to now");
    }

    #[test]
    fn filters_sorts_and_rights_select_the_rows() {
        let models = models();
        let all = Visible::everything();
        let mut filter = everything_in(0, 1_000_000);
        assert_eq!(listed(&models, &filter, &all), [1, 2, 3]);

        filter.descending = true;
        assert_eq!(listed(&models, &filter, &all), [3, 2, 1]);
        filter.sort = Column::WaitTime;
        assert_eq!(listed(&models, &filter, &all), [2, 1, 3]);
        filter.sort = Column::User;
        filter.descending = false;
        assert_eq!(
            listed(&models, &filter, &all),
            [1, 3, 2],
            "no user sorts last"
        );

        let only = |change: &dyn Fn(&mut Filter)| {
            let mut filter = everything_in(0, 1_000_000);
            change(&mut filter);
            listed(&models, &filter, &all)
        };
        assert_eq!(only(&|f| f.queue = Some(QueueId::new("sales"))), [2, 3]);
        assert_eq!(only(&|f| f.user = Some(AgentId::new("ada"))), [1]);
        assert_eq!(only(&|f| f.answered = Some(false)), [2]);
        assert_eq!(only(&|f| f.missed = Some(true)), [2]);
        assert_eq!(only(&|f| f.direction = Some(Direction::Outbound)), [3]);
        assert_eq!(
            only(&|f| f.sender = Some(ExternalContactId::new("+222"))),
            [2, 3]
        );
        assert_eq!(only(&|f| f.contact = Some("customer 1".into())), [1]);
        assert_eq!(only(&|f| f.from = Timestamp::from_millis(50_000)), [2, 3]);
        assert_eq!(only(&|f| f.to = Timestamp::from_millis(100_000)), [1]);

        // A supervisor without rights to sales sees none of its interactions.
        let support_only = Visible {
            users: Scope::All,
            queues: Scope::Only([QueueId::new("support")].into()),
        };
        assert_eq!(
            listed(&models, &everything_in(0, 1_000_000), &support_only),
            [1]
        );
        // Nor one without rights to Ada her activities.
        let not_ada = Visible {
            users: Scope::Only([AgentId::new("bo")].into()),
            queues: Scope::All,
        };
        assert_eq!(
            listed(&models, &everything_in(0, 1_000_000), &not_ada),
            [2, 3]
        );
    }

    #[test]
    fn pages_follow_each_other_by_cursor_in_either_order() {
        let models = models();
        let now = Timestamp::from_millis(300_000);
        for descending in [false, true] {
            let mut filter = everything_in(0, 1_000_000);
            filter.sort = Column::Queue;
            filter.descending = descending;
            let whole = listed(&models, &filter, &Visible::everything());
            let mut paged = Vec::new();
            let mut cursor: Option<Cursor> = None;
            loop {
                let page = models.interactions.page(
                    &filter,
                    &Visible::everything(),
                    &models.missed,
                    now,
                    cursor.as_ref(),
                    1,
                );
                paged.extend(
                    page.interactions
                        .iter()
                        .map(|i| i.conversation.as_uuid().as_u128()),
                );
                match page.next {
                    Some(next) => {
                        cursor = Some(Cursor::decode(&next).unwrap_or_else(|| panic!("{next}")))
                    }
                    None => break,
                }
            }
            assert_eq!(paged, whole, "descending: {descending}");
        }
        assert!(Cursor::decode("zz").is_none());
        assert!(Cursor::decode("abc").is_none());
    }

    #[test]
    fn exports_have_the_lists_columns_and_rows() {
        let models = models();
        let rows = models.interactions.all(
            &everything_in(0, 1_000_000),
            &Visible::everything(),
            &models.missed,
            Timestamp::from_millis(300_000),
        );
        let csv = String::from_utf8(crate::export::csv(&rows).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            "Time,Queue,User,Contact,External contact,Title,Answered,Wait time,Duration,Ended by,Connector,Missed,Missed time,Direction"
        );
        assert!(
            lines[1].starts_with("1970-01-01T00:00:10.000Z,support,ada,Customer 1,+111,"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains(",NO,"), "contacted back: {}", lines[2]);
        let xlsx = crate::export::xlsx(&rows).unwrap_or_else(|e| panic!("{e}"));
        assert!(xlsx.starts_with(b"PK"), "an XLSX file is a zip archive");

        // A supervisor without rights to sales exports none of its interactions.
        let support_only = Visible {
            users: Scope::All,
            queues: Scope::Only([QueueId::new("support")].into()),
        };
        let theirs = models.interactions.all(
            &everything_in(0, 1_000_000),
            &support_only,
            &models.missed,
            Timestamp::from_millis(300_000),
        );
        let csv = String::from_utf8(crate::export::csv(&theirs).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(csv.lines().count(), 2, "{csv}");
        assert!(!csv.contains("sales") && !csv.contains("+222"), "{csv}");
    }
}
