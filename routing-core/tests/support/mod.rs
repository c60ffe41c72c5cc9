//! Given-when-then for the routing core: a small contact centre, commands at explicit times, and
//! events rendered one per line so expectations read like the product documents.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod script;

use routing_core::codec;
use routing_core::config::{AgentConfig, CentreConfig, Channel, ConnectorConfig, QueueConfig};
use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    AgentId, Command, ConnectorId, Context, ConversationId, Event, QueueId, Rejection, State,
    Timestamp,
};
use std::collections::{BTreeMap, BTreeSet};

/// Two routed queues (support: web chat and WhatsApp; sales: web chat) and two team queues
/// (team: collaboration; grab: grab, web chat), five agents, six connectors.
/// alice: support+sales+grab, 2 web chats, speaks Spanish; bob: support, 1 web chat and 1
/// WhatsApp; carol: sales, 1; dave: team+grab, 2; erin: team, and admin of grab, 1.
/// Conversations from `es` (support) need Spanish; pauses for a "break" may last 10 minutes.
pub fn centre() -> CentreConfig {
    let queue = |name: &str, channels: &[Channel]| QueueConfig {
        offer_timeout_ms: 30_000,
        ..QueueConfig::new(name, channels.iter().copied())
    };
    // Support reminds once after 90 s and takes a conversation from silent agents after 150 s;
    // sales reminds on every message and prefers a returning customer's last agent for 10
    // minutes; both close after 30 minutes of customer silence.
    let support = QueueConfig {
        reminder: routing_core::Reminder::AfterMs(90_000),
        no_reply_limit_ms: Some(150_000),
        auto_close_after_ms: 1_800_000,
        ..queue("Support", &[Channel::Webchat, Channel::Whatsapp])
    };
    let sales = QueueConfig {
        reminder: routing_core::Reminder::EveryMessage,
        last_agent_window_ms: Some(600_000),
        auto_close_after_ms: 1_800_000,
        ..queue("Sales", &[Channel::Webchat])
    };
    // The grab queue gives up on a conversation nobody grabbed in 4 minutes: it overflows to
    // support.
    let team = QueueConfig {
        mode: routing_core::RoutingMode::Collaboration,
        auto_close_after_ms: 1_800_000,
        ..queue("Team", &[Channel::Webchat])
    };
    let grab = QueueConfig {
        mode: routing_core::RoutingMode::Grab,
        auto_close_after_ms: 1_800_000,
        max_wait: Some(routing_core::MaxWait {
            after_ms: 240_000,
            then: routing_core::AfterMaxWait::Overflow {
                to: QueueId::new("support"),
            },
        }),
        ..queue("Grab", &[Channel::Webchat])
    };
    let agent = |queues: &[&str], capacity: &[(Channel, u32)]| AgentConfig {
        name: String::new(),
        queues: queues
            .iter()
            .map(|q| QueueId::new(*q))
            .collect::<BTreeSet<_>>(),
        capacity: capacity.iter().copied().collect::<BTreeMap<_, _>>(),
        admin_of: BTreeSet::new(),
        skills: BTreeSet::new(),
    };
    let connector = |channel: Channel, queue: &str, skills: &[&str]| ConnectorConfig {
        channel,
        queue: QueueId::new(queue),
        priority: 0,
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        templates: Vec::new(),
    };
    CentreConfig {
        queues: [
            (QueueId::new("support"), support),
            (QueueId::new("sales"), sales),
            (QueueId::new("team"), team),
            (QueueId::new("grab"), grab),
        ]
        .into(),
        agents: [
            (
                AgentId::new("alice"),
                AgentConfig {
                    skills: ["spanish".to_owned()].into(),
                    ..agent(&["support", "sales", "grab"], &[(Channel::Webchat, 2)])
                },
            ),
            (
                AgentId::new("bob"),
                agent(
                    &["support"],
                    &[(Channel::Webchat, 1), (Channel::Whatsapp, 1)],
                ),
            ),
            (
                AgentId::new("carol"),
                agent(&["sales"], &[(Channel::Webchat, 1)]),
            ),
            (
                AgentId::new("dave"),
                agent(&["team", "grab"], &[(Channel::Webchat, 2)]),
            ),
            (
                AgentId::new("erin"),
                AgentConfig {
                    admin_of: [QueueId::new("grab")].into(),
                    ..agent(&["team"], &[(Channel::Webchat, 1)])
                },
            ),
        ]
        .into(),
        connectors: [
            (
                ConnectorId::new("web"),
                connector(Channel::Webchat, "support", &[]),
            ),
            (
                ConnectorId::new("shop"),
                connector(Channel::Webchat, "sales", &[]),
            ),
            (
                ConnectorId::new("wa"),
                connector(Channel::Whatsapp, "support", &[]),
            ),
            (
                ConnectorId::new("es"),
                connector(Channel::Webchat, "support", &["spanish"]),
            ),
            (
                ConnectorId::new("team-web"),
                connector(Channel::Webchat, "team", &[]),
            ),
            (
                ConnectorId::new("grab-web"),
                connector(Channel::Webchat, "grab", &[]),
            ),
        ]
        .into(),
        heartbeat_timeout_ms: None,
        api_keys: Default::default(),
        close_statuses: Vec::new(),
        pause_reasons: Vec::new(),
        pause_limits: routing_core::PauseLimits {
            default_ms: None,
            by_reason: [("break".to_owned(), 600_000)].into(),
        },
    }
}

