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

/// Names stored once and referred to by number, so that a row holds no pointer and a scan over a
/// million rows reads one compact block of memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Names {
    list: Vec<String>,
    index: std::collections::HashMap<String, u32>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.index.get(name) {
            return *id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(name.to_owned());
        self.index.insert(name.to_owned(), id);
        id
    }

    /// The names held (not blanked), in order.
    fn kept(&self) -> std::collections::BTreeSet<&str> {
        self.list
            .iter()
            .map(String::as_str)
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// Forgets a name no row uses any more; its number stays taken, by nothing.
    fn blank(&mut self, id: u32) {
        if let Some(name) = self.list.get_mut(id as usize) {
            let name = std::mem::take(name);
            if self.index.get(&name) == Some(&id) {
                self.index.remove(&name);
            }
        }
    }

    fn find(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    fn name(&self, id: u32) -> Option<&str> {
        self.list.get(usize::try_from(id).ok()?).map(String::as_str)
    }

    /// Each id's place in the names' sorted order, for sorting by name without comparing text.
    fn ranks(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.list.len() as u32).collect();
        ids.sort_by(|a, b| self.list[*a as usize].cmp(&self.list[*b as usize]));
        let mut ranks = vec![0; ids.len()];
        for (rank, id) in ids.into_iter().enumerate() {
            ranks[id as usize] = rank as u32;
        }
        ranks
    }
}

impl Serialize for Names {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<String>::deserialize(deserializer)?;
        // A blanked name (empty) is found by no one.
        let index = list
            .iter()
            .enumerate()
            .filter(|(_, name)| !name.is_empty())
            .map(|(id, name)| (name.clone(), id as u32))
            .collect();
        Ok(Self { list, index })
    }
}

/// How a row names whom the core routes on.
fn subject(connector: &ConnectorId, contact: &ExternalContactId) -> String {
    format!("{connector}:{contact}")
}

/// "None" for a name number.
const NONE: u32 = u32::MAX;

