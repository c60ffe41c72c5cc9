//! Random scripts of commands for property tests: commands drawn blindly (many of them invalid,
//! on purpose) mixed with steps aimed at what the state holds, so accepts and closes happen often.

use super::*;
use proptest::prelude::*;
use routing_core::{Command, Event, State};

pub const AGENTS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "zed"];
pub const QUEUES: [&str; 5] = ["support", "sales", "team", "grab", "billing"];
pub const CONNECTORS: [&str; 6] = ["web", "shop", "wa", "es", "team-web", "grab-web"];

/// Commands drawn with ids from small pools so that they often hit the same agents and
/// conversations; many are invalid on purpose (rejections must leave no trace).
pub fn command() -> impl Strategy<Value = Command> {
    let agent = prop::sample::select(&AGENTS[..]);
    let queue = prop::sample::select(&QUEUES[..]);
    let conversation = 1u128..12;
    prop_oneof![
        4 => (prop::sample::select(&CONNECTORS[..]), 0u8..6, 0u16..1000)
            .prop_map(|(c, contact, m)| customer_writes(c, &format!("contact-{contact}"), &format!("m-{m}"))),
        4 => (agent.clone(), queue.clone()).prop_map(|(a, q)| log_in(a, q)),
        1 => (agent.clone(), queue).prop_map(|(a, q)| log_out(a, q)),
        3 => agent.clone().prop_map(ready),
        1 => agent.clone().prop_map(|a| pause(a, "break")),
        2 => agent.clone().prop_map(heartbeat),
        1 => (agent.clone(), prop::sample::select(&CONNECTORS[..]), 0u8..6, any::<bool>())
            .prop_map(|(a, c, contact, t)| start_outbound(a, c, &format!("contact-{contact}"), t.then_some("follow_up"))),
        1 => agent.clone().prop_map(disconnect),
        3 => (agent.clone(), conversation.clone()).prop_map(|(a, c)| accept(a, c)),
        2 => (agent.clone(), conversation.clone()).prop_map(|(a, c)| reply(a, c, "r")),
        2 => (agent.clone(), conversation.clone(), prop::option::of(Just("resolved")))
            .prop_map(|(a, c, s)| close(a, c, s)),
        1 => (agent.clone(), conversation.clone()).prop_map(|(a, c)| grab(a, c)),
        1 => (agent, conversation).prop_map(|(a, c)| join(a, c)),
        1 => (prop::sample::select(&CONNECTORS[..]), 0u8..6)
            .prop_map(|(c, contact)| customer_leaves(c, &format!("contact-{contact}"))),
        // Replies all have the message id "r": the outbox confirms it under a few provider ids,
        // receipts name them in any order, visitors come and go.
        1 => (prop::sample::select(&CONNECTORS[..]), 0u8..4, any::<bool>()).prop_map(|(c, p, sent)| {
            Command::ConfirmDispatch {
                connector: routing_core::ConnectorId::new(c),
                message_id: routing_core::ids::MessageId::new("r"),
                outcome: if sent {
                    routing_core::DispatchOutcome::Sent { provider_message_id: format!("p-{p}") }
                } else {
                    routing_core::DispatchOutcome::Failed { reason: "gone".into() }
                },
            }
        }),
        1 => (prop::sample::select(&CONNECTORS[..]), 0u8..4, 0usize..4).prop_map(|(c, p, s)| {
            use routing_core::DeliveryStatus as S;
            Command::RecordReceipt {
                connector: routing_core::ConnectorId::new(c),
                receipt: routing_core::ReceiptFor::Message(format!("p-{p}")),
                status: [S::Sent, S::Delivered, S::Read, S::Failed][s],
            }
        }),
        1 => (prop::sample::select(&CONNECTORS[..]), 0u8..6, any::<bool>(), any::<bool>())
            .prop_map(|(c, contact, online, email)| Command::SetCustomerPresence {
                connector: routing_core::ConnectorId::new(c),
                contact: routing_core::ids::ExternalContactId::new(format!("contact-{contact}")),
                online,
                email: email.then(|| format!("contact-{contact}@example.com")),
            }),
        // Erasures: refused while the contact has a conversation open, else they forget them.
        2 => (prop::sample::select(&CONNECTORS[..]), 0u8..6).prop_map(|(c, contact)| {
            Command::AnonymiseContact {
                connector: routing_core::ConnectorId::new(c),
                contact: routing_core::ids::ExternalContactId::new(format!("contact-{contact}")),
                by: routing_core::KeyId::new("privacy-officer"),
                interaction: None,
            }
        }),
    ]
}

