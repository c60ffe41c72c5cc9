//! The engine: the single writer of a contact centre's log.
//!
//! One task owns the routing core's state. For each command it takes the time, has the core
//! execute it (a rejection changes nothing), and appends the events before answering; if the
//! append fails, the state is rebuilt from the log before the next command, so what callers are
//! told always matches the log. Commands are handled one at a time: that is what makes races
//! impossible by construction. Between commands it sleeps until the core's next deadline and then
//! fires it with a `Tick`. This module must never decide anything itself; rules live in
//! `routing-core`.

use crate::clock::Clock;
use crate::http::EngineMetrics;
use crate::keyring::{self, Keyring, Resolved};
use event_store::vault::{AnyVault, ContactKey, Vault};
use event_store::{
    AppendError, AppendOutcome, AppendRequest, EventStore, NewEvent, Position, StoreError,
    WriterEpoch,
};
use routing_core::codec::{self, DecodeError};
use routing_core::{
    CentreConfig, Command, Context, ConversationId, Event, Rejection, State, Timestamp,
};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// How many commands may wait for the engine before callers are told it is busy.
const QUEUE_DEPTH: usize = 1024;
/// How long to wait before firing deadlines again after a failure.
const TICK_RETRY_MS: i64 = 1_000;
/// The most commands decided together and appended in one batch, and the most events a batch
/// grows to before it is appended (the store takes at most `MAX_EVENTS_PER_APPEND` at once).
const MAX_BATCH_COMMANDS: usize = 256;
const MAX_BATCH_EVENTS: usize = event_store::MAX_EVENTS_PER_APPEND / 2;
/// How many times in a row a batch refused as already appended is decided again.
const MAX_REQUEUES: u32 = 3;
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
    #[error("personal data could not be sealed: {0}")]
    Sealing(#[from] keyring::SealingError),
    #[error("the engine is busy; try again")]
    Busy,
    #[error("the engine has stopped")]
    Stopped,
    /// The engine stopped on a fatal error, already answered to the command that met it.
    #[error("{0}")]
    Halted(String),
    /// What failed a batch, told to every command in it.
    #[error(transparent)]
    Batch(Arc<EngineError>),
}

impl EngineError {
    /// Whether the engine cannot go on: the store has failed or shut down, or the log cannot be
    /// read back. The server stops rather than answer from a state it cannot trust.
    pub fn is_fatal(&self) -> bool {
        match self {
            EngineError::Batch(inner) => return inner.is_fatal(),
            EngineError::Halted(_) => return true,
            _ => {}
        }
        matches!(
            self,
            EngineError::Store(
                StoreError::Failed(_) | StoreError::Closed | StoreError::Corrupt { .. }
            ) | EngineError::Append(AppendError::Store(
                StoreError::Failed(_) | StoreError::Closed | StoreError::Corrupt { .. }
            )) | EngineError::Append(AppendError::Fenced { .. })
                | EngineError::Decode { .. }
        )
    }
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
    reply: oneshot::Sender<Result<Receipt, EngineError>>,
}

/// A handle to the engine task; cheap to clone. When every handle is dropped the task finishes
/// the command in hand and stops.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Job>,
}

impl Engine {
    /// Claims the log as its writer, replays it into a fresh state and starts the writer task.
    /// The claim comes first: from then on a server that wrote to this log before is refused,
    /// so the replay sees everything that server will ever have written.
    pub async fn start<S: EventStore + Clone>(
        config: CentreConfig,
        store: S,
        privacy: Privacy,
        clock: Arc<dyn Clock>,
        metrics: EngineMetrics,
    ) -> Result<(Self, tokio::task::JoinHandle<Result<(), EngineError>>), EngineError> {
        let epoch = store.claim_writer().await?;
        tracing::info!(%epoch, "claimed the log as its writer");
        privacy.load().await?;
        let mut anonymised = Vec::new();
        let state = replay(config.clone(), &store, &privacy.keyring, &mut anonymised).await?;
        tracing::info!(
            events = state.events_applied(),
            "routing state rebuilt from the log"
        );
        // An erasure recorded just before a crash may not have shredded its key yet.
        for subject in anonymised {
            if privacy.keyring.holds(&subject) {
                privacy.shred(&subject).await?;
            }
        }
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        let writer = Writer {
            config,
            state,
            store,
            privacy,
            clock,
            epoch,
            stale: false,
            requeued: 0,
            metrics,
        };
        let task = tokio::spawn(writer.run(queue));
        Ok((Self { jobs }, task))
    }