/// A stored row: numbers and flags only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Row {
    conversation: ConversationId,
    /// Where the row stands in the list: when the conversation arrived (its first row) or when
    /// the agent took it (later activities).
    time: Timestamp,
    /// When the activity began (the agent took it; for a missed row, when it arrived): what its
    /// duration counts from.
    since: Timestamp,
    queue: u32,
    user: u32,
    /// The contact's name.
    contact: u32,
    /// The customer's handle (their pseudonym once they are anonymised).
    handle: u32,
    /// Whom the core routes on (`connector:contact`), which an erasure names.
    subject: u32,
    connector: u32,
    channel: Channel,
    answered: bool,
    direction: Direction,
    ended_by: Option<EndedBy>,
    wait_ms: u64,
    ended_at: Option<Timestamp>,
    missed_at: Option<Timestamp>,
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
        if !text.len().is_multiple_of(2) {
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

impl Filter {
    /// Every row from `from` (included) to `to` (excluded), by time, oldest first.
    pub fn between(from: Timestamp, to: Timestamp) -> Self {
        Self {
            from,
            to,
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
}

/// One page and the cursor of the next, if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub interactions: Vec<Interaction>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Context {
    /// The conversation's first row: made when it starts (so rows stay in time order), it becomes
    /// the first activity when an agent takes it, or the missed row when nobody does.
    first: u64,
    taken: bool,
    /// Since when it has waited in its queue, while it waits.
    waiting_since: Option<Timestamp>,
    /// Open activities: agent → row.
    activities: BTreeMap<AgentId, u64>,
}

/// Equal when it answers every query the same: names no row uses any more (an erased
/// contact's) and the order names were first seen in do not count.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InteractionsView {
    rows: Vec<Row>,
    /// Per queue (by number), the places of its rows, so that a query for one queue looks at its
    /// rows only. Mostly in order; a row that moved queues while waiting may be listed twice.
    by_queue: Vec<Vec<u32>>,
    /// The places of the missed rows, in the order they were missed.
    missed: Vec<u32>,
    open: BTreeMap<ConversationId, Context>,
    queues: Names,
    users: Names,
    contacts: Names,
    handles: Names,
    subjects: Names,
    connectors: Names,
}

impl PartialEq for InteractionsView {
    fn eq(&self, other: &Self) -> bool {
        self.rows.len() == other.rows.len()
            && self.by_queue == other.by_queue
            && self.missed == other.missed
            && self.open == other.open
            && self
                .rows
                .iter()
                .zip(&other.rows)
                .all(|(a, b)| self.resolve(a) == other.resolve(b))
            // No name is kept that the other lacks: an erased one must be gone, not unused.
            && [
                (&self.contacts, &other.contacts),
                (&self.handles, &other.handles),
                (&self.queues, &other.queues),
                (&self.users, &other.users),
                (&self.subjects, &other.subjects),
                (&self.connectors, &other.connectors),
            ]
            .into_iter()
            .all(|(a, b)| a.kept() == b.kept())
    }
}

impl Eq for InteractionsView {}

impl InteractionsView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::ConversationStarted(e) => self.started(
                e.conversation,
                at,
                (&e.connector, e.channel, &e.contact, e.handle.as_deref()),
                e.contact_name.as_deref(),
                None,
            ),
            EventKind::OutboundConversationStarted(e) => self.started(
                e.conversation,
                at,
                (&e.connector, e.channel, &e.contact, e.handle.as_deref()),
                None,
                Some((&e.agent, &e.queue)),
            ),
            EventKind::ContactAnonymised(e) => self.anonymised(&e.connector, &e.contact),
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

    /// Makes a conversation's first row: waiting for an agent, or (for an outbound conversation)
    /// the activity of the agent who started it, in their queue.
    fn started(
        &mut self,
        conversation: ConversationId,
        at: Timestamp,
        (connector, channel, contact, handle): (
            &ConnectorId,
            Channel,
            &ExternalContactId,
            Option<&str>,
        ),
        name: Option<&str>,
        outbound: Option<(&AgentId, &QueueId)>,
    ) {
        let row = Row {
            conversation,
            time: at,
            since: at,
            queue: outbound.map_or(NONE, |(_, queue)| self.queues.id(queue.as_str())),
            user: outbound.map_or(NONE, |(agent, _)| self.users.id(agent.as_str())),
            contact: name.map_or(NONE, |name| self.contacts.id(name)),
            handle: self.handles.id(handle.unwrap_or(contact.as_str())),
            subject: self.subjects.id(&subject(connector, contact)),
            connector: self.connectors.id(connector.as_str()),
            channel,
            answered: outbound.is_some(),
            direction: if outbound.is_some() {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            ended_by: None,
            wait_ms: 0,
            ended_at: None,
            missed_at: None,
        };
        let first = self.push(row);
        let activities = outbound
            .map(|(agent, _)| (agent.clone(), first))
            .into_iter()
            .collect();
        self.open.insert(
            conversation,
            Context {
                first,
                taken: outbound.is_some(),
                waiting_since: None,
                activities,
            },
        );
    }

    /// Forgets an anonymised contact's name and handle in every row of theirs: the rows show
    /// their pseudonym instead, as a rebuild from the log (which can no longer read them) does.
    /// A name no other row uses is blanked, so that no copy of it is left here.
    fn anonymised(&mut self, connector: &ConnectorId, contact: &ExternalContactId) {
        let Some(wanted) = self.subjects.find(&subject(connector, contact)) else {
            return;
        };
        let pseudonym = self.handles.id(contact.as_str());
        let (mut names, mut handles) = (BTreeSet::new(), BTreeSet::new());
        for row in self.rows.iter_mut().filter(|row| row.subject == wanted) {
            names.insert(std::mem::replace(&mut row.contact, NONE));
            handles.insert(std::mem::replace(&mut row.handle, pseudonym));
        }
        for row in &self.rows {
            names.remove(&row.contact);
            handles.remove(&row.handle);
        }
        for id in names {
            self.contacts.blank(id);
        }
        for id in handles {
            self.handles.blank(id);
        }
    }

    /// A row with its names looked up, to compare views that numbered names differently.
    fn resolve<'a>(&'a self, row: &'a Row) -> impl PartialEq + 'a {
        (
            (row.conversation, row.time, row.since, row.channel),
            (row.answered, row.direction, row.ended_by, row.wait_ms),
            (row.ended_at, row.missed_at),
            self.queues.name(row.queue),
            self.users.name(row.user),
            self.contacts.name(row.contact),
            self.handles.name(row.handle),
            self.subjects.name(row.subject),
            self.connectors.name(row.connector),
        )
    }

    fn push(&mut self, row: Row) -> u64 {
        let queue = row.queue;
        self.rows.push(row);
        let place = self.rows.len() as u64 - 1;
        self.index(queue, place);
        place
    }

    /// Lists the row at `place` under `queue`.
    fn index(&mut self, queue: u32, place: u64) {
        if queue == NONE {
            return;
        }
        let queue = queue as usize;
        if self.by_queue.len() <= queue {
            self.by_queue.resize_with(queue + 1, Vec::new);
        }
        self.by_queue[queue].push(u32::try_from(place).unwrap_or(u32::MAX));
    }

    fn row_mut(&mut self, place: u64) -> Option<&mut Row> {
        self.rows.get_mut(usize::try_from(place).ok()?)
    }

    fn queued(&mut self, conversation: ConversationId, queue: &QueueId, at: Timestamp) {
        let queue = self.queues.id(queue.as_str());
        let Some(context) = self.open.get_mut(&conversation) else {
            return;
        };
        context.waiting_since.get_or_insert(at);
        let (first, taken) = (context.first, context.taken);
        // Until someone takes it, the first row is in the queue it waits in.
        if !taken
            && let Some(row) = self.row_mut(first)
            && row.queue != queue
        {
            row.queue = queue;
            self.index(queue, first);
        }
    }

    fn taken(&mut self, conversation: ConversationId, agent: &AgentId, at: Timestamp) {
        let user = self.users.id(agent.as_str());
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
        let (first, was_taken) = (context.first, context.taken);
        context.taken = true;
        if !was_taken {
            context.activities.insert(agent.clone(), first);
            if let Some(row) = self.row_mut(first) {
                row.user = user;
                row.answered = true;
                row.wait_ms = wait_ms;
                row.since = at;
            }
            return;
        }
        let Some(template) = self.rows.get(usize::try_from(first).unwrap_or(usize::MAX)) else {
            return;
        };
        let row = Row {
            conversation,
            time: at,
            since: at,
            user,
            answered: true,
            wait_ms,
            ended_by: None,
            ended_at: None,
            missed_at: None,
            ..template.clone()
        };
        let place = self.push(row);
        if let Some(context) = self.open.get_mut(&conversation) {
            context.activities.insert(agent.clone(), place);
        }
    }

    fn end(&mut self, conversation: ConversationId, agent: &AgentId, at: Timestamp, by: EndedBy) {
        let Some(place) = self
            .open
            .get_mut(&conversation)
            .and_then(|context| context.activities.remove(agent))
        else {
            return;
        };
        if let Some(row) = self.row_mut(place) {
            row.ended_at = Some(at);
            row.ended_by = Some(by);
        }
    }

    fn closed(&mut self, conversation: ConversationId, at: Timestamp, by: EndedBy) {
        let Some(context) = self.open.remove(&conversation) else {
            return;
        };
        for place in context.activities.values() {
            if let Some(row) = self.row_mut(*place) {
                row.ended_at = Some(at);
                row.ended_by = Some(by);
            }
        }
        if !context.taken
            && let Some(row) = self.row_mut(context.first)
        {
            row.wait_ms = context
                .waiting_since
                .map_or(0, |since| at.millis_since(since));
            row.ended_at = Some(at);
            row.ended_by = Some(by);
            row.missed_at = Some(at);
            self.missed
                .push(u32::try_from(context.first).unwrap_or(u32::MAX));
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
        let query = Query::new(self, filter, visible, missed, now);
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
        for (place, row) in self.candidates(&query) {
            let Some(mark) = query.admits(row) else {
                continue;
            };
            let key = (query.key(row, mark), place);
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
            if best.get(at) == Some(&key) {
                // Listed twice in its queue's index.
                continue;
            }
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
        let query = Query::new(self, filter, visible, missed, now);
        let mut keyed: Vec<(Key, u64)> = self
            .candidates(&query)
            .filter_map(|(place, row)| query.admits(row).map(|mark| (query.key(row, mark), place)))
            .collect();
        keyed.sort_unstable();
        keyed.dedup();
        if filter.descending {
            keyed.reverse();
        }
        keyed
            .iter()
            .filter_map(|(_, place)| self.show(*place, missed, now))
            .collect()
    }

    /// The rows a query needs to look at, with their places: its queue's when it asks for one
    /// queue, the missed ones when it asks for those, otherwise those in its time range.
    fn candidates<'q>(
        &'q self,
        query: &Query<'q>,
    ) -> Box<dyn Iterator<Item = (u64, &'q Row)> + 'q> {
        let filter = query.filter;
        let listed = |places: &'q [u32]| {
            Box::new(places.iter().filter_map(move |place| {
                let row = self.rows.get(*place as usize)?;
                (row.time >= filter.from && row.time < filter.to)
                    .then_some((u64::from(*place), row))
            }))
        };
        match query.queue {
            Some(queue) => listed(
                self.by_queue
                    .get(queue as usize)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
            None if filter.missed == Some(true) => listed(&self.missed),
            None => Box::new(self.in_range(filter)),
        }
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
        let name = |names: &Names, id: u32| names.name(id).map(str::to_owned);
        let handle = name(&self.handles, row.handle).unwrap_or_default();
        let contact = name(&self.contacts, row.contact);
        Some(Interaction {
            conversation: row.conversation,
            time: row.time,
            queue: name(&self.queues, row.queue).map(QueueId::new),
            user: name(&self.users, row.user).map(AgentId::new),
            title: contact.clone().unwrap_or_else(|| handle.clone()),
            contact,
            external_contact: ExternalContactId::new(handle),
            answered: row.answered,
            wait_time_ms: row.wait_ms,
            duration_ms: duration(row, now),
            ended_by: row.ended_by,
            connector: ConnectorId::new(name(&self.connectors, row.connector).unwrap_or_default()),
            channel: row.channel,
            missed: mark(row, missed),
            missed_time: row.missed_at,
            direction: row.direction,
        })
    }
}

/// A filter resolved against the view's names once, for a scan.
struct Query<'a> {
    view: &'a InteractionsView,
    filter: &'a Filter,
    visible: &'a Visible,
    missed: &'a MissedView,
    now: Timestamp,
    /// The filter's names as numbers; `Some(NONE)` when the name was never seen (nothing matches).
    queue: Option<u32>,
    user: Option<u32>,
    handle: Option<u32>,
    /// Which contact names contain the filter's text.
    contacts: Option<Vec<bool>>,
    /// Name ranks, for sorting by a name column.
    ranks: Vec<u32>,
    /// Which queues and users the caller may see (by number); `None` for all.
    visible_queues: Option<Vec<bool>>,
    visible_users: Option<Vec<bool>>,
    /// The caller's own rows (an agent's), seen whatever their queue...
    own: Option<u32>,
    /// ... and the queues they administer, whose rows are seen whoever handled them.
    administered: Vec<bool>,
}

impl<'a> Query<'a> {
    fn new(
        view: &'a InteractionsView,
        filter: &'a Filter,
        visible: &'a Visible,
        missed: &'a MissedView,
        now: Timestamp,
    ) -> Self {
        let find = |names: &Names, name: Option<&str>| name.map(|n| names.find(n).unwrap_or(NONE));
        let allowed = |names: &Names, allows: &dyn Fn(&str) -> bool| {
            names.list.iter().map(|n| allows(n)).collect::<Vec<bool>>()
        };
        let ranks = match filter.sort {
            Column::Queue => view.queues.ranks(),
            Column::User => view.users.ranks(),
            Column::Contact => view.contacts.ranks(),
            Column::ExternalContact => view.handles.ranks(),
            Column::Connector => view.connectors.ranks(),
            _ => Vec::new(),
        };
        Self {
            view,
            filter,
            visible,
            missed,
            now,
            queue: find(&view.queues, filter.queue.as_ref().map(|q| q.as_str())),
            user: find(&view.users, filter.user.as_ref().map(|u| u.as_str())),
            handle: find(&view.handles, filter.sender.as_ref().map(|s| s.as_str())),
            contacts: filter.contact.as_ref().map(|wanted| {
                let wanted = wanted.to_lowercase();
                view.contacts
                    .list
                    .iter()
                    .map(|name| name.to_lowercase().contains(&wanted))
                    .collect()
            }),
            ranks,
            visible_queues: match &visible.queues {
                crate::rights::Scope::All => None,
                crate::rights::Scope::Only(_) => Some(allowed(&view.queues, &|n| {
                    visible.queues.allows(&QueueId::new(n))
                })),
            },
            visible_users: match &visible.users {
                crate::rights::Scope::All => None,
                crate::rights::Scope::Only(_) => Some(allowed(&view.users, &|n| {
                    visible.users.allows(&AgentId::new(n))
                })),
            },
            own: visible
                .own
                .as_ref()
                .map(|own| view.users.find(own.as_str()).unwrap_or(NONE)),
            administered: if visible.administers.is_empty() {
                Vec::new()
            } else {
                allowed(&view.queues, &|n| {
                    visible.administers.contains(&QueueId::new(n))
                })
            },
        }
    }

    /// The row's Missed mark if the filter and the rights let it through.
    fn admits(&self, row: &Row) -> Option<MissedMark> {
        let flag = |flags: &Option<Vec<bool>>, id: u32| match flags {
            None => true,
            Some(flags) => flags.get(id as usize).copied().unwrap_or(false),
        };
        // Rights, as `Visible::allows` says: a row needs its queue (or, without one, rights to all
        // queues) and its user; the caller's own rows and their administered queues' rows pass.
        let queue_ok = if row.queue == NONE {
            matches!(self.visible.queues, crate::rights::Scope::All)
        } else {
            flag(&self.visible_queues, row.queue)
        };
        let own = row.user != NONE && self.own == Some(row.user);
        let administered = row.queue != NONE
            && self
                .administered
                .get(row.queue as usize)
                .copied()
                .unwrap_or(false);
        let rights = own
            || administered
            || (queue_ok && (row.user == NONE || flag(&self.visible_users, row.user)));
        let admitted = rights
            && self.queue.is_none_or(|q| row.queue == q)
            && self.user.is_none_or(|u| row.user == u)
            && self.handle.is_none_or(|h| row.handle == h)
            && self.filter.direction.is_none_or(|d| row.direction == d)
            && self.filter.answered.is_none_or(|a| row.answered == a)
            && (row.contact != NONE || self.contacts.is_none())
            && flag(&self.contacts, row.contact);
        if !admitted {
            return None;
        }
        let mark = mark(row, self.missed);
        self.filter
            .missed
            .is_none_or(|m| (mark != MissedMark::No) == m)
            .then_some(mark)
    }

    fn key(&self, row: &Row, mark: MissedMark) -> Key {
        let rank = |id: u32| {
            self.ranks
                .get(id as usize)
                .map_or(Key::Absent, |r| Key::Number(i64::from(*r)))
        };
        let number = |value: u64| Key::Number(i64::try_from(value).unwrap_or(i64::MAX));
        match self.filter.sort {
            Column::Time => Key::Number(row.time.as_millis()),
            Column::Queue => rank(row.queue),
            Column::User => rank(row.user),
            Column::Contact => rank(row.contact),
            Column::ExternalContact => rank(row.handle),
            Column::Connector => rank(row.connector),
            Column::Title => {
                let title = self
                    .view
                    .contacts
                    .name(row.contact)
                    .or_else(|| self.view.handles.name(row.handle));
                title.map_or(Key::Absent, |t| Key::Text(t.to_owned()))
            }
            Column::Answered => Key::Number(i64::from(row.answered)),
            Column::WaitTime => number(row.wait_ms),
            Column::Duration => number(duration(row, self.now)),
            Column::EndedBy => row
                .ended_by
                .map_or(Key::Absent, |by| Key::Number(by as i64)),
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

fn duration(row: &Row, now: Timestamp) -> u64 {
    row.ended_at.unwrap_or(now).millis_since(row.since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReadModels;
    use crate::rights::Scope;
    use crate::testing::id;
    use routing_core::event::{
        ConversationClosed, ConversationEnqueued, ConversationStarted, CustomerLeft, OfferAccepted,
        OutboundConversationStarted,
    };

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
                    handle: None,
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
                customer_wrote_at: None,
                handle: None,
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
        Filter::between(Timestamp::from_millis(from), Timestamp::from_millis(to))
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
            own: None,
            administers: Default::default(),
        };
        assert_eq!(
            listed(&models, &everything_in(0, 1_000_000), &support_only),
            [1]
        );
        // Nor one without rights to Ada her activities.
        let not_ada = Visible {
            users: Scope::Only([AgentId::new("bo")].into()),
            queues: Scope::All,
            own: None,
            administers: Default::default(),
        };
        assert_eq!(
            listed(&models, &everything_in(0, 1_000_000), &not_ada),
            [2, 3]
        );
        // The list admits exactly what `Visible::allows` does: an agent's own rows whatever the
        // queue, and a team admin's administered queue whoever handled it.
        let bo_herself = Visible {
            users: Scope::Only([AgentId::new("bo")].into()),
            queues: Scope::Only([QueueId::new("support")].into()),
            own: Some(AgentId::new("bo")),
            administers: Default::default(),
        };
        let bo_admin_of_sales = Visible {
            administers: [QueueId::new("sales")].into(),
            ..bo_herself.clone()
        };
        let rows = listed(&models, &everything_in(0, 1_000_000), &all);
        for visible in [&bo_herself, &bo_admin_of_sales, &support_only, &not_ada] {
            let mut filter = everything_in(0, 1_000_000);
            filter.sort = Column::Time;
            let expected: Vec<u128> = rows
                .iter()
                .copied()
                .filter(|n| {
                    let every = models.interactions.all(
                        &filter,
                        &all,
                        &models.missed,
                        Timestamp::from_millis(300_000),
                    );
                    let row = every
                        .iter()
                        .find(|r| r.conversation.as_uuid().as_u128() == *n)
                        .unwrap_or_else(|| panic!("row {n}"));
                    visible.allows(row.queue.as_ref(), row.user.as_ref())
                })
                .collect();
            assert_eq!(listed(&models, &filter, visible), expected, "{visible:?}");
        }
        assert_eq!(
            listed(&models, &everything_in(0, 1_000_000), &bo_herself),
            [3]
        );
        assert_eq!(
            listed(&models, &everything_in(0, 1_000_000), &bo_admin_of_sales),
            [2, 3]
        );
    }

    #[test]
    fn a_conversation_that_moves_queues_while_waiting_is_listed_once_in_its_queue() {
        let mut models = models();
        let mut position = models.checkpoint();
        for (queue, ms) in [("sales", 300_000), ("support", 301_000), ("sales", 302_000)] {
            if ms == 300_000 {
                position += 1;
                models.apply(
                    position,
                    &Event {
                        at: Timestamp::from_millis(ms),
                        kind: ConversationStarted {
                            handle: None,
                            conversation: id(9),
                            connector: ConnectorId::new("wa"),
                            channel: Channel::Whatsapp,
                            contact: ExternalContactId::new("+999"),
                            contact_name: None,
                        }
                        .into(),
                    },
                );
            }
            position += 1;
            models.apply(
                position,
                &Event {
                    at: Timestamp::from_millis(ms),
                    kind: ConversationEnqueued {
                        conversation: id(9),
                        queue: QueueId::new(queue),
                        priority: 0,
                        skills: Vec::new(),
                    }
                    .into(),
                },
            );
        }
        let in_queue = |queue: &str| {
            let mut filter = everything_in(250_000, 1_000_000);
            filter.queue = Some(QueueId::new(queue));
            let all = listed(&models, &filter, &Visible::everything());
            let page = models.interactions.page(
                &filter,
                &Visible::everything(),
                &models.missed,
                Timestamp::from_millis(400_000),
                None,
                10,
            );
            assert_eq!(page.interactions.len(), all.len());
            all
        };
        assert_eq!(in_queue("sales"), [9]);
        assert!(in_queue("support").is_empty());
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
            lines[1].starts_with("1970-01-01T00:00:00.000Z,support,ada,Customer 1,+111,"),
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
            own: None,
            administers: Default::default(),
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