/// The id the n-th conversation gets: tests hand ids to the core, as the service does.
pub fn conversation(n: u128) -> ConversationId {
    ConversationId::from_uuid(uuid::Uuid::from_u128(n))
}

/// A command at a time (in seconds), with the id a new conversation would get.
pub struct At {
    pub seconds: i64,
    pub command: Command,
    pub new_conversation: u128,
}

pub fn at(seconds: i64, command: Command) -> At {
    At {
        seconds,
        command,
        new_conversation: 0,
    }
}

/// A command that may start conversation `n`.
pub fn starting(n: u128, seconds: i64, command: Command) -> At {
    At {
        seconds,
        command,
        new_conversation: n,
    }
}

pub fn context(seconds: i64, new_conversation: u128) -> Context {
    Context {
        now: Timestamp::from_millis(seconds * 1000),
        new_conversation_id: conversation(new_conversation),
    }
}

/// Runs commands that must all be accepted; returns the state.
pub fn given(commands: Vec<At>) -> State {
    given_in(centre(), commands)
}

/// The same, in another contact centre.
pub fn given_in(config: routing_core::CentreConfig, commands: Vec<At>) -> State {
    let mut state = State::new(config);
    for step in commands {
        state
            .execute(
                step.command.clone(),
                &context(step.seconds, step.new_conversation),
            )
            .unwrap_or_else(|rejection| {
                panic!("given {:?} was rejected: {rejection}", step.command)
            });
    }
    state
}

/// Executes one more command and renders the outcome: one line per event, or the rejection. A
/// rejection must leave the state exactly as it was.
pub fn when(state: &mut State, step: At) -> String {
    let before = state.clone();
    match state.execute(step.command, &context(step.seconds, step.new_conversation)) {
        Ok(events) => render(&events),
        Err(rejection) => {
            assert_eq!(*state, before, "a rejected command changed the state");
            render_rejection(&rejection)
        }
    }
}

pub fn render(events: &[Event]) -> String {
    events
        .iter()
        .map(|event| {
            let encoded = codec::encode(event).unwrap();
            format!(
                "{}s {} {}\n",
                event.at.as_millis() / 1000,
                encoded.event_type,
                String::from_utf8(encoded.payload).unwrap()
            )
        })
        .collect()
}

pub fn render_rejection(rejection: &Rejection) -> String {
    format!("rejected: {rejection}\n")
}

// Command builders, named as the product documents name the actions.

pub fn customer_writes(connector: &str, contact: &str, message: &str) -> Command {
    Command::ReceiveCustomerMessage {
        handle: None,
        connector: ConnectorId::new(connector),
        channel: if connector == "wa" {
            Channel::Whatsapp
        } else {
            Channel::Webchat
        },
        contact: ExternalContactId::new(contact),
        contact_name: None,
        message_id: MessageId::new(message),
        text: format!("text of {message}"),
        kind: routing_core::MessageKind::Text,
        attachments: Vec::new(),
    }
}

