//! The engine: the single writer of a contact centre's log.
//!
//! One task owns the routing core's state. For each command it takes the time, asks the core to
//! decide, appends the events, and only then applies them, so the state never runs ahead of the
//! log. Commands are handled one at a time: that is what makes races impossible by construction.
//! This module must never decide anything itself; rules live in `routing-core`.

use crate::clock::Clock;
use event_store::{
    AppendError, AppendOutcome, AppendRequest, EventStore, NewEvent, Position, StoreError,
};
use routing_core::codec::{self, DecodeError};
use routing_core::{
    CentreConfig, Command, Context, ConversationId, Event, Rejection, State, Timestamp,
};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// How many commands may wait for the engine before callers are told it is busy.
const QUEUE_DEPTH: usize = 1024;
/// How many events are read per page while replaying the log at start-up.
pub const REPLAY_PAGE: usize = 4096;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("the log could not be written: {0}")]
    Append(#[from] AppendError),
    #[error("the log could not be read: {0}")]
    Store(#[from] StoreError),
    #[error("event at position {position} cannot be decoded: {source}")]
    Decode {
        position: u64,
        #[source]
        source: DecodeError,
    },
    #[error("event could not be encoded: {0}")]
    Encode(#[from] codec::EncodeError),
    #[error("the engine is busy; try again")]
    Busy,
    #[error("the engine has stopped")]
    Stopped,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Appended {
        /// Each event with the position it was stored at.
        events: Vec<(Position, Event)>,
    },
    /// The inbound message was delivered before; nothing new was appended. `original` is the
    /// event stored the first time.
    Duplicate { position: Position, original: Event },
}

impl Receipt {
    /// The events the command appended, or the original event of a duplicate.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        let (appended, original) = match self {
            Receipt::Appended { events } => (events.as_slice(), None),
            Receipt::Duplicate { original, .. } => (&[][..], Some(original)),
        };
        appended.iter().map(|(_, event)| event).chain(original)
    }

    /// The newest position this command's effects are at: what a reader waits for.
    pub fn position(&self) -> Position {
        match self {
            Receipt::Appended { events } => events.last().map_or(Position(0), |(p, _)| *p),
            Receipt::Duplicate { position, .. } => *position,
        }
    }
}

struct Job {
    command: Command,
    idempotency_key: Option<String>,
    reply: oneshot::Sender<Result<Receipt, EngineError>>,
}

/// A handle to the engine task; cheap to clone. When every handle is dropped the task finishes
/// the command in hand and stops.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Job>,
}

impl Engine {
    /// Replays the log into a fresh state and starts the writer task.
    pub async fn start<S: EventStore + Clone>(
        config: CentreConfig,
        store: S,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), EngineError> {
        let state = replay(config.clone(), &store).await?;
        tracing::info!(
            events = state.events_applied(),
            "routing state rebuilt from the log"
        );
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        let writer = Writer {
            config,
            state,
            store,
            clock,
            stale: false,
        };
        let task = tokio::spawn(writer.run(queue));
        Ok((Self { jobs }, task))
    }

    /// Submits a command and waits for its outcome. `idempotency_key` makes a redelivered inbound
    /// message a no-op.
    pub async fn execute(
        &self,
        command: Command,
        idempotency_key: Option<String>,
    ) -> Result<Receipt, EngineError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            command,
            idempotency_key,
            reply,
        };
        self.jobs.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => EngineError::Busy,
            mpsc::error::TrySendError::Closed(_) => EngineError::Stopped,
        })?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }
}

/// Rebuilds the core's state from the whole log.
pub async fn replay<S: EventStore>(config: CentreConfig, store: &S) -> Result<State, EngineError> {
    let mut state = State::new(config);
    let mut after = Position(0);
    loop {
        let page = store.read_all(after, REPLAY_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(state);
        };
        after = last.position;
        for stored in &page {
            state.apply(&decode(stored)?);
        }
    }
}

/// Decodes a stored event into the core's event.
pub fn decode(stored: &event_store::StoredEvent) -> Result<Event, EngineError> {
    codec::decode(
        &stored.event_type,
        stored.schema_version,
        &stored.payload,
        Timestamp::from_millis(stored.recorded_at_ms),
    )
    .map_err(|source| EngineError::Decode {
        position: stored.position.0,
        source,
    })
}

struct Writer<S> {
    config: CentreConfig,
    state: State,
    store: S,
    clock: Arc<dyn Clock>,
    /// Set when an append failed in a way that leaves its fate unknown: the state is rebuilt from
    /// the log before the next command.
    stale: bool,
}

impl<S: EventStore> Writer<S> {
    async fn duplicate_of(&self, position: Position) -> Result<Receipt, EngineError> {
        let stored = self
            .store
            .read_all(Position(position.0.saturating_sub(1)), 1)
            .await?
            .into_iter()
            .next()
            .filter(|stored| stored.position == position)
            .ok_or(StoreError::Corrupt {
                position: position.0,
                reason: "an idempotency key points at a missing event".into(),
            })?;
        Ok(Receipt::Duplicate {
            position,
            original: decode(&stored)?,
        })
    }

    async fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        while let Some(job) = queue.recv().await {
            let outcome = self.handle(job.command, job.idempotency_key).await;
            // A caller that gave up waiting does not undo the command.
            let _ = job.reply.send(outcome);
        }
        tracing::info!("engine stopped");
    }

    async fn handle(
        &mut self,
        command: Command,
        idempotency_key: Option<String>,
    ) -> Result<Receipt, EngineError> {
        if self.stale {
            self.state = replay(self.config.clone(), &self.store).await?;
            self.stale = false;
        }
        if let Some(key) = &idempotency_key
            && let Some(position) = self.store.find_idempotency_key(key).await?
        {
            return self.duplicate_of(position).await;
        }
        let now = self.clock.now();
        let context = Context {
            now,
            new_conversation_id: ConversationId::from_uuid(Uuid::now_v7()),
        };
        let events = routing_core::decide(&self.state, command, &context)?;
        let command_id = Uuid::now_v7();
        let mut batch = Vec::with_capacity(events.len());
        for event in &events {
            let encoded = codec::encode(event)?;
            // Only the customer's message itself carries the provider's id: it is what a
            // redelivery would repeat.
            let key = match &event.kind {
                routing_core::EventKind::CustomerMessageReceived(_) => idempotency_key.clone(),
                _ => None,
            };
            batch.push(NewEvent {
                event_id: Uuid::now_v7(),
                stream: encoded.stream,
                event_type: encoded.event_type.to_owned(),
                schema_version: encoded.schema_version,
                recorded_at_ms: event.at.as_millis(),
                correlation_id: command_id,
                causation_id: command_id,
                payload: encoded.payload,
                idempotency_key: key,
            });
        }
        if batch.is_empty() {
            return Ok(Receipt::Appended { events: Vec::new() });
        }
        let outcome = self
            .store
            .append(AppendRequest {
                events: batch,
                expectations: Vec::new(),
            })
            .await;
        match outcome {
            Ok(AppendOutcome::Appended { first, .. }) => {
                let mut receipt = Vec::with_capacity(events.len());
                for (offset, event) in events.into_iter().enumerate() {
                    self.state.apply(&event);
                    receipt.push((Position(first.0 + offset as u64), event));
                }
                Ok(Receipt::Appended { events: receipt })
            }
            Ok(AppendOutcome::AlreadyAppended { position }) => self.duplicate_of(position).await,
            Err(error) => {
                if matches!(error, AppendError::Store(_)) {
                    self.stale = true;
                }
                Err(error.into())
            }
        }
    }
}