    /// Submits a command and waits for its outcome. A redelivered inbound message is answered
    /// as a duplicate and appends nothing.
    pub async fn execute(&self, command: Command) -> Result<Receipt, EngineError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { command, reply };
        self.jobs.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => EngineError::Busy,
            mpsc::error::TrySendError::Closed(_) => EngineError::Stopped,
        })?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }
}

/// The contacts' keys: in memory for sealing and opening, and their durable vault.
#[derive(Clone)]
pub struct Privacy {
    pub keyring: Arc<Keyring>,
    pub vault: AnyVault,
}

impl Privacy {
    /// The vault, with an empty keyring until [`Privacy::load`].
    pub fn new(vault: AnyVault) -> Self {
        Self {
            keyring: Arc::new(Keyring::default()),
            vault,
        }
    }

    /// Loads every key the vault keeps into the keyring. The engine does so only once it has
    /// claimed the log: a writer before it may have kept keys until then.
    pub async fn load(&self) -> Result<(), StoreError> {
        for entry in self.vault.load().await? {
            self.keyring.insert(entry);
        }
        Ok(())
    }

    /// Shreds a subject's key for good. Memory first: from then on nothing opens what it
    /// sealed, and its handle is nobody, even if the vault cannot be reached now (every start
    /// shreds again what the log says was erased).
    async fn shred(&self, subject: &str) -> Result<(), EngineError> {
        self.keyring.forget(subject);
        self.vault.shred(subject).await?;
        tracing::info!("a contact's key was shredded");
        Ok(())
    }
}

/// Rebuilds the core's state from the whole log; the subjects of the erasures it meets are
/// pushed to `anonymised`.
pub async fn replay<S: EventStore>(
    config: CentreConfig,
    store: &S,
    keyring: &Keyring,
    anonymised: &mut Vec<String>,
) -> Result<State, EngineError> {
    let mut state = State::new(config);
    let mut after = Position(0);
    loop {
        let page = store.read_all(after, REPLAY_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(state);
        };
        after = last.position;
        for stored in &page {
            let event = decode(stored, keyring)?;
            if let routing_core::EventKind::ContactAnonymised(e) = &event.kind {
                anonymised.push(keyring::subject(&e.connector, &e.contact));
            }
            state.apply(&event);
        }
    }
}

/// Decodes a stored event into the core's event, its personal fields opened (or erased, where
/// their key was shredded).
pub fn decode(stored: &event_store::StoredEvent, keyring: &Keyring) -> Result<Event, EngineError> {
    let malformed = |source| EngineError::Decode {
        position: stored.position.0,
        source: DecodeError::Malformed {
            event_type: stored.event_type.clone(),
            source,
        },
    };
    let at = Timestamp::from_millis(stored.recorded_at_ms);
    match keyring
        .open(&stored.event_type, &stored.payload)
        .map_err(malformed)?
    {
        Some(opened) => codec::decode_value(&stored.event_type, stored.schema_version, opened, at),
        None => codec::decode(
            &stored.event_type,
            stored.schema_version,
            &stored.payload,
            at,
        ),
    }
    .map_err(|source| EngineError::Decode {
        position: stored.position.0,
        source,
    })
}

struct Writer<S> {
    config: CentreConfig,
    state: State,
    store: S,
    privacy: Privacy,
    clock: Arc<dyn Clock>,
    /// This engine's claim on the log, presented with every append: once another server claims
    /// the log, this one's appends are refused and it stops.
    epoch: WriterEpoch,
    /// Set while the state holds events the log may not: after a failed append, the state is
    /// rebuilt from the log before the next command.
    stale: bool,
    /// How many times in a row a batch was refused as already appended and decided again.
    requeued: u32,
    metrics: EngineMetrics,
}

/// A command decided in a batch, waiting for the batch's append.
struct Pending {
    command: Command,
    reply: oneshot::Sender<Result<Receipt, EngineError>>,
    outcome: PendingOutcome,
    /// How many of the batch's events precede its answer (its own included): once that many
    /// are durable, it may be answered.
    end: usize,
}

/// Why a batch's appends stopped before its end.
enum Failure {
    /// A message was already stored: rebuild and decide the rest again.
    Again(Position),
    Failed(Arc<EngineError>),
    /// The log answered something impossible: the engine stops.
    Fatal(Arc<EngineError>),
}

enum PendingOutcome {
    /// Its events, the first at this offset in the batch.
    Events { events: Vec<Event>, offset: usize },
    /// A redelivery of a message earlier in the same batch, whose event is at this offset.
    Duplicate { offset: usize, original: Event },
    /// Decided with nothing to append (refused, or nothing to do), but against a state that held
    /// the batch's earlier events: told only once those are durable, and failed with them.
    Held(Result<Receipt, EngineError>),
}

