//! `State::execute`: the one place where commands are checked against the rules and turned into
//! events.
//!
//! Every command is validated completely before its first event; a rejection leaves the state
//! untouched. Accepted commands emit events that are applied as they are emitted (with the same
//! `apply` a replay uses), then routing runs on the resulting state: conversations that came back
//! to their queue are offered, agents who gained room are filled.

use crate::command::Target;
use crate::command::{Command, Context};
use crate::config::{
    AfterMaxWait, AgentLostPolicy, DEFAULT_OFFER_TIMEOUT_MS, MISSED_OFFER_PAUSE_REASON,
    RoutingMode, TransferDeclined,
};
use crate::content::{DeliveryStatus, DispatchOutcome, HELD_RECEIPT_MS, MessageKind, ReceiptFor};
use crate::event::{
    AcceptedFromWaiting, ActivityBlurred, ActivityFocused, AgentBecameReady, AgentDisconnected,
    AgentHeartbeatRecorded, AgentLeft, AgentLoggedIn, AgentLoggedOut, AgentMessageSent,
    AgentPaused, AgentsReminded, ApiKeyIssued, ApiKeyRevoked, ContactAnonymised,
    ConversationClosed, ConversationEnqueued, ConversationExpired, ConversationGrabbed,
    ConversationJoined, ConversationOverdue, ConversationPostponed, ConversationReclaimed,
    ConversationResumed, ConversationSoonOverdue, ConversationStarted,
    CustomerLeft as CustomerLeftEvent, CustomerMessageReceived, CustomerPresenceChanged, Event,
    EventKind, ImportanceMarked, InviteOffered, MessageDispatchFailed, MessageDispatched,
    MessageStatusChanged, OfferAccepted, OfferRejected, OfferRescinded, OfferTimedOut,
    OutboundConversationStarted, PauseLimitExceeded, ReceiptHeld, ReclaimReason, ReminderReason,
    RescindReason, TeamNotified, TransferOffered, TransferredToQueue, WaitLimitOutcome,
    WaitLimitReached,
};
use crate::ids::{AgentId, ConversationId, MessageId};
use crate::rejection::Rejection;
use crate::state::{
    AgentState, Conversation, Deadline, KeyStatus, Offer, OfferPurpose, Presence, State,
};
use crate::time::Timestamp;
use std::collections::VecDeque;

/// One command's execution: the events emitted so far and the routing it left to do.
pub(crate) struct Run<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) now: Timestamp,
    pub(crate) events: Vec<Event>,
    /// Conversations that (re-)entered their queue and must be offered if anyone is free.
    pub(crate) to_offer: VecDeque<ConversationId>,
    /// Agents who gained room and must be offered what waits for them.
    pub(crate) to_fill: VecDeque<AgentId>,
}

impl Run<'_> {
    pub(crate) fn emit(&mut self, kind: impl Into<EventKind>) {
        let event = Event {
            at: self.now,
            kind: kind.into(),
        };
        self.state.apply(&event);
        self.events.push(event);
    }
}

/// What a channel allows an agent to send ([`crate::content::ReplyRules`]): Instagram DM text
/// at most 1000 characters; on WhatsApp and Messenger, free text only within 24 hours of the
/// customer's last message, a template after.
fn check_channel_rules(
    channel: crate::Channel,
    text: &str,
    template: Option<&str>,
    approved: &[String],
    customer_wrote_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), Rejection> {
    if text.trim().is_empty() {
        return Err(Rejection::MessageEmpty);
    }
    let rules = crate::content::ReplyRules::of(channel, customer_wrote_at, now);
    if let Some(max) = rules.max_chars {
        let got = text.chars().count();
        if got > max {
            return Err(Rejection::MessageTooLong { channel, max, got });
        }
    }
    if rules.template_required && template.is_none_or(|t| t.trim().is_empty()) {
        return Err(Rejection::TemplateRequired(channel));
    }
    if let Some(template) = template
        && !approved.is_empty()
        && !approved.iter().any(|a| a == template)
    {
        return Err(Rejection::UnknownTemplate {
            template: template.to_owned(),
            allowed: approved.to_vec(),
        });
    }
    Ok(())
}

/// Whether a receipt saying `to` moves a message that is `from` on: forward only, and a failure
/// only of a message not yet delivered (a failure reported after delivery changes nothing).
fn moves_on(from: DeliveryStatus, to: DeliveryStatus) -> bool {
    match to {
        DeliveryStatus::Failed => from < DeliveryStatus::Delivered,
        _ => from != DeliveryStatus::Failed && to > from,
    }
}

/// A watermark is the provider's time for the newest message read; what we hold is when our
/// worker confirmed sending it, which comes after the provider stamped it, by a round trip. So
/// messages confirmed up to this long after a watermark count as covered by it: a message sent
/// in that minute after the customer read may be marked read early, which is better than never.
const WATERMARK_SLACK_MS: u64 = 60_000;

/// The agents other than `agent` in a conversation.
fn others(conversation: &Conversation, agent: &AgentId) -> Vec<AgentId> {
    conversation
        .participants
        .iter()
        .filter(|a| *a != agent)
        .cloned()
        .collect()
}

/// Checks an inbound message's connector and fields: what makes it acceptable at all, before
/// anything else is looked at.
fn inbound_connector<'a>(
    state: &'a State,
    connector: &crate::ConnectorId,
    channel: crate::Channel,
    contact: &crate::ids::ExternalContactId,
    message_id: &crate::ids::MessageId,
    text: &str,
    kind: &MessageKind,
) -> Result<&'a crate::ConnectorConfig, Rejection> {
    let config = state
        .config()
        .connectors
        .get(connector)
        .ok_or_else(|| Rejection::UnknownConnector(connector.clone()))?;
    if config.channel != channel {
        return Err(Rejection::ChannelMismatch {
            connector: connector.clone(),
            expected: config.channel,
            got: channel,
        });
    }
    if contact.as_str().trim().is_empty() {
        return Err(Rejection::ContactMissing);
    }
    if message_id.as_str().trim().is_empty() {
        return Err(Rejection::MessageIdMissing);
    }
    if kind.needs_text() && text.trim().is_empty() {
        return Err(Rejection::MessageEmpty);
    }
    // A kind is stored by its name: it must read back as itself.
    let name = kind.as_str();
    if name.is_empty()
        || name.len() > MAX_KIND_NAME
        || MessageKind::from(name.to_owned()) != *kind
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(Rejection::MessageKindInvalid(name.to_owned()));
    }
    Ok(config)
}

/// The longest name a message kind may have.
const MAX_KIND_NAME: usize = 64;

/// Whether a visitor's address looks like one: a local part and a domain, no spaces. Whether it
/// reaches anyone is the mail system's business.
fn is_email_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !address.chars().any(char::is_whitespace)
}