/// A step of a script: a command drawn blindly, or one aimed at what the state holds now (an
/// outstanding offer, an active conversation), so that accepts and closes really happen often.
#[derive(Debug, Clone)]
pub enum Step {
    Blind(Command),
    AcceptAnOffer(usize),
    RejectAnOffer(usize),
    TakeFromWaiting(usize, usize),
    ReplyInAConversation(usize),
    CloseAConversation(usize, bool),
    /// An agent in a conversation hands it to a colleague (by index) or a queue.
    TransferAConversation(usize, usize, bool),
    InviteToAConversation(usize, usize, bool),
    LeaveAConversation(usize),
    PostponeAConversation(usize),
    ResumeAConversation(usize),
    MarkAConversation(usize, bool),
    /// An agent's console focuses one of their conversations (true) or loses focus (false).
    FocusAConversation(usize, bool),
    /// An agent grabs or joins an open conversation (by index) of a team queue.
    GrabOrJoin(usize, usize, bool),
}

pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => command().prop_map(Step::Blind),
        3 => any::<usize>().prop_map(Step::AcceptAnOffer),
        1 => any::<usize>().prop_map(Step::RejectAnOffer),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, c)| Step::TakeFromWaiting(a, c)),
        2 => Just(Step::Blind(tick())),
        1 => any::<usize>().prop_map(Step::ReplyInAConversation),
        2 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(n, s)| Step::CloseAConversation(n, s)),
        1 => (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(n, t, q)| Step::TransferAConversation(n, t, q)),
        1 => (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(n, t, q)| Step::InviteToAConversation(n, t, q)),
        1 => any::<usize>().prop_map(Step::LeaveAConversation),
        1 => any::<usize>().prop_map(Step::PostponeAConversation),
        1 => any::<usize>().prop_map(Step::ResumeAConversation),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(n, i)| Step::MarkAConversation(n, i)),
        2 => (any::<usize>(), prop::bool::weighted(0.7)).prop_map(|(n, f)| Step::FocusAConversation(n, f)),
        2 => (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(a, c, g)| Step::GrabOrJoin(a, c, g)),
    ]
}

/// Steps with the gap (in seconds) since the previous one.
pub fn script() -> impl Strategy<Value = Vec<(i64, Step)>> {
    prop::collection::vec((0i64..120, step()), 1..100)
}