impl<S: EventStore> Writer<S> {
    async fn run(mut self, mut queue: mpsc::Receiver<Job>) -> Result<(), EngineError> {
        // A configuration that changed since the log was written (more capacity, new agents)
        // takes effect before the first command.
        self.own(Command::Rebalance).await?;
        // After a failed tick, wait a little before the next so a failing store is not hammered.
        let mut tick_retry_at: Option<Timestamp> = None;
        loop {
            let due = match (self.state.next_deadline(), tick_retry_at) {
                (Some(deadline), Some(retry)) => Some(deadline.max(retry)),
                (deadline, _) => deadline,
            };
            let sleep = async {
                match due {
                    Some(due) => {
                        let wait = due.millis_since(self.clock.now());
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                job = queue.recv() => {
                    let Some(job) = job else { break };
                    let mut jobs = vec![job];
                    while jobs.len() < MAX_BATCH_COMMANDS {
                        match queue.try_recv() {
                            Ok(job) => jobs.push(job),
                            Err(_) => break,
                        }
                    }
                    while !jobs.is_empty() {
                        jobs = match self.handle_batch(jobs).await {
                            Ok(rest) => rest,
                            Err(error) => {
                                tracing::error!(%error, "the engine stops");
                                return Err(EngineError::Halted(error));
                            }
                        };
                    }
                }
                () = sleep => {
                    match self.own(Command::Tick).await {
                        Ok(_) => tick_retry_at = None,
                        Err(error) if error.is_fatal() => {
                            tracing::error!(%error, "the engine stops");
                            return Err(error);
                        }
                        Err(error) => {
                            tracing::error!(%error, "firing due deadlines failed; retrying shortly");
                            tick_retry_at = Some(Timestamp::from_millis(
                                self.clock.now().as_millis() + TICK_RETRY_MS,
                            ));
                        }
                    }
                }
            }
        }
        tracing::info!("engine stopped");
        Ok(())
    }

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
            original: decode(&stored, &self.privacy.keyring)?,
        })
    }

    /// Decides `jobs` against the state in turn, appends all their events in one append, and
    /// answers each. Commands arrive faster than a disk syncs, so one sync then serves many
    /// commands: this is the engine's group commit. The idempotency keys of the inbound messages
    /// among them are looked up in the log in one call. Rejections and redeliveries are answered
    /// at once; the rest only once the batch is durable, and all fail together if it is not (the
    /// state is then rebuilt from the log). Returns the jobs left for the next batch (when this
    /// one grew to its event limit), or the error that must stop the engine.
    async fn handle_batch(&mut self, jobs: Vec<Job>) -> Result<Vec<Job>, String> {
        let mut minted: Vec<ContactKey> = Vec::new();
        let result = self.decide_batch(jobs, &mut minted).await;
        // Whatever is left was never kept in the vault, so nothing stored is sealed under it.
        for entry in &minted {
            self.privacy.keyring.forget(&entry.pseudonym);
        }
        result
    }

    /// [`Self::handle_batch`]'s work. Keys made for new contacts are pushed to `minted`, and
    /// taken out of it once they are kept in the vault (before anything sealed under them is
    /// appended).
    async fn decide_batch(
        &mut self,
        jobs: Vec<Job>,
        minted: &mut Vec<ContactKey>,
    ) -> Result<Vec<Job>, String> {
        if self.stale {
            let keyring = Arc::clone(&self.privacy.keyring);
            match replay(self.config.clone(), &self.store, &keyring, &mut Vec::new()).await {
                Ok(state) => {
                    self.state = state;
                    self.stale = false;
                }
                Err(error) => {
                    let fatal = error.to_string();
                    for job in jobs {
                        let _ = job.reply.send(Err(EngineError::Stopped));
                    }
                    return Err(fatal);
                }
            }
        }
        // Customers become pseudonyms first: the idempotency keys and the state never hold a
        // handle. A job keeps the command as it came, so that one decided again (in the next
        // batch) is resolved again, against the keys as they are then.
        let mut keyed: Vec<(Job, Command, Option<String>)> = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut command = job.command.clone();
            if let Err(error) = self.resolve_contact(&mut command, minted) {
                let _ = job.reply.send(Err(error.into()));
                continue;
            }
            // Keys first (a malformed message is refused here), then one lookup for all.
            match self.state.idempotency_key(&command) {
                Ok(key) => keyed.push((job, command, key)),
                Err(rejection) => {
                    let _ = job.reply.send(Err(rejection.into()));
                }
            }
        }
        let wanted: Vec<String> = keyed.iter().filter_map(|(_, _, key)| key.clone()).collect();
        let mut stored = match self.store.find_idempotency_keys(&wanted).await {
            Ok(found) => found.into_iter(),
            Err(error) => {
                let error = Arc::new(EngineError::from(error));
                for (job, _, _) in keyed {
                    let _ = job.reply.send(Err(EngineError::Batch(Arc::clone(&error))));
                }
                return if error.is_fatal() {
                    Err(error.to_string())
                } else {
                    Ok(Vec::new())
                };
            }
        };
        let mut batch: Vec<NewEvent> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut keys_in_batch: std::collections::HashMap<String, (usize, Event)> =
            std::collections::HashMap::new();
        let mut failed: Option<EngineError> = None;
        let mut rest: Vec<Job> = Vec::new();
        let mut keyed = keyed.into_iter();
        for (job, command, key) in keyed.by_ref() {
            let known = match &key {
                Some(_) => stored.next().flatten(),
                None => None,
            };
            match self
                .decide(command, key, known, &mut batch, &mut keys_in_batch, minted)
                .await
            {
                // Nothing undurable decided yet: the answer rests on the log alone.
                Ok(Decided::Answer(receipt)) if batch.is_empty() => {
                    // A caller that gave up waiting does not undo the command.
                    let _ = job.reply.send(Ok(receipt));
                }
                Ok(Decided::Answer(receipt)) => pending.push(Pending {
                    command: job.command,
                    reply: job.reply,
                    outcome: PendingOutcome::Held(Ok(receipt)),
                    end: batch.len(),
                }),
                Ok(Decided::Pending(outcome)) => {
                    let erasure = matches!(&outcome, PendingOutcome::Events { events, .. }
                        if events.iter().any(|e| matches!(e.kind, routing_core::EventKind::ContactAnonymised(_))));
                    pending.push(Pending {
                        command: job.command,
                        reply: job.reply,
                        outcome,
                        end: batch.len(),
                    });
                    // The erased contact's key is shredded once this batch is durable: what
                    // follows is resolved only then, so that nothing more is sealed under it.
                    if erasure {
                        break;
                    }
                }
                Err(DecideError::Refused(error)) if !error.is_fatal() && !batch.is_empty() => {
                    pending.push(Pending {
                        command: job.command,
                        reply: job.reply,
                        outcome: PendingOutcome::Held(Err(error)),
                        end: batch.len(),
                    });
                }
                Err(DecideError::Refused(error)) => {
                    let fatal = error.is_fatal().then(|| error.to_string());
                    let _ = job.reply.send(Err(error));
                    if let Some(fatal) = fatal {
                        return Err(fatal);
                    }
                }
                // The state holds events that cannot be stored: nothing of this batch may be.
                Err(DecideError::Poisoned(error)) => {
                    let _ = job.reply.send(Err(EngineError::Batch(Arc::clone(&error))));
                    failed = Some(EngineError::Batch(error));
                    break;
                }
            }
            if batch.len() >= MAX_BATCH_EVENTS {
                break;
            }
        }
        // What the event limit left over is decided in the next batch (its keys looked up again
        // then: this batch's messages will be in the log by then).
        rest.extend(keyed.map(|(job, _, _)| job));
        if pending.is_empty() {
            return Ok(rest);
        }
        if let Some(error) = failed {
            for p in pending {
                let _ = p.reply.send(Err(match &error {
                    EngineError::Batch(inner) => EngineError::Batch(Arc::clone(inner)),
                    _ => EngineError::Stopped,
                }));
            }
            return Ok(rest);
        }
        // Appended in as few appends as the store's limit allows, cut between commands (a
        // command's events are always appended together). Each append continues the last, the
        // engine being the only writer.
        let total = batch.len();
        let mut cuts: Vec<usize> = Vec::new();
        let mut chunk_start = 0;
        let mut last_end = 0;
        for p in &pending {
            if p.end - chunk_start > event_store::MAX_EVENTS_PER_APPEND && last_end > chunk_start {
                cuts.push(last_end);
                chunk_start = last_end;
            }
            last_end = p.end;
        }
        cuts.push(total);
        let mut durable = 0;
        let mut first_position: Option<u64> = None;
        let mut failure: Option<Failure> = None;
        if !minted.is_empty() {
            match self.privacy.vault.keep(minted).await {
                Ok(()) => minted.clear(),
                Err(error) => {
                    failure = Some(Failure::Failed(Arc::new(EngineError::from(error))));
                    cuts.clear();
                }
            }
        }
        let mut unsent = batch;
        for cut in cuts {
            let chunk: Vec<NewEvent> = unsent.drain(..cut - durable).collect();
            let size = chunk.len() as u64;
            let started = std::time::Instant::now();
            let outcome = self
                .store
                .append(AppendRequest {
                    events: chunk,
                    expectations: Vec::new(),
                    writer: Some(self.epoch),
                })
                .await;
            self.metrics
                .append_seconds
                .observe(started.elapsed().as_secs_f64());
            match outcome {
                Ok(AppendOutcome::Appended { first, last })
                    if last.0 - first.0 + 1 == size
                        && first_position.is_none_or(|f| first.0 == f + durable as u64) =>
                {
                    first_position.get_or_insert(first.0);
                    durable = cut;
                }
                Ok(AppendOutcome::Appended { first, last }) => {
                    failure = Some(Failure::Fatal(Arc::new(EngineError::from(
                        StoreError::Corrupt {
                            position: first.0,
                            reason: format!(
                                "{size} events were appended at positions {first} to {last}"
                            ),
                        },
                    ))));
                    break;
                }
                // A message was stored meanwhile by another writer (a race the key lookup
                // cannot see): nothing of this append was stored.
                Ok(AppendOutcome::AlreadyAppended { position }) => {
                    failure = Some(Failure::Again(position));
                    break;
                }
                Err(error) => {
                    failure = Some(Failure::Failed(Arc::new(EngineError::from(error))));
                    break;
                }
            }
        }
        self.metrics.batch_commands.observe(pending.len() as f64);
        if durable == total {
            self.stale = false;
            self.requeued = 0;
        }
        // Refused as already stored too often: the lookup and the store disagree about a key;
        // do not loop on it.
        if let Some(Failure::Again(position)) = &failure {
            self.requeued += 1;
            if self.requeued > MAX_REQUEUES {
                self.requeued = 0;
                failure = Some(Failure::Failed(Arc::new(EngineError::from(
                    StoreError::Corrupt {
                        position: position.0,
                        reason: "the log refused a batch as already stored, again and again".into(),
                    },
                ))));
            }
        }
        let first = first_position.unwrap_or(0);
        let mut again: Vec<Job> = Vec::new();
        for p in pending {
            // What the log holds is answered; the rest failed with the append that failed, or is
            // decided again after a rebuild.
            if p.end <= durable {
                let receipt = match p.outcome {
                    PendingOutcome::Held(outcome) => {
                        let _ = p.reply.send(outcome);
                        continue;
                    }
                    PendingOutcome::Events { events, offset } => {
                        // An erasure is answered once its key is gone.
                        for event in &events {
                            if let routing_core::EventKind::ContactAnonymised(e) = &event.kind {
                                let subject = keyring::subject(&e.connector, &e.contact);
                                if let Err(error) = self.privacy.shred(&subject).await {
                                    tracing::error!(%error, "shredding a key failed; retried at the next start");
                                }
                            }
                        }
                        Receipt::Appended {
                            events: events
                                .into_iter()
                                .enumerate()
                                .map(|(n, event)| (Position(first + (offset + n) as u64), event))
                                .collect(),
                        }
                    }
                    PendingOutcome::Duplicate { offset, original } => Receipt::Duplicate {
                        position: Position(first + offset as u64),
                        original,
                    },
                };
                let _ = p.reply.send(Ok(receipt));
                continue;
            }
            match &failure {
                Some(Failure::Again(_)) => again.push(Job {
                    command: p.command,
                    reply: p.reply,
                }),
                Some(Failure::Failed(error) | Failure::Fatal(error)) => {
                    let _ = p.reply.send(Err(EngineError::Batch(Arc::clone(error))));
                }
                None => {
                    let _ = p.reply.send(Err(EngineError::Stopped));
                }
            }
        }
        match failure {
            Some(Failure::Fatal(error)) => Err(error.to_string()),
            Some(Failure::Failed(error)) if error.is_fatal() => Err(error.to_string()),
            _ => {
                again.extend(rest);
                Ok(again)
            }
        }
    }

    /// Decides one command of a batch: its events join `batch`, or it is answered at once.
    /// `stored` is where the log holds the command's idempotency key, if it does.
    async fn decide(
        &mut self,
        command: Command,
        idempotency_key: Option<String>,
        stored: Option<Position>,
        batch: &mut Vec<NewEvent>,
        keys_in_batch: &mut std::collections::HashMap<String, (usize, Event)>,
        minted: &mut Vec<ContactKey>,
    ) -> Result<Decided, DecideError> {
        if let Some(key) = &idempotency_key
            && let Some((offset, original)) = keys_in_batch.get(key)
        {
            return Ok(Decided::Pending(PendingOutcome::Duplicate {
                offset: *offset,
                original: original.clone(),
            }));
        }
        if let Some(position) = stored {
            return Ok(Decided::Answer(self.duplicate_of(position).await?));
        }
        let context = Context {
            now: self.clock.now(),
            new_conversation_id: ConversationId::from_uuid(Uuid::now_v7()),
        };
        let events = self
            .state
            .execute(command, &context)
            .map_err(EngineError::from)?;
        if events.is_empty() {
            return Ok(Decided::Answer(Receipt::Appended { events: Vec::new() }));
        }
        // From here on the state holds the events: until they are durable it must be rebuilt
        // should anything fail.
        self.stale = true;
        let offset = batch.len();
        let encoded = encode_batch(
            &events,
            idempotency_key.as_deref(),
            &self.state,
            &self.privacy.keyring,
            minted,
        )
        .map_err(|e| DecideError::Poisoned(Arc::new(e)))?;
        if let Some(key) = idempotency_key
            && let Some(n) = encoded.iter().position(|e| e.idempotency_key.is_some())
        {
            keys_in_batch.insert(key, (offset + n, events[n].clone()));
        }
        batch.extend(encoded);
        Ok(Decided::Pending(PendingOutcome::Events { events, offset }))
    }

    /// Replaces the handle a command names with the customer's pseudonym, giving them one if
    /// the command may introduce them; the handle itself travels on only in sealed fields.
    fn resolve_contact(
        &self,
        command: &mut Command,
        minted: &mut Vec<ContactKey>,
    ) -> Result<(), keyring::SealingError> {
        let Some(slot) = command.contact_mut() else {
            return Ok(());
        };
        let handle = slot.contact.as_str().to_owned();
        // A contact the state already knows by their handle wrote before pseudonyms: they keep
        // routing on it, so their open conversation and reply window carry on.
        let legacy = self
            .state
            .contact_wrote_at(slot.connector, slot.contact)
            .is_some()
            || self
                .state
                .open_conversation_of(slot.connector, slot.contact)
                .is_some();
        let routing =
            match self
                .privacy
                .keyring
                .resolve(slot.connector, &handle, legacy, slot.introduces)?
            {
                Resolved::Known(id) => id,
                Resolved::Minted(id, entry) => {
                    minted.push(entry);
                    id
                }
                Resolved::Unknown(id) => {
                    *slot.contact = id;
                    return Ok(());
                }
            };
        *slot.contact = routing;
        if let Some(carried) = slot.handle {
            *carried = Some(handle);
        }
        Ok(())
    }

    /// A command of the engine's own (a tick, a rebalance), decided like any other.
    async fn own(&mut self, command: Command) -> Result<Receipt, EngineError> {
        let (reply, mut answer) = oneshot::channel();
        let mut jobs = vec![Job { command, reply }];
        while !jobs.is_empty() {
            jobs = self.handle_batch(jobs).await.map_err(EngineError::Halted)?;
        }
        answer.try_recv().map_err(|_| EngineError::Stopped)?
    }
}