impl State {
    /// What makes two deliveries of a command the same delivery: for a customer's message, its
    /// connector and the provider's message id. The command is checked first, so that an invalid
    /// message is refused rather than mistaken for a redelivery; other commands have no key.
    pub fn idempotency_key(&self, command: &Command) -> Result<Option<String>, Rejection> {
        match command {
            Command::ReceiveCustomerMessage {
                connector,
                channel,
                contact,
                message_id,
                text,
                kind,
                ..
            } => {
                inbound_connector(self, connector, *channel, contact, message_id, text, kind)?;
                // Connector ids are configured from a safe alphabet without ':' or '/', so the
                // pair cannot be confused with another, nor with a receipt's key.
                Ok(Some(format!("{connector}:{message_id}")))
            }
            // A receipt the provider delivers again is the same receipt: one event, ever.
            Command::RecordReceipt {
                connector,
                receipt,
                status,
            } => Ok(Some(match receipt {
                ReceiptFor::Message(id) => format!("receipt/{connector}:{status}:{id}"),
                ReceiptFor::UpTo { contact, at } => {
                    format!("receipt/{connector}:{status}:{}@{contact}", at.as_millis())
                }
            })),
            _ => Ok(None),
        }
    }

    /// Decides what a command means and applies it: the events it produced, or why it was
    /// refused (and then the state is exactly as it was).
    pub fn execute(
        &mut self,
        command: Command,
        context: &Context,
    ) -> Result<Vec<Event>, Rejection> {
        let starts_one = matches!(
            command,
            Command::ReceiveCustomerMessage { .. } | Command::StartOutbound { .. }
        );
        if starts_one && self.conversation(&context.new_conversation_id).is_some() {
            return Err(Rejection::ConversationIdInUse(context.new_conversation_id));
        }
        let mut run = Run {
            state: self,
            now: context.now,
            events: Vec::new(),
            to_offer: VecDeque::new(),
            to_fill: VecDeque::new(),
        };
        run.command(command, context)?;
        run.dispatch();
        Ok(run.events)
    }
}

/// Decides a command against a copy of the state: the pure form of [`State::execute`], for
/// what-if questions and tests. The engine uses `execute`, which does not copy.
pub fn decide(state: &State, command: Command, context: &Context) -> Result<Vec<Event>, Rejection> {
    state.clone().execute(command, context)
}