/// Turns a step into a command against the current state.
pub fn resolve(state: &State, step: &Step) -> Command {
    let pick = |n: usize, want_offers: bool| {
        let pairs: Vec<_> = state
            .agents()
            .flat_map(|(id, agent)| {
                let set = if want_offers {
                    &agent.offers
                } else {
                    &agent.active
                };
                set.iter().map(move |c| (id.clone(), *c))
            })
            .collect();
        if pairs.is_empty() {
            None
        } else {
            Some(pairs[n % pairs.len()].clone())
        }
    };
    let fallback = || ready("alice");
    match step {
        Step::Blind(command) => command.clone(),
        Step::AcceptAnOffer(n) => {
            pick(*n, true).map_or_else(fallback, |(agent, conversation)| Command::AcceptOffer {
                agent,
                conversation,
            })
        }
        Step::RejectAnOffer(n) => {
            pick(*n, true).map_or_else(fallback, |(agent, conversation)| Command::RejectOffer {
                agent,
                conversation,
            })
        }
        Step::TakeFromWaiting(a, c) => {
            let open: Vec<_> = state
                .config()
                .queues
                .keys()
                .flat_map(|q| state.waiting_in(q))
                .chain(
                    state
                        .agents()
                        .flat_map(|(_, agent)| agent.offers.iter().copied()),
                )
                .collect();
            if open.is_empty() {
                return fallback();
            }
            let agent = AGENTS[*a % AGENTS.len()];
            take_from_waiting_id(agent, open[*c % open.len()])
        }
        Step::TransferAConversation(n, t, queue) | Step::InviteToAConversation(n, t, queue) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| {
                let to = if *queue {
                    routing_core::Target::Queue(routing_core::QueueId::new(
                        QUEUES[*t % QUEUES.len()],
                    ))
                } else {
                    // Mostly colleagues who can take it (ready), sometimes anyone.
                    let ready: Vec<_> = state
                        .agents()
                        .filter(|(_, a)| a.presence == routing_core::state::Presence::Ready)
                        .map(|(id, _)| id.clone())
                        .collect();
                    let target = if ready.is_empty() || *t % 4 == 0 {
                        routing_core::AgentId::new(AGENTS[*t % AGENTS.len()])
                    } else {
                        ready[*t % ready.len()].clone()
                    };
                    routing_core::Target::Agent(target)
                };
                if matches!(step, Step::TransferAConversation(..)) {
                    Command::Transfer {
                        agent,
                        conversation,
                        to,
                    }
                } else {
                    Command::Invite {
                        agent,
                        conversation,
                        to,
                    }
                }
            })
        }
        Step::LeaveAConversation(n) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| Command::Leave {
                agent,
                conversation,
            })
        }
        Step::PostponeAConversation(n) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| Command::Postpone {
                agent,
                conversation,
            })
        }
        Step::ResumeAConversation(n) => {
            let postponed: Vec<_> = state
                .agents()
                .flat_map(|(id, agent)| agent.postponed.iter().map(move |c| (id.clone(), *c)))
                .collect();
            if postponed.is_empty() {
                return fallback();
            }
            let (agent, conversation) = postponed[*n % postponed.len()].clone();
            Command::Resume {
                agent,
                conversation,
            }
        }
        Step::FocusAConversation(n, focus) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| {
                if *focus {
                    Command::Focus {
                        agent,
                        conversation,
                    }
                } else {
                    Command::Blur { agent }
                }
            })
        }
        Step::MarkAConversation(n, important) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| Command::MarkImportant {
                agent,
                conversation,
                important: *important,
            })
        }
        Step::GrabOrJoin(a, c, grabs) => {
            let team: Vec<_> = ["team", "grab"]
                .iter()
                .flat_map(|q| state.waiting_in(&routing_core::QueueId::new(*q)))
                .chain(state.agents().flat_map(|(_, agent)| {
                    agent.active.iter().copied().filter(|id| {
                        state
                            .conversation(id)
                            .and_then(|c| c.queue.as_ref())
                            .is_some_and(|q| q.as_str() == "team" || q.as_str() == "grab")
                    })
                }))
                .collect();
            if team.is_empty() {
                return fallback();
            }
            let agent = routing_core::AgentId::new(AGENTS[*a % AGENTS.len()]);
            let conversation = team[*c % team.len()];
            if *grabs {
                Command::Grab {
                    agent,
                    conversation,
                }
            } else {
                Command::Join {
                    agent,
                    conversation,
                }
            }
        }
        Step::ReplyInAConversation(n) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| {
                Command::SendAgentMessage {
                    agent,
                    conversation,
                    message_id: routing_core::ids::MessageId::new("r"),
                    text: "reply".into(),
                    template: None,
                }
            })
        }
        Step::CloseAConversation(n, with_status) => {
            pick(*n, false).map_or_else(fallback, |(agent, conversation)| Command::Close {
                agent,
                conversation,
                status: with_status.then(|| "resolved".to_owned()),
            })
        }
    }
}

/// Runs a script live, as the engine does. Returns the state, every accepted event, and the state
/// after each step (for the invariants). A rejected command must leave the state as it was.
pub fn run(script: &[(i64, Step)]) -> (State, Vec<Event>, Vec<State>) {
    let mut state = State::new(centre());
    let mut log = Vec::new();
    let mut states = Vec::new();
    let mut seconds = 0;
    let mut next_conversation = 1;
    for (gap, step) in script {
        seconds += gap;
        let command = resolve(&state, step);
        let before = state.clone();
        match state.execute(command, &context(seconds, next_conversation)) {
            Ok(events) => {
                // A grab has exactly one winner: nobody grabs what someone already owns, and
                // one step never grabs a conversation twice.
                let mut grabbed = std::collections::BTreeSet::new();
                for event in &events {
                    if let routing_core::EventKind::ConversationGrabbed(e) = &event.kind {
                        let owner = before
                            .conversation(&e.conversation)
                            .and_then(|c| c.grabbed_by.clone());
                        assert_eq!(owner, None, "{} grabbed what {owner:?} owns", e.agent);
                        assert!(grabbed.insert(e.conversation), "grabbed twice in one step");
                    }
                }
                if events.iter().any(|e| {
                    matches!(
                        e.kind,
                        routing_core::EventKind::ConversationStarted(_)
                            | routing_core::EventKind::OutboundConversationStarted(_)
                    )
                }) {
                    next_conversation += 1;
                }
                log.extend(events);
            }
            Err(rejection) => assert_eq!(state, before, "rejected ({rejection}) yet changed"),
        }
        states.push(state.clone());
    }
    (state, log, states)
}

fn take_from_waiting_id(agent: &str, conversation: routing_core::ConversationId) -> Command {
    Command::AcceptFromWaiting {
        agent: routing_core::AgentId::new(agent),
        conversation,
    }
}