/// What deciding one command of a batch came to.
enum Decided {
    /// Nothing to append: answer now.
    Answer(Receipt),
    Pending(PendingOutcome),
}

enum DecideError {
    /// Refused (or a duplicate's original could not be read): answered now, the batch goes on.
    Refused(EngineError),
    /// The state took events that cannot be stored: the batch must not be appended.
    Poisoned(Arc<EngineError>),
}

impl From<EngineError> for DecideError {
    fn from(error: EngineError) -> Self {
        DecideError::Refused(error)
    }
}

/// The store's form of a command's events. Only what a redelivery would repeat carries the
/// provider's id: the customer's message itself, or a receipt's first status change.
fn encode_batch(
    events: &[Event],
    idempotency_key: Option<&str>,
    state: &State,
    keyring: &Keyring,
    minted: &mut Vec<ContactKey>,
) -> Result<Vec<NewEvent>, EngineError> {
    let command_id = Uuid::now_v7();
    let mut idempotency_key = idempotency_key;
    let mut started = std::collections::HashMap::new();
    events
        .iter()
        .map(|event| {
            let encoded = codec::encode(event)?;
            let subject = keyring::subject_of(&event.kind, state, &started);
            if let (routing_core::EventKind::ConversationStarted(e), Some(subject)) =
                (&event.kind, &subject)
            {
                started.insert(e.conversation, subject.clone());
            }
            let payload = keyring.seal(
                encoded.event_type,
                subject.as_deref(),
                encoded.payload,
                minted,
            )?;
            let key = match &event.kind {
                routing_core::EventKind::CustomerMessageReceived(_)
                | routing_core::EventKind::MessageStatusChanged(_)
                | routing_core::EventKind::ReceiptHeld(_) => {
                    idempotency_key.take().map(str::to_owned)
                }
                _ => None,
            };
            Ok(NewEvent {
                event_id: Uuid::now_v7(),
                stream: encoded.stream,
                event_type: encoded.event_type.to_owned(),
                schema_version: encoded.schema_version,
                recorded_at_ms: event.at.as_millis(),
                correlation_id: command_id,
                causation_id: command_id,
                payload,
                idempotency_key: key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use event_store::embedded::EmbeddedStore;
    use routing_core::ids::{ExternalContactId, MessageId};
    use routing_core::{Channel, ConnectorId, EventKind};

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn keys(dir: &std::path::Path) -> Privacy {
        let vault = ok(event_store::vault::EmbeddedVault::open(dir));
        Privacy::new(AnyVault::Embedded(vault))
    }

    fn centre() -> CentreConfig {
        ok(crate::config_file::parse(
            std::path::Path::new("centre.toml"),
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n\
             [[agents]]\nid = \"ada\"\nqueues = [\"support\"]\ncapacity = { webchat = 1000 }\n\
             [[connectors]]\nid = \"web\"\nchannel = \"webchat\"\nqueue = \"support\"\n",
        ))
    }

    /// How many batches the engine appended, and how many commands they carried in all.
    fn batches_and_commands(metrics: &crate::http::Metrics) -> (f64, f64) {
        let mut body = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("batch", "", metrics.engine.batch_commands.clone());
        let _ = prometheus_client::encoding::text::encode(&mut body, &registry);
        let figure = |name: &str| -> f64 {
            body.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {body}"))
        };
        (figure("batch_count "), figure("batch_sum "))
    }

    fn message(visitor: &str, id: &str) -> Command {
        Command::ReceiveCustomerMessage {
            handle: None,
            connector: ConnectorId::new("web"),
            channel: Channel::Webchat,
            contact: ExternalContactId::new(visitor),
            contact_name: None,
            message_id: MessageId::new(id),
            text: "hello".into(),
            kind: routing_core::MessageKind::Text,
            attachments: Vec::new(),
        }
    }

    fn started_contact(receipt: &Receipt) -> ExternalContactId {
        receipt
            .events()
            .find_map(|event| match &event.kind {
                EventKind::ConversationStarted(e) => Some(e.contact.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no conversation started"))
    }

    /// An erasure and a message from the same handle decided together: the message is someone
    /// new (a new pseudonym, under a new key), never sealed under the key being shredded.
    #[tokio::test]
    async fn a_message_racing_an_erasure_of_its_handle_is_from_someone_new() {
        let dir = ok(tempfile::tempdir());
        let store = ok(EmbeddedStore::open(dir.path()));
        let privacy = keys(dir.path()).await;
        let (engine, _task) = ok(Engine::start(
            centre(),
            store.clone(),
            privacy.clone(),
            Arc::new(SystemClock),
            crate::http::Metrics::new().engine.clone(),
        )
        .await);
        let first = started_contact(&ok(engine.execute(message("v-1", "m-1")).await));
        ok(engine
            .execute(Command::CustomerLeft {
                connector: ConnectorId::new("web"),
                contact: ExternalContactId::new("v-1"),
            })
            .await);
        let erase = Command::AnonymiseContact {
            connector: ConnectorId::new("web"),
            contact: first.clone(),
            by: routing_core::KeyId::new("demo-admin"),
            interaction: None,
        };
        // Both queued before the engine polls: one batch, the erasure first.
        let (erased, again) =
            tokio::join!(engine.execute(erase), engine.execute(message("v-1", "m-2")));
        ok(erased);
        let again = ok(again);
        let second = started_contact(&again);
        assert_ne!(second, first);
        let subject = |contact| keyring::subject(&ConnectorId::new("web"), contact);
        assert!(!privacy.keyring.holds(&subject(&first)), "shredded");
        assert!(privacy.keyring.holds(&subject(&second)));
        let Receipt::Appended { events } = &again else {
            panic!("appended")
        };
        for (position, event) in events {
            let on_disk = ok(store.read_all(Position(position.0 - 1), 1).await);
            assert_eq!(
                &ok(decode(&on_disk[0], &privacy.keyring)),
                event,
                "opens at {position}"
            );
        }
    }

    /// Many commands at once are decided in batches: each is answered with exactly its own
    /// events at the positions the log holds them, a message delivered twice in one batch is
    /// stored once, and a restart rebuilds the same state.
    #[tokio::test]
    async fn concurrent_commands_share_appends_and_each_gets_its_own_positions() {
        let dir = ok(tempfile::tempdir());
        let store = ok(EmbeddedStore::open(dir.path()));
        let metrics = crate::http::Metrics::new();
        let privacy = keys(dir.path()).await;
        let (engine, _task) = ok(Engine::start(
            centre(),
            store.clone(),
            privacy.clone(),
            Arc::new(SystemClock),
            metrics.engine.clone(),
        )
        .await);
        let mut calls = Vec::new();
        for n in 0..200 {
            let engine = engine.clone();
            // Every tenth message is delivered twice, at the same moment.
            let copies = if n % 10 == 0 { 2 } else { 1 };
            for _ in 0..copies {
                let engine = engine.clone();
                calls.push(tokio::spawn(async move {
                    engine
                        .execute(message(&format!("v-{n}"), &format!("m-{n}")))
                        .await
                }));
            }
        }
        let mut stored = 0;
        let mut duplicates = 0;
        let mut positions = std::collections::BTreeSet::new();
        for call in calls {
            match ok(ok(call.await)) {
                Receipt::Appended { events } => {
                    stored += 1;
                    for (position, event) in events {
                        assert!(positions.insert(position.0), "position {position} twice");
                        let on_disk = ok(store.read_all(Position(position.0 - 1), 1).await);
                        assert_eq!(
                            ok(decode(&on_disk[0], &privacy.keyring)),
                            event,
                            "at {position}"
                        );
                    }
                }
                Receipt::Duplicate { original, .. } => {
                    duplicates += 1;
                    assert!(matches!(
                        original.kind,
                        EventKind::CustomerMessageReceived(_)
                    ));
                }
            }
        }
        assert_eq!((stored, duplicates), (200, 20));
        assert_eq!(positions.len() as u64, store.head().borrow().0);
        assert_eq!(
            positions.iter().copied().collect::<Vec<_>>(),
            (1..=positions.len() as u64).collect::<Vec<_>>(),
            "gapless"
        );
        let rebuilt = ok(replay(centre(), &store, &privacy.keyring, &mut Vec::new()).await);
        assert_eq!(rebuilt.events_applied(), positions.len() as u64);
        let (batches, commands) = batches_and_commands(&metrics);
        assert!(
            batches < commands,
            "{commands} commands in {batches} batches: some were decided together"
        );
    }

    /// Two commands whose events together pass the store's limit on one append are appended in
    /// two, each command's events together, and both callers are answered with the positions
    /// the log holds.
    #[tokio::test]
    async fn a_batch_larger_than_one_append_is_cut_between_commands() {
        let dir = ok(tempfile::tempdir());
        let store = ok(EmbeddedStore::open(dir.path()));
        let config = ok(crate::config_file::parse(
            std::path::Path::new("centre.toml"),
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n\
             [[agents]]\nid = \"ada\"\nqueues = [\"support\"]\ncapacity = { webchat = 400 }\n\
             [[agents]]\nid = \"bo\"\nqueues = [\"support\"]\ncapacity = { webchat = 700 }\n\
             [[connectors]]\nid = \"web\"\nchannel = \"webchat\"\nqueue = \"support\"\n",
        ));
        let metrics = crate::http::Metrics::new();
        let privacy = keys(dir.path()).await;
        let (engine, _task) = ok(Engine::start(
            config,
            store.clone(),
            privacy.clone(),
            Arc::new(SystemClock),
            metrics.engine.clone(),
        )
        .await);
        for n in 0..1300 {
            ok(engine
                .execute(message(&format!("v-{n}"), &format!("m-{n}")))
                .await);
        }
        for agent in ["ada", "bo"] {
            ok(engine
                .execute(Command::LogIn {
                    agent: routing_core::AgentId::new(agent),
                    queue: routing_core::QueueId::new("support"),
                })
                .await);
        }
        // Both go ready at once (queued in the same poll): one batch, 1,100 offers, more than
        // one append takes. Ada's 400 leave the batch under its limit, so Bo's join it.
        let ready = |agent: &str| Command::GoReady {
            agent: routing_core::AgentId::new(agent),
        };
        let (ada, bo) = tokio::join!(engine.execute(ready("ada")), engine.execute(ready("bo")));
        let mut offered = 0;
        for answer in [ada, bo] {
            let Receipt::Appended { events } = ok(answer) else {
                panic!("not a duplicate")
            };
            for (position, event) in &events {
                let on_disk = ok(store.read_all(Position(position.0 - 1), 1).await);
                assert_eq!(
                    &ok(decode(&on_disk[0], &privacy.keyring)),
                    event,
                    "at {position}"
                );
            }
            offered += events.len();
        }
        assert!(
            offered > event_store::MAX_EVENTS_PER_APPEND,
            "{offered} events"
        );
        assert_eq!(store.head().borrow().0, 1300 * 3 + 2 + offered as u64);
        // They were one batch: every earlier command came alone.
        let (batches, commands) = batches_and_commands(&metrics);
        assert_eq!(commands - batches, 1.0);
    }
}