impl Run<'_> {
    fn command(&mut self, command: Command, context: &Context) -> Result<(), Rejection> {
        match command {
            Command::ReceiveCustomerMessage {
                connector,
                channel,
                contact,
                contact_name,
                handle,
                message_id,
                text,
                kind,
                attachments,
            } => {
                let config = inbound_connector(
                    self.state,
                    &connector,
                    channel,
                    &contact,
                    &message_id,
                    &text,
                    &kind,
                )?;
                let (queue, priority) = (config.queue.clone(), config.priority);
                let skills: Vec<String> = config.skills.iter().cloned().collect();
                match self.state.open_conversation_of(&connector, &contact) {
                    Some(conversation) => {
                        self.emit(CustomerMessageReceived {
                            conversation,
                            message_id,
                            text,
                            kind,
                            attachments,
                        });
                        self.remind_on_message(conversation);
                    }
                    None => {
                        let conversation = context.new_conversation_id;
                        self.emit(ConversationStarted {
                            conversation,
                            connector,
                            channel,
                            contact,
                            contact_name,
                            handle,
                        });
                        self.emit(CustomerMessageReceived {
                            conversation,
                            message_id,
                            text,
                            kind,
                            attachments,
                        });
                        self.enqueue(conversation, queue, priority, skills);
                    }
                }
            }
            Command::CustomerLeft { connector, contact } => {
                if !self.state.config().connectors.contains_key(&connector) {
                    return Err(Rejection::UnknownConnector(connector));
                }
                let Some(conversation) = self.state.open_conversation_of(&connector, &contact)
                else {
                    return Err(Rejection::NoOpenConversation { connector, contact });
                };
                let open = self.open(conversation)?;
                let nobody_in_it = open.participants.is_empty();
                if let Some(offer) = open.offer.clone()
                    && offer.purpose == OfferPurpose::Route
                {
                    self.rescind(conversation, &offer.agent, RescindReason::CustomerLeft);
                }
                self.emit(CustomerLeftEvent {
                    conversation,
                    closed: nobody_in_it,
                });
            }
            Command::LogIn { agent, queue } => {
                let current = self.known_agent(&agent)?;
                if !self.state.config().queues.contains_key(&queue) {
                    return Err(Rejection::UnknownQueue(queue));
                }
                if !self.has_rights(&agent, &queue) {
                    return Err(Rejection::AgentHasNoRightsToQueue { agent, queue });
                }
                if current.logged_in.contains(&queue) {
                    return Err(Rejection::AgentAlreadyLoggedIn { agent, queue });
                }
                self.emit(AgentLoggedIn {
                    agent: agent.clone(),
                    queue,
                });
                self.to_fill.push_back(agent);
            }
            Command::LogOut { agent, queue } => {
                let current = self.known_agent(&agent)?;
                if !current.logged_in.contains(&queue) {
                    return Err(Rejection::AgentNotLoggedIn { agent, queue });
                }
                let ringing: Vec<ConversationId> = current
                    .offers
                    .iter()
                    .filter(|id| {
                        // Only routing offers come from a queue login; a colleague's transfer or
                        // invitation is personal and keeps ringing.
                        self.state.conversation(id).is_some_and(|c| {
                            c.queue.as_ref() == Some(&queue)
                                && c.offer
                                    .as_ref()
                                    .is_some_and(|o| o.purpose == OfferPurpose::Route)
                        })
                    })
                    .copied()
                    .collect();
                self.emit(AgentLoggedOut {
                    agent: agent.clone(),
                    queue,
                });
                for conversation in ringing {
                    self.rescind(conversation, &agent, RescindReason::AgentLoggedOut);
                }
            }
            Command::GoReady { agent } => {
                let current = self.known_agent(&agent)?;
                if current.presence == Presence::Ready {
                    return Err(Rejection::AgentAlreadyReady(agent));
                }
                self.emit(AgentBecameReady {
                    agent: agent.clone(),
                });
                self.to_fill.push_back(agent);
            }
            Command::Pause {
                agent,
                reason,
                paid,
            } => {
                self.known_agent(&agent)?;
                if reason.trim().is_empty() {
                    return Err(Rejection::PauseReasonMissing);
                }
                let allowed = &self.state.config().pause_reasons;
                if !allowed.is_empty() && !allowed.contains(&reason) {
                    return Err(Rejection::UnknownPauseReason {
                        reason,
                        allowed: allowed.clone(),
                    });
                }
                self.pause(&agent, reason, paid, false);
            }
            Command::AcceptOffer {
                agent,
                conversation,
            } => {
                self.known_agent(&agent)?;
                let purpose = self.offered_to(conversation, &agent)?;
                self.emit(OfferAccepted {
                    conversation,
                    agent,
                });
                if let OfferPurpose::Transfer { from } = purpose {
                    self.to_fill.push_back(from);
                }
            }
            Command::RejectOffer {
                agent,
                conversation,
            } => {
                self.known_agent(&agent)?;
                let purpose = self.offered_to(conversation, &agent)?;
                self.emit(OfferRejected {
                    conversation,
                    agent: agent.clone(),
                });
                match purpose {
                    OfferPurpose::Route => self.to_offer.push_back(conversation),
                    OfferPurpose::Transfer { from } => self.transfer_declined(conversation, from),
                    OfferPurpose::Invite { .. } => {}
                }
                self.to_fill.push_back(agent);
            }
            Command::AcceptFromWaiting {
                agent,
                conversation,
            } => {
                let current = self.known_agent(&agent)?;
                let open = self.open(conversation)?;
                let queue = open
                    .queue
                    .clone()
                    .ok_or(Rejection::ConversationNotWaiting(conversation))?;
                if !self.has_rights(&agent, &queue) {
                    return Err(Rejection::AgentHasNoRightsToQueue { agent, queue });
                }
                let mode = self.mode_of(&queue);
                if mode != RoutingMode::Routed {
                    // In a team queue, taking from the list is joining or grabbing, with their
                    // rules: one path, one set of rules.
                    let command = if mode == RoutingMode::Grab && !self.is_admin(&agent, &queue) {
                        Command::Grab {
                            agent,
                            conversation,
                        }
                    } else {
                        Command::Join {
                            agent,
                            conversation,
                        }
                    };
                    return self.command(command, context);
                }
                if open.offer.as_ref().is_some_and(|o| o.agent == agent) {
                    // Taking from the list what rings for oneself is accepting it.
                    return self.command(
                        Command::AcceptOffer {
                            agent,
                            conversation,
                        },
                        context,
                    );
                }
                if !open.participants.is_empty() {
                    return Err(Rejection::ConversationNotWaiting(conversation));
                }
                let ringing = open.offer.as_ref().map(|o| o.agent.clone());
                if !current.has_room_for(open.channel) {
                    return Err(Rejection::AgentAtCapacity {
                        agent,
                        channel: open.channel,
                    });
                }
                if let Some(other) = ringing {
                    self.rescind(
                        conversation,
                        &other,
                        RescindReason::TakenFromWaiting { by: agent.clone() },
                    );
                    // The rescinded conversation is taken right below, not routed again; the
                    // colleague it rang for has room again.
                    self.to_offer.retain(|id| *id != conversation);
                    self.to_fill.push_back(other);
                }
                self.emit(AcceptedFromWaiting {
                    conversation,
                    agent,
                });
            }
            Command::Grab {
                agent,
                conversation,
            } => {
                let (queue, mode) = self.team_conversation(conversation, &agent)?;
                if mode != RoutingMode::Grab {
                    return Err(Rejection::NotAGrabQueue(queue));
                }
                if self.is_admin(&agent, &queue) {
                    return Err(Rejection::AdminsDoNotGrab { agent, queue });
                }
                let open = self.open(conversation)?;
                if let Some(owner) = open.grabbed_by.clone() {
                    return Err(Rejection::AlreadyGrabbed {
                        conversation,
                        by: owner,
                    });
                }
                if open
                    .participants
                    .iter()
                    .any(|member| !self.is_admin(member, &queue))
                {
                    // Someone who is not an admin is in it (taken from the list before it was
                    // a grab queue, or by a transfer): it is not up for grabs.
                    return Err(Rejection::ConversationNotWaiting(conversation));
                }
                self.taken_over(conversation, &agent);
                self.emit(ConversationGrabbed {
                    conversation,
                    agent,
                    queue,
                });
            }
            Command::Join {
                agent,
                conversation,
            } => {
                let (queue, mode) = self.team_conversation(conversation, &agent)?;
                let as_admin = self.is_admin(&agent, &queue);
                if mode == RoutingMode::Grab && !as_admin {
                    if let Some(owner) = self.open(conversation)?.grabbed_by.clone() {
                        return Err(Rejection::AlreadyGrabbed {
                            conversation,
                            by: owner,
                        });
                    }
                    return Err(Rejection::GrabQueueJoinedByAdminsOnly { queue });
                }
                self.taken_over(conversation, &agent);
                self.emit(ConversationJoined {
                    conversation,
                    agent,
                    queue,
                    as_admin,
                });
            }
            Command::SendAgentMessage {
                agent,
                conversation,
                message_id,
                text,
                template,
            } => {
                self.known_agent(&agent)?;
                let open = self.participant(conversation, &agent)?;
                if open.postponed {
                    return Err(Rejection::ConversationIsPostponed(conversation));
                }
                check_channel_rules(
                    open.channel,
                    &text,
                    template.as_deref(),
                    self.state.config().templates_of(&open.connector),
                    open.customer_wrote_at,
                    self.now,
                )?;
                let email_fallback =
                    self.email_fallback(open.channel, &open.connector, &open.contact);
                self.emit(AgentMessageSent {
                    conversation,
                    agent,
                    message_id,
                    text,
                    template,
                    outbox: true,
                    email_fallback,
                });
            }
            Command::RecordReceipt {
                connector,
                receipt,
                status,
            } => {
                if !self.state.config().connectors.contains_key(&connector) {
                    return Err(Rejection::UnknownConnector(connector));
                }
                let deliveries = self.state.deliveries();
                let moved: Vec<(ConversationId, MessageId)> = match receipt {
                    ReceiptFor::Message(provider_message_id) => {
                        let Some(sent) = deliveries.sent(&connector, &provider_message_id) else {
                            // The provider may have outrun our worker's confirmation: while the
                            // connector has messages in flight, the receipt waits for it.
                            let earlier = deliveries
                                .held(&connector, &provider_message_id)
                                .filter(|(_, at)| self.now.millis_since(*at) <= HELD_RECEIPT_MS);
                            if deliveries.has_in_flight(&connector)
                                && earlier.is_none_or(|(held, _)| moves_on(held, status))
                            {
                                self.emit(ReceiptHeld {
                                    connector,
                                    provider_message_id,
                                    status,
                                });
                                return Ok(());
                            }
                            return Err(Rejection::UnknownSentMessage {
                                connector,
                                provider_message_id,
                            });
                        };
                        if !moves_on(sent.status, status) {
                            return Err(Rejection::StatusNotNewer {
                                message: sent.message_id.clone(),
                                status: sent.status,
                            });
                        }
                        vec![(sent.conversation, sent.message_id.clone())]
                    }
                    ReceiptFor::UpTo { contact, at } => {
                        let moved: Vec<_> = deliveries
                            .sent_up_to(&connector, &contact, at.plus_millis(WATERMARK_SLACK_MS))
                            .filter(|sent| moves_on(sent.status, status))
                            .map(|sent| (sent.conversation, sent.message_id.clone()))
                            .collect();
                        if moved.is_empty() {
                            return Err(Rejection::NothingSentToContact { connector, contact });
                        }
                        moved
                    }
                };
                for (conversation, message_id) in moved {
                    self.emit(MessageStatusChanged {
                        conversation,
                        message_id,
                        status,
                    });
                }
            }
            Command::ConfirmDispatch {
                connector,
                message_id,
                outcome,
            } => {
                let Some(pending) = self
                    .state
                    .deliveries()
                    .pending(&message_id)
                    .filter(|pending| pending.connector == connector)
                else {
                    return Err(Rejection::NotInOutbox {
                        connector,
                        message: message_id,
                    });
                };
                let conversation = pending.conversation;
                match outcome {
                    DispatchOutcome::Sent {
                        provider_message_id,
                    } => {
                        if provider_message_id.trim().is_empty() {
                            return Err(Rejection::ProviderMessageIdMissing);
                        }
                        // Receipts name a message by this id: it must name one only.
                        if let Some(sent) = self
                            .state
                            .deliveries()
                            .sent(&connector, &provider_message_id)
                        {
                            return Err(Rejection::ProviderMessageIdInUse {
                                provider_message_id,
                                message: sent.message_id.clone(),
                            });
                        }
                        let held = self
                            .state
                            .deliveries()
                            .held(&connector, &provider_message_id)
                            .filter(|(status, at)| {
                                self.now.millis_since(*at) <= HELD_RECEIPT_MS
                                    && moves_on(DeliveryStatus::Sent, *status)
                            });
                        self.emit(MessageDispatched {
                            conversation,
                            message_id: message_id.clone(),
                            provider_message_id,
                        });
                        // The provider's receipt came first; it applies now.
                        if let Some((status, _)) = held {
                            self.emit(MessageStatusChanged {
                                conversation,
                                message_id,
                                status,
                            });
                        }
                    }
                    DispatchOutcome::Failed { reason } => {
                        if reason.trim().is_empty() {
                            return Err(Rejection::FailureReasonMissing);
                        }
                        self.emit(MessageDispatchFailed {
                            conversation,
                            message_id,
                            reason,
                        });
                    }
                }
            }
            Command::SetCustomerPresence {
                connector,
                contact,
                online,
                email,
            } => {
                let config = self
                    .state
                    .config()
                    .connectors
                    .get(&connector)
                    .ok_or_else(|| Rejection::UnknownConnector(connector.clone()))?;
                if config.channel != crate::Channel::Webchat {
                    return Err(Rejection::PresenceOnlyForWebchat(connector));
                }
                if contact.as_str().trim().is_empty() {
                    return Err(Rejection::ContactMissing);
                }
                // A visitor who gives no address now keeps the one they left before.
                let email = match email.map(|e| e.trim().to_owned()) {
                    Some(address) if !is_email_address(&address) => {
                        return Err(Rejection::NotAnEmailAddress(address));
                    }
                    Some(address) => Some(address),
                    None => self
                        .state
                        .deliveries()
                        .presence(&connector, &contact)
                        .and_then(|p| p.email.clone()),
                };
                // A widget repeats itself (every page load, every reconnect): only a change is
                // worth an event.
                let unchanged = self
                    .state
                    .deliveries()
                    .presence(&connector, &contact)
                    .is_some_and(|now| now.online == online && now.email == email);
                if !unchanged {
                    self.emit(CustomerPresenceChanged {
                        connector,
                        contact,
                        online,
                        email,
                    });
                }
            }
            Command::StartOutbound {
                agent,
                connector,
                contact,
                handle,
                message_id,
                text,
                template,
            } => {
                let current = self.known_agent(&agent)?;
                let config = self
                    .state
                    .config()
                    .connectors
                    .get(&connector)
                    .ok_or_else(|| Rejection::UnknownConnector(connector.clone()))?;
                let (queue, channel) = (config.queue.clone(), config.channel);
                if !self.has_rights(&agent, &queue) {
                    return Err(Rejection::AgentHasNoRightsToQueue { agent, queue });
                }
                let Some(wrote) = self.state.contact_wrote_at(&connector, &contact) else {
                    return Err(Rejection::ContactNeverWrote { connector, contact });
                };
                if let Some(open) = self.state.open_conversation_of(&connector, &contact) {
                    return Err(Rejection::ConversationAlreadyOpen(open));
                }
                check_channel_rules(
                    channel,
                    &text,
                    template.as_deref(),
                    &config.templates,
                    Some(wrote),
                    self.now,
                )?;
                if !current.has_room_for(channel) {
                    return Err(Rejection::AgentAtCapacity { agent, channel });
                }
                let conversation = context.new_conversation_id;
                let (connector_id, contact_id) = (connector.clone(), contact.clone());
                self.emit(OutboundConversationStarted {
                    conversation,
                    connector,
                    channel,
                    contact,
                    queue,
                    agent: agent.clone(),
                    handle,
                    customer_wrote_at: Some(wrote),
                });
                let email_fallback = self.email_fallback(channel, &connector_id, &contact_id);
                self.emit(AgentMessageSent {
                    conversation,
                    agent,
                    message_id,
                    text,
                    template,
                    outbox: true,
                    email_fallback,
                });
            }
            Command::Close {
                agent,
                conversation,
                status,
            } => {
                self.known_agent(&agent)?;
                let open = self.participant(conversation, &agent)?;
                let status = status
                    .filter(|status| !status.trim().is_empty())
                    .ok_or(Rejection::StatusRequired)?;
                let allowed = &self.state.config().close_statuses;
                if !allowed.is_empty() && !allowed.contains(&status) {
                    return Err(Rejection::UnknownCloseStatus {
                        status,
                        allowed: allowed.clone(),
                    });
                }
                let remaining = others(open, &agent);
                if remaining.is_empty() {
                    if let Some(offer) = open.offer.clone() {
                        self.rescind(
                            conversation,
                            &offer.agent,
                            RescindReason::ConversationClosed,
                        );
                    }
                    self.emit(ConversationClosed {
                        conversation,
                        agent: agent.clone(),
                        status,
                    });
                } else {
                    self.requester_leaves(open.offer.clone(), &agent, conversation);
                    self.emit(AgentLeft {
                        conversation,
                        agent: agent.clone(),
                        status: Some(status),
                        remaining,
                    });
                }
                self.to_fill.push_back(agent);
            }
            Command::Leave {
                agent,
                conversation,
            } => {
                self.known_agent(&agent)?;
                let open = self.participant(conversation, &agent)?;
                let remaining = others(open, &agent);
                let requeue = remaining.is_empty();
                let queue = open.queue.clone();
                self.requester_leaves(open.offer.clone(), &agent, conversation);
                self.emit(AgentLeft {
                    conversation,
                    agent: agent.clone(),
                    status: None,
                    remaining,
                });
                if requeue && let Some(queue) = queue {
                    self.requeue(conversation, queue);
                }
                self.to_fill.push_back(agent);
            }
            Command::Transfer {
                agent,
                conversation,
                to,
            } => {
                self.known_agent(&agent)?;
                let open = self.sole_participant(conversation, &agent)?;
                let channel = open.channel;
                let expires_at = self.offer_expiry(open);
                match to {
                    Target::Agent(target) => {
                        self.check_colleague(open, &target)?;
                        self.emit(TransferOffered {
                            conversation,
                            from: agent,
                            to: target,
                            expires_at,
                        });
                    }
                    Target::Queue(queue) => {
                        self.check_queue_serves(&queue, channel)?;
                        self.emit(TransferredToQueue {
                            conversation,
                            agent: agent.clone(),
                            queue: queue.clone(),
                        });
                        self.requeue(conversation, queue);
                        self.to_fill.push_back(agent);
                    }
                }
            }
            Command::Invite {
                agent,
                conversation,
                to,
            } => {
                self.known_agent(&agent)?;
                let open = self.participant(conversation, &agent)?;
                if open.postponed {
                    return Err(Rejection::ConversationIsPostponed(conversation));
                }
                if open.offer.is_some() {
                    return Err(Rejection::OfferPending(conversation));
                }
                let expires_at = self.offer_expiry(open);
                let (target, queue) = match to {
                    Target::Agent(target) => {
                        self.check_colleague(open, &target)?;
                        (target, None)
                    }
                    Target::Queue(queue) => {
                        self.check_queue_serves(&queue, open.channel)?;
                        let target = self
                            .best_available(&queue, open)
                            .ok_or_else(|| Rejection::NobodyAvailableInQueue(queue.clone()))?;
                        (target, Some(queue))
                    }
                };
                self.emit(InviteOffered {
                    conversation,
                    by: agent,
                    to: target,
                    queue,
                    expires_at,
                });
            }
            Command::Postpone {
                agent,
                conversation,
            } => {
                self.known_agent(&agent)?;
                let open = self.sole_participant(conversation, &agent)?;
                if open.postponed {
                    return Err(Rejection::ConversationIsPostponed(conversation));
                }
                self.emit(ConversationPostponed {
                    conversation,
                    agent: agent.clone(),
                });
                self.to_fill.push_back(agent);
            }
            Command::Resume {
                agent,
                conversation,
            } => {
                let current = self.known_agent(&agent)?;
                let open = self.participant(conversation, &agent)?;
                if !open.postponed {
                    return Err(Rejection::ConversationNotPostponed(conversation));
                }
                if !current.has_room_for(open.channel) {
                    return Err(Rejection::AgentAtCapacity {
                        agent,
                        channel: open.channel,
                    });
                }
                self.emit(ConversationResumed {
                    conversation,
                    agent,
                });
            }
            Command::MarkImportant {
                agent,
                conversation,
                important,
            } => {
                self.known_agent(&agent)?;
                self.participant(conversation, &agent)?;
                self.emit(ImportanceMarked {
                    conversation,
                    agent,
                    important,
                });
            }
            Command::Heartbeat { agent } => {
                let current = self.known_agent(&agent)?;
                // Recorded at most every quarter of the timeout: enough to keep the deadline
                // honest without a log entry per beat.
                let quarter = i64::try_from(self.state.config().heartbeat_timeout_ms() / 4)
                    .unwrap_or(i64::MAX);
                let due = current.last_heartbeat.is_none_or(|last| {
                    self.now.as_millis().saturating_sub(last.as_millis()) >= quarter
                });
                if due {
                    self.emit(AgentHeartbeatRecorded { agent });
                }
            }
            Command::Disconnect { agent } => {
                let current = self.known_agent(&agent)?;
                if current.presence == Presence::Disconnected && current.last_heartbeat.is_none() {
                    return Err(Rejection::AgentAlreadyDisconnected(agent));
                }
                self.disconnect(&agent, None);
            }
            Command::Focus {
                agent,
                conversation,
            } => {
                self.known_agent(&agent)?;
                self.participant(conversation, &agent)?;
                self.emit(ActivityFocused {
                    agent,
                    conversation,
                });
            }
            Command::Blur { agent } => {
                self.known_agent(&agent)?;
                self.emit(ActivityBlurred { agent });
            }
            Command::IssueApiKey {
                key,
                name,
                role,
                secret_sha256,
                by,
            } => {
                if name.trim().is_empty() {
                    return Err(Rejection::KeyNameMissing);
                }
                if self.state.key(&key).is_some() {
                    return Err(Rejection::KeyExists(key));
                }
                role.check(self.state.config())?;
                self.emit(ApiKeyIssued {
                    key,
                    name,
                    role,
                    secret_sha256,
                    issued_by: by,
                });
            }
            Command::RevokeApiKey { key, by } => match self.state.key(&key) {
                None => return Err(Rejection::UnknownKey(key)),
                Some(KeyStatus::Revoked) => return Err(Rejection::KeyAlreadyRevoked(key)),
                Some(KeyStatus::Live) => self.emit(ApiKeyRevoked {
                    key,
                    revoked_by: by,
                }),
            },
            Command::AnonymiseContact {
                connector,
                contact,
                by,
                interaction,
            } => {
                if !self.state.config().connectors.contains_key(&connector) {
                    return Err(Rejection::UnknownConnector(connector));
                }
                if let Some(open) = self.state.open_conversation_of(&connector, &contact) {
                    return Err(Rejection::ContactHasOpenConversation(open));
                }
                self.emit(ContactAnonymised {
                    connector,
                    contact,
                    by,
                    interaction,
                });
            }
            Command::Tick => self.fire_deadlines(),
            Command::Rebalance => {
                let mut waiting: Vec<_> = self
                    .state
                    .config()
                    .queues
                    .keys()
                    .flat_map(|queue| self.state.waiting_in(queue))
                    .filter_map(|id| self.state.conversation(&id))
                    .map(|c| (std::cmp::Reverse(c.priority), c.waiting_since, c.id))
                    .collect();
                waiting.sort();
                self.to_offer
                    .extend(waiting.into_iter().map(|(_, _, id)| id));
            }
        }
        Ok(())
    }

    fn fire_deadlines(&mut self) {
        // Fire the earliest due deadline, then look again: firing changes the state, which puts
        // that conversation's next deadline (if any) in its place, so deadlines fire in time order
        // across all conversations. Every firing removes its own deadline; the guard only stops a
        // bug from looping.
        let mut fired = std::collections::BTreeSet::new();
        while let Some((due, deadline)) = self.state.indexes().first_due(self.now) {
            if !fired.insert((due, deadline)) {
                debug_assert!(
                    false,
                    "deadline {deadline:?} at {due:?} did not clear itself"
                );
                break;
            }
            match deadline {
                Deadline::SoonOverdue(conversation) => {
                    if let Some(since) = self.unanswered_since(conversation) {
                        self.emit(ConversationSoonOverdue {
                            conversation,
                            unanswered_since: since,
                        });
                    }
                }
                Deadline::Overdue(conversation) => {
                    if let Some(since) = self.unanswered_since(conversation) {
                        self.emit(ConversationOverdue {
                            conversation,
                            unanswered_since: since,
                        });
                    }
                }
                Deadline::Remind(conversation) => {
                    let Some(open) = self.state.conversation(&conversation) else {
                        continue;
                    };
                    if let Some(since) = open.unanswered_since {
                        let agents = open.participants.iter().cloned().collect();
                        self.emit(AgentsReminded {
                            conversation,
                            agents,
                            reason: ReminderReason::Unanswered { since },
                        });
                    }
                }
                Deadline::NoReply(conversation) => self.reclaim_unanswered(conversation),
                Deadline::AgentSilent(ix) => {
                    let agent = self.state.agent_at(crate::state::AgentIx(ix));
                    let (id, last) = (agent.id.clone(), agent.last_heartbeat);
                    self.disconnect(&id, last);
                }
                Deadline::AutoClose(conversation) => self.expire(conversation),
                Deadline::MaxWait(conversation) => self.wait_limit_reached(conversation),
                Deadline::PauseLimit(ix) => {
                    let agent = self.state.agent_at(crate::state::AgentIx(ix));
                    if let (Presence::Paused { reason, .. }, Some(paused_at)) =
                        (&agent.presence, agent.paused_at)
                        && let Some(limit_ms) = self.state.config().pause_limits.for_reason(reason)
                    {
                        self.emit(PauseLimitExceeded {
                            agent: agent.id.clone(),
                            reason: reason.clone(),
                            paused_at,
                            limit_ms,
                        });
                    }
                }
                Deadline::OfferExpires(conversation) => {
                    let Some(open) = self.state.conversation(&conversation) else {
                        continue;
                    };
                    let Some(offer) = open.offer.clone().filter(|o| o.expires_at == due) else {
                        continue;
                    };
                    let pause = open
                        .queue
                        .as_ref()
                        .and_then(|q| self.state.queue_config(q))
                        .is_some_and(|q| q.pause_on_missed_offer);
                    self.emit(OfferTimedOut {
                        conversation,
                        agent: offer.agent.clone(),
                        expired_at: offer.expires_at,
                    });
                    match offer.purpose.clone() {
                        OfferPurpose::Route => self.to_offer.push_back(conversation),
                        OfferPurpose::Transfer { from } => {
                            self.transfer_declined(conversation, from)
                        }
                        OfferPurpose::Invite { .. } => {}
                    }
                    let ready = self
                        .state
                        .agent(&offer.agent)
                        .is_some_and(|a| a.presence == Presence::Ready);
                    if pause && ready {
                        self.pause(
                            &offer.agent,
                            MISSED_OFFER_PAUSE_REASON.to_owned(),
                            false,
                            true,
                        );
                    } else {
                        self.to_fill.push_back(offer.agent);
                    }
                }
            }
        }
    }

    /// Reminds the agents in a conversation of a new customer message, where the queue says so.
    fn remind_on_message(&mut self, conversation: ConversationId) {
        let Some(open) = self.state.conversation(&conversation) else {
            return;
        };
        let every_message = open
            .queue
            .as_ref()
            .and_then(|q| self.state.queue_config(q))
            .is_some_and(|q| q.reminder == crate::config::Reminder::EveryMessage);
        if every_message && !open.participants.is_empty() {
            let agents = open.participants.iter().cloned().collect();
            self.emit(AgentsReminded {
                conversation,
                agents,
                reason: ReminderReason::NewMessage,
            });
        }
    }

    fn unanswered_since(&self, conversation: ConversationId) -> Option<Timestamp> {
        self.state
            .conversation(&conversation)
            .and_then(|c| c.unanswered_since)
    }

    /// Nobody in the conversation answered the customer in time: take it from them and route it
    /// again, to someone else.
    fn reclaim_unanswered(&mut self, conversation: ConversationId) {
        let Some(open) = self.state.conversation(&conversation) else {
            return;
        };
        let Some(since) = open.unanswered_since else {
            return;
        };
        let agents: Vec<AgentId> = open.participants.iter().cloned().collect();
        let (queue, offer) = (open.queue.clone(), open.offer.clone());
        if let Some(offer) = offer {
            self.rescind(conversation, &offer.agent, RescindReason::RequesterLeft);
        }
        self.emit(ConversationReclaimed {
            conversation,
            agents: agents.clone(),
            reason: ReclaimReason::NoReply {
                unanswered_since: since,
            },
        });
        if let Some(queue) = queue {
            self.requeue(conversation, queue);
        }
        self.to_fill.extend(agents);
    }

    /// The agent's console is gone: withdraw what rings for them, and by each queue's policy
    /// take back the conversations whose customer waits for their answer.
    fn disconnect(&mut self, agent: &AgentId, last_heartbeat_at: Option<Timestamp>) {
        let Some(current) = self.state.agent(agent) else {
            return;
        };
        let ringing: Vec<ConversationId> = current.offers.iter().copied().collect();
        let waiting_on_them: Vec<ConversationId> = current
            .active
            .iter()
            .chain(&current.postponed)
            .copied()
            .filter(|id| {
                self.state.conversation(id).is_some_and(|c| {
                    c.unanswered_since.is_some()
                        && c.queue
                            .as_ref()
                            .and_then(|q| self.state.queue_config(q))
                            .is_some_and(|q| q.on_agent_lost == AgentLostPolicy::Reroute)
                })
            })
            .collect();
        self.emit(AgentDisconnected {
            agent: agent.clone(),
            last_heartbeat_at,
        });
        for conversation in ringing {
            self.rescind(conversation, agent, RescindReason::AgentDisconnected);
        }
        for conversation in waiting_on_them {
            let Some(open) = self.state.conversation(&conversation) else {
                continue;
            };
            let remaining = others(open, agent);
            let (since, queue, offer) = (
                open.unanswered_since,
                open.queue.clone(),
                open.offer.clone(),
            );
            self.requester_leaves(offer, agent, conversation);
            if !remaining.is_empty() {
                // Colleagues are in it: the customer continues with them.
                self.emit(AgentLeft {
                    conversation,
                    agent: agent.clone(),
                    status: None,
                    remaining,
                });
                continue;
            }
            let Some(since) = since else { continue };
            self.emit(ConversationReclaimed {
                conversation,
                agents: vec![agent.clone()],
                reason: ReclaimReason::AgentDisconnected {
                    unanswered_since: since,
                },
            });
            if let Some(queue) = queue {
                self.requeue(conversation, queue);
            }
        }
    }

    /// A transfer to a colleague fell through (declined or unanswered): by the queue's policy the
    /// conversation stays with the agent who asked, or goes to the queue.
    fn transfer_declined(&mut self, conversation: ConversationId, from: AgentId) {
        let Some(open) = self.state.conversation(&conversation) else {
            return;
        };
        let Some(queue) = open.queue.clone() else {
            return;
        };
        let to_queue = self
            .state
            .queue_config(&queue)
            .is_some_and(|q| q.on_transfer_declined == TransferDeclined::ToQueue);
        let alone = open.participants.len() == 1 && open.participants.contains(&from);
        if !to_queue || !alone {
            return;
        }
        self.emit(TransferredToQueue {
            conversation,
            agent: from.clone(),
            queue: queue.clone(),
        });
        self.requeue(conversation, queue);
        self.to_fill.push_back(from);
    }

    /// The conversation waited with nobody in it for its queue's limit: it overflows to another
    /// queue or is closed unanswered, by the queue's configuration.
    fn wait_limit_reached(&mut self, conversation: ConversationId) {
        let Some(open) = self.state.conversation(&conversation) else {
            return;
        };
        let (Some(queue), channel) = (open.queue.clone(), open.channel) else {
            return;
        };
        let Some(max_wait) = self
            .state
            .queue_config(&queue)
            .and_then(|q| q.max_wait.clone())
        else {
            return;
        };
        let waiting_since = open.waiting_since;
        let ringing = open.offer.clone();
        let overflow_to = match max_wait.then {
            // A target that cannot serve the channel (the configuration changed) closes it
            // rather than strand it.
            AfterMaxWait::Overflow { to }
                if to != queue
                    && self
                        .state
                        .queue_config(&to)
                        .is_some_and(|q| q.channels.contains(&channel)) =>
            {
                Some(to)
            }
            _ => None,
        };
        if let Some(offer) = ringing {
            self.rescind(conversation, &offer.agent, RescindReason::WaitLimitReached);
        }
        let outcome = match &overflow_to {
            Some(to) => WaitLimitOutcome::Overflowed { to: to.clone() },
            None => WaitLimitOutcome::Closed,
        };
        self.emit(WaitLimitReached {
            conversation,
            queue,
            waiting_since,
            outcome,
        });
        if let Some(to) = overflow_to {
            self.requeue(conversation, to);
        }
    }

    /// No customer message for the queue's limit: the engine closes the conversation.
    fn expire(&mut self, conversation: ConversationId) {
        let Some(open) = self.state.conversation(&conversation) else {
            return;
        };
        let last = open.last_customer_message_at;
        let agents: Vec<AgentId> = open.participants.iter().cloned().collect();
        if let Some(offer) = open.offer.clone() {
            self.rescind(
                conversation,
                &offer.agent,
                RescindReason::ConversationClosed,
            );
        }
        self.emit(ConversationExpired {
            conversation,
            last_customer_message_at: last,
        });
        self.to_fill.extend(agents);
    }

    /// Pauses an agent and withdraws what rings for them: nothing waits on an agent who is away.
    fn pause(&mut self, agent: &AgentId, reason: String, paid: bool, automatic: bool) {
        let ringing: Vec<ConversationId> = self
            .state
            .agent(agent)
            .map(|a| a.offers.iter().copied().collect())
            .unwrap_or_default();
        self.emit(AgentPaused {
            agent: agent.clone(),
            reason,
            paid,
            automatic,
        });
        for conversation in ringing {
            self.rescind(conversation, agent, RescindReason::AgentPaused);
        }
    }

    /// Puts a conversation back in a queue, keeping its priority and needed skills.
    fn requeue(&mut self, conversation: ConversationId, queue: crate::QueueId) {
        let Some(open) = self.state.conversation(&conversation) else {
            return;
        };
        let (priority, skills) = (open.priority, open.skills.iter().cloned().collect());
        self.enqueue(conversation, queue, priority, skills);
    }

    /// Puts a conversation in a queue: a routed queue offers it to an agent, a team queue tells
    /// its team.
    fn enqueue(
        &mut self,
        conversation: ConversationId,
        queue: crate::QueueId,
        priority: u8,
        skills: Vec<String>,
    ) {
        let mode = self.mode_of(&queue);
        self.emit(ConversationEnqueued {
            conversation,
            queue: queue.clone(),
            priority,
            skills,
        });
        if mode == RoutingMode::Routed {
            self.to_offer.push_back(conversation);
            return;
        }
        let agents = self
            .state
            .members_of(&queue)
            .filter(|agent| {
                self.state
                    .agent(agent)
                    .is_some_and(|a| a.presence == Presence::Ready)
            })
            .cloned()
            .collect();
        self.emit(TeamNotified {
            conversation,
            queue,
            mode,
            agents,
        });
    }

    /// Withdraws the offer ringing for `agent`; a routed conversation goes back to routing.
    fn rescind(&mut self, conversation: ConversationId, agent: &AgentId, reason: RescindReason) {
        let routed = self
            .state
            .conversation(&conversation)
            .and_then(|c| c.offer.as_ref())
            .is_some_and(|o| o.purpose == OfferPurpose::Route);
        self.emit(OfferRescinded {
            conversation,
            agent: agent.clone(),
            reason,
        });
        if routed {
            self.to_offer.push_back(conversation);
        }
        self.to_fill.push_back(agent.clone());
    }

    /// An agent leaving withdraws the transfer or invitation they asked for.
    fn requester_leaves(
        &mut self,
        offer: Option<Offer>,
        agent: &AgentId,
        conversation: ConversationId,
    ) {
        let Some(offer) = offer else { return };
        let asked_by_them = match &offer.purpose {
            OfferPurpose::Transfer { from } => from == agent,
            OfferPurpose::Invite { by } => by == agent,
            OfferPurpose::Route => false,
        };
        if asked_by_them {
            self.rescind(conversation, &offer.agent, RescindReason::RequesterLeft);
        }
    }

    /// When an offer made now for this conversation expires, by its queue's limit.
    fn offer_expiry(&self, conversation: &Conversation) -> Timestamp {
        let timeout = conversation
            .queue
            .as_ref()
            .and_then(|q| self.state.queue_config(q))
            .map_or(DEFAULT_OFFER_TIMEOUT_MS, |q| q.offer_timeout_ms);
        crate::routing::offer_expiry(self.now, timeout)
    }

    /// A colleague who can be offered the conversation directly: known, not in it, ready, with
    /// room for its channel.
    fn check_colleague(
        &self,
        conversation: &Conversation,
        target: &AgentId,
    ) -> Result<(), Rejection> {
        let colleague = self.known_agent(target)?;
        if conversation.participants.contains(target) {
            return Err(Rejection::AlreadyInConversation(target.clone()));
        }
        if colleague.presence != Presence::Ready {
            return Err(Rejection::AgentNotAvailable(target.clone()));
        }
        if !colleague.has_room_for(conversation.channel) {
            return Err(Rejection::AgentAtCapacity {
                agent: target.clone(),
                channel: conversation.channel,
            });
        }
        Ok(())
    }

    fn check_queue_serves(
        &self,
        queue: &crate::QueueId,
        channel: crate::Channel,
    ) -> Result<(), Rejection> {
        let config = self
            .state
            .queue_config(queue)
            .ok_or_else(|| Rejection::UnknownQueue(queue.clone()))?;
        if !config.channels.contains(&channel) {
            return Err(Rejection::QueueDoesNotServeChannel {
                queue: queue.clone(),
                channel,
            });
        }
        Ok(())
    }

    /// Where an agent's message goes by e-mail instead: to a web-chat visitor who is offline and
    /// left an address.
    fn email_fallback(
        &self,
        channel: crate::Channel,
        connector: &crate::ConnectorId,
        contact: &crate::ids::ExternalContactId,
    ) -> Option<String> {
        if channel != crate::Channel::Webchat {
            return None;
        }
        let presence = self.state.deliveries().presence(connector, contact)?;
        (!presence.online).then(|| presence.email.clone()).flatten()
    }

    fn known_agent(&self, agent: &AgentId) -> Result<&AgentState, Rejection> {
        self.state
            .agent(agent)
            .ok_or_else(|| Rejection::UnknownAgent(agent.clone()))
    }

    fn has_rights(&self, agent: &AgentId, queue: &crate::QueueId) -> bool {
        self.state
            .config()
            .agents
            .get(agent)
            .is_some_and(|config| config.has_rights_to(queue))
    }

    /// A queue's routing mode; an unknown queue routes (it has no team to notify).
    fn mode_of(&self, queue: &crate::QueueId) -> RoutingMode {
        self.state
            .queue_config(queue)
            .map_or(RoutingMode::Routed, |q| q.mode)
    }

    fn is_admin(&self, agent: &AgentId, queue: &crate::QueueId) -> bool {
        self.state
            .config()
            .agents
            .get(agent)
            .is_some_and(|config| config.admin_of.contains(queue))
    }

    /// A conversation of a team queue that the agent may take part in: open, with rights to its
    /// queue, not already in it, and room for its channel. Returns its queue and that queue's
    /// mode.
    fn team_conversation(
        &self,
        conversation: ConversationId,
        agent: &AgentId,
    ) -> Result<(crate::QueueId, RoutingMode), Rejection> {
        let current = self.known_agent(agent)?;
        let open = self.open(conversation)?;
        let queue = open
            .queue
            .clone()
            .ok_or(Rejection::ConversationNotWaiting(conversation))?;
        let mode = self.mode_of(&queue);
        if mode == RoutingMode::Routed {
            return Err(Rejection::NotATeamQueue(queue));
        }
        if !self.has_rights(agent, &queue) {
            return Err(Rejection::AgentHasNoRightsToQueue {
                agent: agent.clone(),
                queue,
            });
        }
        if open.participants.contains(agent) {
            return Err(Rejection::AlreadyInConversation(agent.clone()));
        }
        if !current.has_room_for(open.channel) {
            return Err(Rejection::AgentAtCapacity {
                agent: agent.clone(),
                channel: open.channel,
            });
        }
        Ok((queue, mode))
    }

    /// Withdraws an offer ringing for someone else when an agent takes the conversation by
    /// joining or grabbing: one of them wins, the other is told why.
    fn taken_over(&mut self, conversation: ConversationId, by: &AgentId) {
        let ringing = self
            .state
            .conversation(&conversation)
            .and_then(|c| c.offer.clone())
            .filter(|o| o.purpose == OfferPurpose::Route);
        if let Some(offer) = ringing {
            self.rescind(
                conversation,
                &offer.agent,
                RescindReason::TakenFromWaiting { by: by.clone() },
            );
            self.to_offer.retain(|id| *id != conversation);
        }
    }

    fn open(&self, conversation: ConversationId) -> Result<&Conversation, Rejection> {
        self.state
            .conversation(&conversation)
            .ok_or(Rejection::ConversationNotOpen(conversation))
    }

    /// The purpose of the offer ringing for `agent`, or why there is none.
    fn offered_to(
        &self,
        conversation: ConversationId,
        agent: &AgentId,
    ) -> Result<OfferPurpose, Rejection> {
        match &self.open(conversation)?.offer {
            Some(offer) if &offer.agent == agent => Ok(offer.purpose.clone()),
            _ => Err(Rejection::ConversationNotOfferedToAgent {
                conversation,
                agent: agent.clone(),
            }),
        }
    }

    fn participant(
        &self,
        conversation: ConversationId,
        agent: &AgentId,
    ) -> Result<&Conversation, Rejection> {
        let open = self.open(conversation)?;
        if open.participants.contains(agent) {
            Ok(open)
        } else {
            Err(Rejection::AgentNotInConversation {
                conversation,
                agent: agent.clone(),
            })
        }
    }

    /// The conversation, if the agent is alone in it with nothing ringing: what handing it over or
    /// postponing it needs.
    fn sole_participant(
        &self,
        conversation: ConversationId,
        agent: &AgentId,
    ) -> Result<&Conversation, Rejection> {
        let open = self.participant(conversation, agent)?;
        if open.participants.len() > 1 {
            return Err(Rejection::OtherAgentsInConversation(conversation));
        }
        if open.offer.is_some() {
            return Err(Rejection::OfferPending(conversation));
        }
        if open.postponed {
            return Err(Rejection::ConversationIsPostponed(conversation));
        }
        Ok(open)
    }
}
