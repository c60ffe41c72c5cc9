//! `State::execute`: the one place where commands are checked against the rules and turned into
//! events.
//!
//! Every command is validated completely before its first event; a rejection leaves the state
//! untouched. Accepted commands emit events that are applied as they are emitted (with the same
//! `apply` a replay uses), then routing runs on the resulting state: conversations that came back
//! to their queue are offered, agents who gained room are filled.

use crate::command::{Command, Context};
use crate::config::MISSED_OFFER_PAUSE_REASON;
use crate::event::{
    AcceptedFromWaiting, AgentBecameReady, AgentLoggedIn, AgentLoggedOut, AgentMessageSent,
    AgentPaused, ConversationClosed, ConversationEnqueued, ConversationStarted,
    CustomerMessageReceived, Event, EventKind, OfferAccepted, OfferRejected, OfferRescinded,
    OfferTimedOut, RescindReason,
};
use crate::ids::{AgentId, ConversationId};
use crate::rejection::Rejection;
use crate::state::{AgentState, Conversation, Deadline, Phase, Presence, State};
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

/// Checks an inbound message's connector and fields: what makes it acceptable at all, before
/// anything else is looked at.
fn inbound_connector<'a>(
    state: &'a State,
    connector: &crate::ConnectorId,
    channel: crate::Channel,
    contact: &crate::ids::ExternalContactId,
    message_id: &crate::ids::MessageId,
    text: &str,
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
    if text.trim().is_empty() {
        return Err(Rejection::MessageEmpty);
    }
    Ok(config)
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
                ..
            } => {
                inbound_connector(self, connector, *channel, contact, message_id, text)?;
                // Connector ids are configured from a safe alphabet without ':', so the pair
                // cannot be confused with another.
                Ok(Some(format!("{connector}:{message_id}")))
            }
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
                message_id,
                text,
            } => {
                let config = inbound_connector(
                    self.state,
                    &connector,
                    channel,
                    &contact,
                    &message_id,
                    &text,
                )?;
                let (queue, priority) = (config.queue.clone(), config.priority);
                match self.state.open_conversation_of(&connector, &contact) {
                    Some(conversation) => self.emit(CustomerMessageReceived {
                        conversation,
                        message_id,
                        text,
                    }),
                    None => {
                        let conversation = context.new_conversation_id;
                        self.emit(ConversationStarted {
                            conversation,
                            connector,
                            channel,
                            contact,
                            contact_name,
                        });
                        self.emit(CustomerMessageReceived {
                            conversation,
                            message_id,
                            text,
                        });
                        self.emit(ConversationEnqueued {
                            conversation,
                            queue,
                            priority,
                        });
                        self.to_offer.push_back(conversation);
                    }
                }
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
                        self.state
                            .conversation(id)
                            .is_some_and(|c| c.queue.as_ref() == Some(&queue))
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
                self.pause(&agent, reason, paid, false);
            }
            Command::AcceptOffer {
                agent,
                conversation,
            } => {
                self.known_agent(&agent)?;
                self.offered_to(conversation, &agent)?;
                self.emit(OfferAccepted {
                    conversation,
                    agent,
                });
            }
            Command::RejectOffer {
                agent,
                conversation,
            } => {
                self.known_agent(&agent)?;
                self.offered_to(conversation, &agent)?;
                self.emit(OfferRejected {
                    conversation,
                    agent: agent.clone(),
                });
                self.to_offer.push_back(conversation);
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
                let ringing = match &open.phase {
                    Phase::Waiting => None,
                    Phase::Offered { agent: offered, .. } if *offered == agent => {
                        // Taking one's own offer from the list is accepting it.
                        self.emit(OfferAccepted {
                            conversation,
                            agent,
                        });
                        return Ok(());
                    }
                    Phase::Offered { agent: offered, .. } => Some(offered.clone()),
                    Phase::Active { .. } => {
                        return Err(Rejection::ConversationNotWaiting(conversation));
                    }
                };
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
            Command::SendAgentMessage {
                agent,
                conversation,
                message_id,
                text,
            } => {
                self.known_agent(&agent)?;
                self.participant(conversation, &agent)?;
                if text.trim().is_empty() {
                    return Err(Rejection::MessageEmpty);
                }
                self.emit(AgentMessageSent {
                    conversation,
                    agent,
                    message_id,
                    text,
                });
            }
            Command::Close {
                agent,
                conversation,
                status,
            } => {
                self.known_agent(&agent)?;
                self.participant(conversation, &agent)?;
                let status = status
                    .filter(|status| !status.trim().is_empty())
                    .ok_or(Rejection::StatusRequired)?;
                self.emit(ConversationClosed {
                    conversation,
                    agent: agent.clone(),
                    status,
                });
                self.to_fill.push_back(agent);
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
        for (due, deadline) in self.state.indexes().due(self.now) {
            match deadline {
                Deadline::OfferExpires(conversation) => {
                    let Some(Phase::Offered {
                        agent, expires_at, ..
                    }) = self
                        .state
                        .conversation(&conversation)
                        .map(|c| c.phase.clone())
                    else {
                        continue;
                    };
                    if expires_at != due {
                        continue;
                    }
                    let pause = self
                        .state
                        .conversation(&conversation)
                        .and_then(|c| c.queue.as_ref())
                        .and_then(|q| self.state.queue_config(q))
                        .is_some_and(|q| q.pause_on_missed_offer);
                    self.emit(OfferTimedOut {
                        conversation,
                        agent: agent.clone(),
                        expired_at: expires_at,
                    });
                    self.to_offer.push_back(conversation);
                    let ready = self
                        .state
                        .agent(&agent)
                        .is_some_and(|a| a.presence == Presence::Ready);
                    if pause && ready {
                        self.pause(&agent, MISSED_OFFER_PAUSE_REASON.to_owned(), false, true);
                    } else {
                        self.to_fill.push_back(agent);
                    }
                }
            }
        }
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

    fn rescind(&mut self, conversation: ConversationId, agent: &AgentId, reason: RescindReason) {
        self.emit(OfferRescinded {
            conversation,
            agent: agent.clone(),
            reason,
        });
        self.to_offer.push_back(conversation);
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
            .is_some_and(|config| config.queues.contains(queue))
    }

    fn open(&self, conversation: ConversationId) -> Result<&Conversation, Rejection> {
        self.state
            .conversation(&conversation)
            .ok_or(Rejection::ConversationNotOpen(conversation))
    }

    fn offered_to(&self, conversation: ConversationId, agent: &AgentId) -> Result<(), Rejection> {
        match &self.open(conversation)?.phase {
            Phase::Offered { agent: offered, .. } if offered == agent => Ok(()),
            _ => Err(Rejection::ConversationNotOfferedToAgent {
                conversation,
                agent: agent.clone(),
            }),
        }
    }

    fn participant(&self, conversation: ConversationId, agent: &AgentId) -> Result<(), Rejection> {
        match &self.open(conversation)?.phase {
            Phase::Active { agent: active } if active == agent => Ok(()),
            _ => Err(Rejection::AgentNotInConversation {
                conversation,
                agent: agent.clone(),
            }),
        }
    }
}
