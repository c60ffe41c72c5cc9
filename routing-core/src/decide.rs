//! `decide`: the one place where commands are checked against the rules and turned into events.
//!
//! It reads the state and never changes it; the caller appends the events and then applies them.
//! A rejection means no event at all.

use crate::command::{Command, Context};
use crate::config::Channel;
use crate::event::{
    AgentBecameReady, AgentLoggedIn, AgentLoggedOut, AgentMessageSent, AgentPaused,
    ConversationClosed, ConversationEnqueued, ConversationStarted, CustomerMessageReceived, Event,
    EventKind, OfferAccepted,
};
use crate::ids::{AgentId, ConversationId};
use crate::rejection::Rejection;
use crate::routing::{choose_agent, fill_agent};
use crate::state::{AgentState, Conversation, Phase, Presence, State};
use std::collections::BTreeMap;

/// Decides what a command means, given the state: the events to append, or why it was refused.
pub fn decide(state: &State, command: Command, context: &Context) -> Result<Vec<Event>, Rejection> {
    let kinds = match command {
        Command::ReceiveCustomerMessage {
            connector,
            channel,
            contact,
            contact_name,
            message_id,
            text,
        } => {
            let config = state
                .config()
                .connectors
                .get(&connector)
                .ok_or_else(|| Rejection::UnknownConnector(connector.clone()))?;
            if config.channel != channel {
                return Err(Rejection::ChannelMismatch {
                    connector,
                    expected: config.channel,
                    got: channel,
                });
            }
            if text.trim().is_empty() {
                return Err(Rejection::MessageEmpty);
            }
            match state.open_conversation_of(&connector, &contact) {
                Some(conversation) => vec![EventKind::from(CustomerMessageReceived {
                    conversation,
                    message_id,
                    text,
                })],
                None => {
                    let conversation = context.new_conversation_id;
                    let queue = config.queue.clone();
                    let mut kinds = vec![
                        EventKind::from(ConversationStarted {
                            conversation,
                            connector,
                            channel,
                            contact,
                            contact_name,
                        }),
                        CustomerMessageReceived {
                            conversation,
                            message_id,
                            text,
                        }
                        .into(),
                        ConversationEnqueued {
                            conversation,
                            queue: queue.clone(),
                        }
                        .into(),
                    ];
                    if let Some(offer) = choose_agent(state, conversation, &queue, channel) {
                        kinds.push(offer.into());
                    }
                    kinds
                }
            }
        }
        Command::LogIn { agent, queue } => {
            let current = known_agent(state, &agent)?;
            if !state.config().queues.contains_key(&queue) {
                return Err(Rejection::UnknownQueue(queue));
            }
            let rights = state
                .config()
                .agents
                .get(&agent)
                .is_some_and(|config| config.queues.contains(&queue));
            if !rights {
                return Err(Rejection::AgentHasNoRightsToQueue { agent, queue });
            }
            if current.logged_in.contains(&queue) {
                return Err(Rejection::AgentAlreadyLoggedIn { agent, queue });
            }
            let mut kinds = vec![EventKind::from(AgentLoggedIn {
                agent: agent.clone(),
                queue: queue.clone(),
            })];
            if current.presence == Presence::Ready {
                offers_into(
                    &mut kinds,
                    fill_agent(state, &agent, [&queue], current.load.clone()),
                );
            }
            kinds
        }
        Command::LogOut { agent, queue } => {
            let current = known_agent(state, &agent)?;
            if !current.logged_in.contains(&queue) {
                return Err(Rejection::AgentNotLoggedIn { agent, queue });
            }
            vec![AgentLoggedOut { agent, queue }.into()]
        }
        Command::GoReady { agent } => {
            let current = known_agent(state, &agent)?;
            if current.presence == Presence::Ready {
                return Err(Rejection::AgentAlreadyReady(agent));
            }
            let mut kinds = vec![EventKind::from(AgentBecameReady {
                agent: agent.clone(),
            })];
            offers_into(
                &mut kinds,
                fill_agent(state, &agent, &current.logged_in, current.load.clone()),
            );
            kinds
        }
        Command::Pause {
            agent,
            reason,
            paid,
        } => {
            known_agent(state, &agent)?;
            if reason.trim().is_empty() {
                return Err(Rejection::PauseReasonMissing);
            }
            vec![
                AgentPaused {
                    agent,
                    reason,
                    paid,
                }
                .into(),
            ]
        }
        Command::AcceptOffer {
            agent,
            conversation,
        } => {
            known_agent(state, &agent)?;
            let open = open_conversation(state, conversation)?;
            match &open.phase {
                Phase::Offered { agent: offered, .. } if *offered == agent => {}
                _ => {
                    return Err(Rejection::ConversationNotOfferedToAgent {
                        conversation,
                        agent,
                    });
                }
            }
            vec![
                OfferAccepted {
                    conversation,
                    agent,
                }
                .into(),
            ]
        }
        Command::SendAgentMessage {
            agent,
            conversation,
            message_id,
            text,
        } => {
            known_agent(state, &agent)?;
            let open = open_conversation(state, conversation)?;
            require_participant(open, conversation, &agent)?;
            if text.trim().is_empty() {
                return Err(Rejection::MessageEmpty);
            }
            vec![
                AgentMessageSent {
                    conversation,
                    agent,
                    message_id,
                    text,
                }
                .into(),
            ]
        }
        Command::Close {
            agent,
            conversation,
            status,
        } => {
            let current = known_agent(state, &agent)?;
            let open = open_conversation(state, conversation)?;
            require_participant(open, conversation, &agent)?;
            let status = status
                .filter(|status| !status.trim().is_empty())
                .ok_or(Rejection::StatusRequired)?;
            let mut kinds = vec![EventKind::from(ConversationClosed {
                conversation,
                agent: agent.clone(),
                status,
            })];
            if current.presence == Presence::Ready {
                let mut load = current.load.clone();
                release(&mut load, open.channel);
                offers_into(
                    &mut kinds,
                    fill_agent(state, &agent, &current.logged_in, load),
                );
            }
            kinds
        }
    };
    Ok(kinds
        .into_iter()
        .map(|kind| Event {
            at: context.now,
            kind,
        })
        .collect())
}

fn known_agent<'a>(state: &'a State, agent: &AgentId) -> Result<&'a AgentState, Rejection> {
    state
        .agent(agent)
        .ok_or_else(|| Rejection::UnknownAgent(agent.clone()))
}

fn open_conversation(
    state: &State,
    conversation: ConversationId,
) -> Result<&Conversation, Rejection> {
    state
        .conversation(&conversation)
        .ok_or(Rejection::ConversationNotOpen(conversation))
}

fn require_participant(
    open: &Conversation,
    conversation: ConversationId,
    agent: &AgentId,
) -> Result<(), Rejection> {
    match &open.phase {
        Phase::Active { agent: active } if active == agent => Ok(()),
        _ => Err(Rejection::AgentNotInConversation {
            conversation,
            agent: agent.clone(),
        }),
    }
}

fn release(load: &mut BTreeMap<Channel, u32>, channel: Channel) {
    if let Some(current) = load.get_mut(&channel) {
        *current = current.saturating_sub(1);
    }
}

fn offers_into(kinds: &mut Vec<EventKind>, offers: Vec<crate::event::ConversationOffered>) {
    kinds.extend(offers.into_iter().map(EventKind::from));
}
