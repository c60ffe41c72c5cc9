//! The routing core on one core: a whole conversation lifecycle (message, enqueue, offer, accept,
//! reply, close) decided and applied, with many agents logged in and ready. A first baseline; the
//! routing-core issue adds the 500/5,000-agent and 5,000/50,000-waiting figures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use routing_core::config::{AgentConfig, CentreConfig, ConnectorConfig, QueueConfig};
use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    AgentId, Channel, Command, ConnectorId, Context, ConversationId, EventKind, QueueId, State,
    Timestamp,
};
use std::hint::black_box;

fn centre(agents: usize) -> CentreConfig {
    let queue = QueueId::new("support");
    CentreConfig {
        queues: [(
            queue.clone(),
            QueueConfig::new("Support", [Channel::Webchat]),
        )]
        .into(),
        agents: (0..agents)
            .map(|n| {
                (
                    AgentId::new(format!("agent-{n:05}")),
                    AgentConfig {
                        name: String::new(),
                        queues: [queue.clone()].into(),
                        capacity: [(Channel::Webchat, 3)].into(),
                        admin_of: Default::default(),
                        skills: Default::default(),
                    },
                )
            })
            .collect(),
        connectors: [(
            ConnectorId::new("web"),
            ConnectorConfig {
                channel: Channel::Webchat,
                queue,
                priority: 0,
                skills: Default::default(),
                templates: Vec::new(),
            },
        )]
        .into(),
        heartbeat_timeout_ms: None,
        api_keys: Default::default(),
        close_statuses: Vec::new(),
        pause_reasons: Vec::new(),
        pause_limits: Default::default(),
    }
}

struct Sim {
    state: State,
    clock: i64,
    next_id: u128,
    events: u64,
}

impl Sim {
    fn new(agents: usize) -> Self {
        let config = centre(agents);
        let ids: Vec<AgentId> = config.agents.keys().cloned().collect();
        let mut sim = Sim {
            state: State::new(config),
            clock: 0,
            next_id: 1,
            events: 0,
        };
        for agent in ids {
            sim.run(Command::LogIn {
                agent: agent.clone(),
                queue: QueueId::new("support"),
            });
            sim.run(Command::GoReady { agent });
        }
        sim
    }

    fn run(&mut self, command: Command) -> Vec<routing_core::Event> {
        self.clock += 1;
        let context = Context {
            now: Timestamp::from_millis(self.clock),
            new_conversation_id: ConversationId::from_uuid(uuid::Uuid::from_u128(self.next_id)),
        };
        let events = self.state.execute(command, &context).unwrap();
        self.events += events.len() as u64;
        events
    }

    /// One conversation from first message to close; returns nothing, leaves the centre as it was.
    fn lifecycle(&mut self) {
        let contact = ExternalContactId::new(format!("v-{}", self.next_id));
        let events = self.run(Command::ReceiveCustomerMessage {
            handle: None,
            connector: ConnectorId::new("web"),
            channel: Channel::Webchat,
            contact,
            contact_name: None,
            message_id: MessageId::new("m"),
            text: "hello".into(),
            kind: routing_core::MessageKind::Text,
            attachments: Vec::new(),
        });
        self.next_id += 1;
        let offer = events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::ConversationOffered(o) => Some(o.clone()),
                _ => None,
            })
            .expect("a ready agent is offered the conversation");
        self.run(Command::AcceptOffer {
            agent: offer.agent.clone(),
            conversation: offer.conversation,
        });
        self.run(Command::SendAgentMessage {
            agent: offer.agent.clone(),
            conversation: offer.conversation,
            message_id: MessageId::new("r"),
            text: "hi".into(),
            template: None,
        });
        self.run(Command::Close {
            agent: offer.agent,
            conversation: offer.conversation,
            status: Some("resolved".into()),
        });
    }
}

fn lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("conversation_lifecycle");
    for agents in [50, 500] {
        let mut sim = Sim::new(agents);
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{agents}_agents"), |b| {
            b.iter(|| black_box(&mut sim).lifecycle());
        });
    }
    group.finish();
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);