pub fn log_in(agent: &str, queue: &str) -> Command {
    Command::LogIn {
        agent: AgentId::new(agent),
        queue: QueueId::new(queue),
    }
}

pub fn log_out(agent: &str, queue: &str) -> Command {
    Command::LogOut {
        agent: AgentId::new(agent),
        queue: QueueId::new(queue),
    }
}

pub fn ready(agent: &str) -> Command {
    Command::GoReady {
        agent: AgentId::new(agent),
    }
}

pub fn pause(agent: &str, reason: &str) -> Command {
    Command::Pause {
        agent: AgentId::new(agent),
        reason: reason.to_owned(),
        paid: false,
    }
}

pub fn accept(agent: &str, n: u128) -> Command {
    Command::AcceptOffer {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn reply(agent: &str, n: u128, message: &str) -> Command {
    Command::SendAgentMessage {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        message_id: MessageId::new(message),
        text: format!("text of {message}"),
        template: None,
    }
}

pub fn close(agent: &str, n: u128, status: Option<&str>) -> Command {
    Command::Close {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        status: status.map(str::to_owned),
    }
}

pub fn reject(agent: &str, n: u128) -> Command {
    Command::RejectOffer {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn take_from_waiting(agent: &str, n: u128) -> Command {
    Command::AcceptFromWaiting {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn tick() -> Command {
    Command::Tick
}

pub fn transfer_to_agent(agent: &str, n: u128, to: &str) -> Command {
    Command::Transfer {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        to: routing_core::Target::Agent(AgentId::new(to)),
    }
}

pub fn transfer_to_queue(agent: &str, n: u128, to: &str) -> Command {
    Command::Transfer {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        to: routing_core::Target::Queue(QueueId::new(to)),
    }
}

pub fn invite_agent(agent: &str, n: u128, to: &str) -> Command {
    Command::Invite {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        to: routing_core::Target::Agent(AgentId::new(to)),
    }
}

pub fn invite_queue(agent: &str, n: u128, to: &str) -> Command {
    Command::Invite {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        to: routing_core::Target::Queue(QueueId::new(to)),
    }
}

pub fn leave(agent: &str, n: u128) -> Command {
    Command::Leave {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn postpone(agent: &str, n: u128) -> Command {
    Command::Postpone {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn resume(agent: &str, n: u128) -> Command {
    Command::Resume {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn mark_important(agent: &str, n: u128) -> Command {
    Command::MarkImportant {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        important: true,
    }
}

pub fn heartbeat(agent: &str) -> Command {
    Command::Heartbeat {
        agent: AgentId::new(agent),
    }
}

pub fn disconnect(agent: &str) -> Command {
    Command::Disconnect {
        agent: AgentId::new(agent),
    }
}

pub fn reply_with(agent: &str, n: u128, text: &str, template: Option<&str>) -> Command {
    Command::SendAgentMessage {
        agent: AgentId::new(agent),
        conversation: conversation(n),
        message_id: MessageId::new("t"),
        text: text.to_owned(),
        template: template.map(str::to_owned),
    }
}

pub fn start_outbound(
    agent: &str,
    connector: &str,
    contact: &str,
    template: Option<&str>,
) -> Command {
    Command::StartOutbound {
        handle: None,
        agent: AgentId::new(agent),
        connector: ConnectorId::new(connector),
        contact: ExternalContactId::new(contact),
        message_id: MessageId::new("o"),
        text: "Hello again".to_owned(),
        template: template.map(str::to_owned),
    }
}

pub fn grab(agent: &str, n: u128) -> Command {
    Command::Grab {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn join(agent: &str, n: u128) -> Command {
    Command::Join {
        agent: AgentId::new(agent),
        conversation: conversation(n),
    }
}

pub fn customer_leaves(connector: &str, contact: &str) -> Command {
    Command::CustomerLeft {
        connector: ConnectorId::new(connector),
        contact: ExternalContactId::new(contact),
    }
}
