//! Routing at contact-centre scale, on one core: routing decisions per second and events applied
//! per second with 500 and 5,000 agents and 5,000 and 50,000 waiting conversations.
//!
//! Run: `cargo bench -p switchboard-benches --bench routing_scale`. Prints one table; each figure
//! stands beside a baseline measured in the same run (a plain scan of every agent, which is what a
//! router without indexes does per decision).
//!
//! - *fill*: every agent is full and conversations wait. One cycle: an agent closes a conversation
//!   (and is offered the head of the queue: one routing decision), accepts it, and a new customer
//!   message arrives and waits. Three commands, one decision.
//! - *choose*: every agent has room and nothing waits. One cycle: a message arrives and is offered
//!   to the best of all eligible agents (one decision over every agent), then accepted and closed.
//! - *apply*: the whole log of the set-up and the cycles applied to a fresh state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use routing_core::config::{AgentConfig, CentreConfig, ConnectorConfig, QueueConfig};
use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    AgentId, Channel, Command, ConnectorId, Context, ConversationId, Event, EventKind, QueueId,
    State, Timestamp,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

const CAPACITY: u32 = 2;

fn centre(agents: usize) -> CentreConfig {
    let queue = QueueId::new("support");
    CentreConfig {
        queues: [(
            queue.clone(),
            QueueConfig {
                offer_timeout_ms: 3_600_000,
                ..QueueConfig::new("Support", [Channel::Webchat])
            },
        )]
        .into(),
        agents: (0..agents)
            .map(|n| {
                (
                    AgentId::new(format!("agent-{n:05}")),
                    AgentConfig {
                        name: String::new(),
                        queues: [queue.clone()].into(),
                        capacity: [(Channel::Webchat, CAPACITY)].into(),
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

/// Drives a state with commands at an advancing clock and keeps the log.
struct Centre {
    state: State,
    clock: i64,
    next: u128,
    log: Vec<Event>,
    keep_log: bool,
}

impl Centre {
    fn new(agents: usize) -> Self {
        Centre {
            state: State::new(centre(agents)),
            clock: 1_000,
            next: 1,
            log: Vec::new(),
            keep_log: true,
        }
    }

    fn run(&mut self, command: Command) -> Vec<Event> {
        self.clock += 1;
        let context = Context {
            now: Timestamp::from_millis(self.clock),
            new_conversation_id: ConversationId::from_uuid(uuid::Uuid::from_u128(self.next)),
        };
        let events = self.state.execute(command, &context).unwrap();
        if self.keep_log {
            self.log.extend(events.iter().cloned());
        }
        events
    }

    fn message(&mut self) -> Vec<Event> {
        let contact = ExternalContactId::new(format!("v-{}", self.next));
        let events = self.run(Command::ReceiveCustomerMessage {
            handle: None,
            connector: ConnectorId::new("web"),
            channel: Channel::Webchat,
            contact,
            contact_name: None,
            message_id: MessageId::new(format!("m-{}", self.next)),
            text: "hello".into(),
            kind: routing_core::MessageKind::Text,
            attachments: Vec::new(),
        });
        self.next += 1;
        events
    }

    fn accept_offers(&mut self, events: &[Event]) {
        for event in events {
            if let EventKind::ConversationOffered(offer) = &event.kind {
                self.run(Command::AcceptOffer {
                    agent: offer.agent.clone(),
                    conversation: offer.conversation,
                });
            }
        }
    }

    /// Agents logged in and ready; `busy` fills them to capacity; then `waiting` conversations.
    fn set_up(agents: usize, busy: bool, waiting: usize) -> Self {
        let mut centre = Centre::new(agents);
        let ids: Vec<AgentId> = centre.state.config().agents.keys().cloned().collect();
        for agent in &ids {
            centre.run(Command::LogIn {
                agent: agent.clone(),
                queue: QueueId::new("support"),
            });
            centre.run(Command::GoReady {
                agent: agent.clone(),
            });
        }
        if busy {
            for _ in 0..agents * CAPACITY as usize {
                let events = centre.message();
                centre.accept_offers(&events);
            }
        }
        for _ in 0..waiting {
            let events = centre.message();
            assert!(
                !events
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::ConversationOffered(_))),
                "with every agent full, a new conversation waits"
            );
        }
        assert_eq!(centre.state.waiting_count(), waiting);
        centre
    }

    /// Every agent's active conversations, to close in the fill cycle.
    fn active_of_every_agent(&self) -> Vec<(AgentId, ConversationId)> {
        self.state
            .agents()
            .flat_map(|(id, agent)| agent.active.iter().map(move |c| (id.clone(), *c)))
            .collect()
    }
}

struct Figure {
    decisions_per_s: f64,
    events_per_s: f64,
    apply_per_s: f64,
    baseline_scans_per_s: f64,
}

/// Runs `scan` for `budget`; returns how many ran and for how long.
fn run_for(budget: Duration, mut scan: impl FnMut()) -> (u64, Duration) {
    let start = Instant::now();
    let mut count = 0;
    while start.elapsed() < budget {
        for _ in 0..256 {
            scan();
            count += 1;
        }
    }
    (count, start.elapsed())
}

/// One fill cycle; returns the events it produced.
fn fill_cycle(
    centre: &mut Centre,
    busy: &mut [(AgentId, ConversationId)],
    turn: &mut usize,
) -> u64 {
    let slot = *turn % busy.len();
    *turn += 1;
    let (agent, conversation) = busy[slot].clone();
    let closed = centre.run(Command::Close {
        agent: agent.clone(),
        conversation,
        status: Some("resolved".into()),
    });
    let Some(next) = closed.iter().find_map(|e| match &e.kind {
        EventKind::ConversationOffered(o) => Some(o.conversation),
        _ => None,
    }) else {
        panic!("a waiting conversation is offered")
    };
    let accepted = centre.run(Command::AcceptOffer {
        agent: agent.clone(),
        conversation: next,
    });
    busy[slot] = (agent, next);
    let arrived = centre.message();
    (closed.len() + accepted.len() + arrived.len()) as u64
}

/// One choose cycle; returns the events it produced.
fn choose_cycle(centre: &mut Centre) -> u64 {
    let arrived = centre.message();
    let (agent, conversation) = arrived
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ConversationOffered(o) => Some((o.agent.clone(), o.conversation)),
            _ => None,
        })
        .expect("a free agent is offered the conversation");
    let accepted = centre.run(Command::AcceptOffer {
        agent: agent.clone(),
        conversation,
    });
    let closed = centre.run(Command::Close {
        agent,
        conversation,
        status: Some("resolved".into()),
    });
    (arrived.len() + accepted.len() + closed.len()) as u64
}

/// Runs `cycle` for about two seconds, untimed warm-up (with the log kept) first.
fn measure(centre: &mut Centre, mut cycle: impl FnMut(&mut Centre) -> u64) -> (f64, f64) {
    for _ in 0..20_000 {
        cycle(centre);
    }
    centre.keep_log = false;
    let (mut cycles, mut events) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..256 {
            events += cycle(centre);
            cycles += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (cycles as f64 / secs, events as f64 / secs)
}

fn fill(agents: usize, waiting: usize) -> Figure {
    let mut centre = Centre::set_up(agents, true, waiting);
    let mut busy = centre.active_of_every_agent();
    let mut turn = 0usize;
    let (decisions_per_s, events_per_s) = measure(&mut centre, |centre| {
        fill_cycle(centre, &mut busy, &mut turn)
    });
    Figure {
        decisions_per_s,
        events_per_s,
        apply_per_s: apply_rate(agents, &centre.log),
        baseline_scans_per_s: baseline_scan(agents),
    }
}

fn choose(agents: usize) -> Figure {
    let mut centre = Centre::set_up(agents, false, 0);
    let (decisions_per_s, events_per_s) = measure(&mut centre, choose_cycle);
    Figure {
        decisions_per_s,
        events_per_s,
        apply_per_s: apply_rate(agents, &centre.log),
        baseline_scans_per_s: baseline_scan(agents),
    }
}

/// Events per second applied to a fresh state: the log replayed, as at start-up.
fn apply_rate(agents: usize, log: &[Event]) -> f64 {
    let mut best = 0f64;
    for _ in 0..3 {
        let mut state = State::new(centre(agents));
        let start = Instant::now();
        for event in log {
            state.apply(event);
        }
        let rate = log.len() as f64 / start.elapsed().as_secs_f64();
        black_box(&state);
        best = best.max(rate);
    }
    best
}

/// The baseline: picking the longest-idle free agent by scanning every agent, per decision.
fn baseline_scan(agents: usize) -> f64 {
    let idle: Vec<(i64, u32, u32)> = (0..agents)
        .map(|n| ((n as i64 * 7919) % 10_007, n as u32 % 3, CAPACITY))
        .collect();
    let (count, elapsed) = run_for(Duration::from_millis(500), || {
        let best = black_box(&idle)
            .iter()
            .enumerate()
            .filter(|(_, (_, load, capacity))| load < capacity)
            .min_by_key(|(n, (since, _, _))| (*since, *n));
        black_box(best);
    });
    count as f64 / elapsed.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument names the only case to run, as
    // `fill/5000/50000` or `choose/500` (to profile one case, e.g. under callgrind).
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |case: &str, agents: usize, waiting: usize| {
        only.as_deref().is_none_or(|o| {
            o == format!("{case}/{agents}/{waiting}") || o == format!("{case}/{agents}")
        })
    };
    println!("routing core, one thread; figures per second");
    println!(
        "{:<8} {:>7} {:>8} {:>14} {:>14} {:>16} {:>22}",
        "case",
        "agents",
        "waiting",
        "decisions/s",
        "commands ev/s",
        "apply events/s",
        "baseline full scans/s"
    );
    let mut per_decision = Vec::new();
    for agents in [500, 5_000] {
        for waiting in [5_000, 50_000] {
            if !wanted("fill", agents, waiting) {
                continue;
            }
            let figure = fill(agents, waiting);
            print_row("fill", agents, waiting, &figure);
            per_decision.push((agents, waiting, 1.0 / figure.decisions_per_s));
        }
        if !wanted("choose", agents, 0) {
            continue;
        }
        let figure = choose(agents);
        print_row("choose", agents, 0, &figure);
        per_decision.push((agents, 0, 1.0 / figure.decisions_per_s));
    }
    if only.is_some() {
        return;
    }
    let cost = |agents: usize, waiting: usize| {
        per_decision
            .iter()
            .find(|(a, w, _)| *a == agents && *w == waiting)
            .map_or(f64::NAN, |(_, _, c)| *c)
    };
    println!(
        "cost of a decision, 5,000 vs 500 agents: fill (50,000 waiting) {:.2}x, choose {:.2}x",
        cost(5_000, 50_000) / cost(500, 50_000),
        cost(5_000, 0) / cost(500, 0)
    );
}

fn print_row(case: &str, agents: usize, waiting: usize, figure: &Figure) {
    println!(
        "{:<8} {:>7} {:>8} {:>14.0} {:>14.0} {:>16.0} {:>22.0}",
        case,
        agents,
        waiting,
        figure.decisions_per_s,
        figure.events_per_s,
        figure.apply_per_s,
        figure.baseline_scans_per_s
    );
}
