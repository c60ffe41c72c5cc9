//! Live notifications over Server-Sent Events: an agent's stream (offers with the time left to
//! answer, messages, reminders, transfers, invitations, their presence) and a dashboard's stream
//! (conversations, queues and agents to redraw).
//!
//! Every message's `id` is a log position. A client that reconnects with `Last-Event-ID` (browsers
//! do it by themselves) or `?after=` gets everything after that position: the stream reads the
//! log up to the read models' checkpoint, then follows the pages the feed has applied, reading the
//! log again for any page it fell behind on. Positions at or below the last one sent are skipped,
//! so nothing is lost or sent twice. SSE rather than WebSocket: the traffic is one-way (commands
//! are plain requests), SSE reconnects and resumes on its own, and it passes every proxy that
//! passes HTTP. Which events concern whom is the read models' to say
//! (`projections::notifications`); this module only follows and formats.

use super::auth::Caller;
use super::extract::{Path, Query};
use super::queries::{known_agent, start_of_day};
use super::{ApiError, AppState};
use crate::engine::decode;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as Message, KeepAlive, Sse};
use event_store::{EventStore, Position};
use projections::ReadModels;
use projections::board::{BoardRow, BoardStatus};
use projections::notifications::{Touched, concerns_agent};
use projections::rights::Visible;
use routing_core::{AgentId, Event, EventKind, KeyId, Timestamp};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

/// How many events are read from the log per page while catching up.
const CATCH_UP_PAGE: usize = 1024;
/// How many messages may wait for a slow client before the stream waits for it.
const BUFFERED_MESSAGES: usize = 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this position (as `Last-Event-ID` does; the header wins). Without either, the
    /// stream starts at the read models' position: only what happens from now on.
    pub after: Option<u64>,
}

type Stream =
    Sse<axum::response::sse::KeepAliveStream<ReceiverStream<Result<Message, Infallible>>>>;

/// `GET /v1/agents/{agent}/stream`: what the agent's console must hear about.
#[utoipa::path(
    get,
    path = "/v1/agents/{agent}/stream",
    tag = "streams",
    params(("agent" = String, Path), StreamQuery),
    responses((status = 200, description = "a stream of Server-Sent Events", content_type = "text/event-stream"))
)]
pub async fn agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Stream, ApiError> {
    let agent = known_agent(&state, agent)?;
    caller.acts_as(&agent)?;
    let after = start(&state, &headers, query.after)?;
    let clock = state.clock.clone();
    // The queues the agent has rights to now: the log says whom a queue's waiting list concerns
    // (who is logged in), and the configuration, which may have changed since, has the last word.
    let rights = state
        .config
        .agents
        .get(&agent)
        .map(|a| a.rights())
        .unwrap_or_default();
    Ok(follow(
        state,
        caller.key,
        Some(agent.clone()),
        after,
        move |models, events| {
            let now = clock.now();
            events
                .iter()
                .filter(|item| match item.audience {
                    Some(audience) => audience.binary_search(&agent).is_ok(),
                    None => concerns_agent(models, &agent, item.event),
                })
                .filter(|item| match &item.event.kind {
                    EventKind::ConversationEnqueued(e) => rights.contains(&e.queue),
                    _ => true,
                })
                .filter_map(|item| notice(models, item.position, item.event, now))
                .collect()
        },
    ))
}

/// One event an agent hears about: the event as the log holds it, with what a console needs
/// beside it.
#[derive(Debug, Serialize)]
struct Notice<'a> {
    position: u64,
    #[serde(rename = "type")]
    event_type: &'static str,
    time: String,
    payload: Box<serde_json::value::RawValue>,
    /// For offers, transfers and invitations: how long is left to answer (0 once it expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    time_left_ms: Option<u64>,
    /// For offers, transfers and invitations: the conversation as it stands, so that the
    /// console can show whom and what it is about without asking.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<&'a projections::conversations::ConversationSummary>,
}

fn notice(models: &ReadModels, position: u64, event: &Event, now: Timestamp) -> Option<Message> {
    let expires_at = match &event.kind {
        EventKind::ConversationOffered(e) => Some(e.expires_at),
        EventKind::TransferOffered(e) => Some(e.expires_at),
        EventKind::InviteOffered(e) => Some(e.expires_at),
        _ => None,
    };
    // The payload as the log stores it: JSON already, passed through without a second parse.
    let payload = routing_core::codec::encode(event)
        .ok()
        .and_then(|encoded| String::from_utf8(encoded.payload).ok())
        .and_then(|json| serde_json::value::RawValue::from_string(json).ok())?;
    let body = Notice {
        position,
        event_type: event.kind.name(),
        time: projections::rfc3339::format(event.at),
        payload,
        time_left_ms: expires_at.map(|at| at.millis_since(now)),
        conversation: expires_at
            .and(event.kind.conversation())
            .and_then(|c| models.conversations.get(&c)),
    };
    Message::default()
        .id(position.to_string())
        .event(event.kind.name())
        .json_data(body)
        .ok()
}

/// `GET /v1/dashboard/stream`: after each run of events, the conversations (as board rows),
/// queues (their figures for today) and agents it changed, within the caller's rights.
#[utoipa::path(
    get,
    path = "/v1/dashboard/stream",
    tag = "streams",
    params(StreamQuery),
    responses((status = 200, description = "a stream of Server-Sent Events", content_type = "text/event-stream"))
)]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Stream, ApiError> {
    let visible = caller.rights(&state.config)?;
    let after = start(&state, &headers, query.after)?;
    let clock = state.clock.clone();
    Ok(follow(
        state,
        caller.key,
        None,
        after,
        move |models, events| {
            let mut touched = Touched::default();
            for item in events {
                touched.add(models, item.event);
            }
            let Some(last) = events.last() else {
                return Vec::new();
            };
            redraw(models, &touched, &visible, last.position, clock.now())
        },
    ))
}

fn redraw(
    models: &ReadModels,
    touched: &Touched,
    visible: &Visible,
    position: u64,
    now: Timestamp,
) -> Vec<Message> {
    let mut messages: Vec<Message> = Vec::new();
    for conversation in &touched.conversations {
        if let Some(summary) = models.conversations.get(conversation)
            && visible.sees_conversation(summary)
        {
            let row = BoardRow {
                board_status: BoardStatus::of(summary),
                conversation: summary.clone(),
            };
            messages.extend(message("conversation", &row));
        }
    }
    let figures = models.queues.figures(
        &touched.queues,
        &models.waiting,
        visible,
        start_of_day(now),
        now,
    );
    for queue in &figures {
        messages.extend(message("queue", queue));
    }
    for agent in &touched.agents {
        if visible.users.allows(agent)
            && let Some(summary) = models.agents.get(agent)
        {
            messages.extend(message("agent", summary));
        }
    }
    // The position goes on the last message only: a client cut off half-way through a run
    // resumes before it and is sent the whole run again.
    let checkpoint = Message::default()
        .id(position.to_string())
        .event("position")
        .data(position.to_string());
    messages.push(checkpoint);
    messages
}

/// A dashboard message without an id: the run's last message carries it.
fn message(kind: &str, body: &impl Serialize) -> Option<Message> {
    Message::default().event(kind).json_data(body).ok()
}

/// Where a stream starts: `Last-Event-ID`, else `?after=`, else the read models' position.
/// How far back a stream may resume: a console gone longer reloads its state from the queries
/// instead (reading a long stretch of the log back would hold up everyone's notifications).
pub const RESUME_WINDOW: u64 = 100_000;

fn start(state: &AppState, headers: &HeaderMap, after: Option<u64>) -> Result<u64, ApiError> {
    let last = headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::BadRequest("Last-Event-ID must be a log position".to_owned())
                })
        })
        .transpose()?;
    let checkpoint = state.views.checkpoint();
    let Some(from) = last.or(after) else {
        return Ok(checkpoint);
    };
    let head = state.store.head().borrow().0;
    if from > head {
        return Err(ApiError::BadRequest(format!(
            "position {from} is beyond the log's head ({head})"
        )));
    }
    if checkpoint.saturating_sub(from) > RESUME_WINDOW {
        return Err(ApiError::Gone(format!(
            "cannot resume from position {from}: more than {RESUME_WINDOW} events ago; read the current state from the queries and reconnect without Last-Event-ID"
        )));
    }
    Ok(from)
}

/// Starts the task that follows the log from `after` and sends what `render` makes of each run
/// of events, until the client goes away or the server stops.
fn follow<F>(
    state: AppState,
    key: KeyId,
    only_for: Option<AgentId>,
    after: u64,
    render: F,
) -> Stream
where
    F: FnMut(&ReadModels, &[Item<'_>]) -> Vec<Message> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(BUFFERED_MESSAGES);
    // A first line at once: some browsers (Firefox) hold a response back from the page until
    // its first bytes arrive, which would leave a quiet stream looking cut off until the
    // keep-alive. The channel is new and empty, so this cannot fail for want of room.
    let _ = tx.try_send(Ok(Message::default().comment("connected")));
    let open = state.metrics.streams.clone();
    open.inc();
    tokio::spawn(async move {
        let stopping = state.shutdown.clone();
        let mut follower = Follower {
            state,
            key,
            only_for,
            after,
            render,
            tx,
            stopping,
        };
        if let Err(error) = follower.run().await {
            tracing::warn!(%error, "a live stream stopped");
        }
        open.dec();
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}

/// One event for a stream to render.
pub struct Item<'a> {
    position: u64,
    event: &'a Event,
    /// Whom it concerns, as the feed worked out when it applied it; `None` for events read back
    /// from the log while catching up (worked out then against the views as they are).
    audience: Option<&'a [AgentId]>,
}

struct Follower<F> {
    state: AppState,
    /// The key the stream was opened with: once it is revoked, the stream ends.
    key: KeyId,
    /// For an agent's stream, the agent: pages that do not concern them are skipped unread.
    only_for: Option<AgentId>,
    stopping: tokio::sync::watch::Receiver<bool>,
    /// The last position sent.
    after: u64,
    render: F,
    tx: mpsc::Sender<Result<Message, Infallible>>,
}

/// Why a stream ended other than by the client leaving or the server stopping.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error(transparent)]
    Store(#[from] event_store::StoreError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

impl<F> Follower<F>
where
    F: FnMut(&ReadModels, &[Item<'_>]) -> Vec<Message> + Send + 'static,
{
    async fn run(&mut self) -> Result<(), FollowError> {
        // Listening before catching up, so that nothing applied meanwhile is missed.
        let mut live = self.state.views.applied();
        let mut stopping = self.stopping.clone();
        let checkpoint = self.state.views.checkpoint();
        if !self.catch_up(checkpoint).await? {
            return Ok(());
        }
        loop {
            let page = tokio::select! {
                page = live.recv() => page,
                _ = stopping.wait_for(|stop| *stop) => return Ok(()),
                () = self.tx.closed() => return Ok(()),
            };
            let page = match page {
                Ok(page) => page,
                // Fell behind: the log has what was dropped, up to the views' checkpoint.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let checkpoint = self.state.views.checkpoint();
                    if !self.catch_up(checkpoint).await? {
                        return Ok(());
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            };
            let Some(&(first, _, _)) = page.events.first() else {
                continue;
            };
            if first > self.after + 1 && !self.catch_up(first - 1).await? {
                return Ok(());
            }
            // An agent's stream skips a page none of whose events concern the agent without
            // taking the views' lock: with many agents, most pages are someone else's.
            if let Some(agent) = &self.only_for
                && page.audiences.len() == page.events.len()
                && !page
                    .audiences
                    .iter()
                    .any(|audience| audience.binary_search(agent).is_ok())
            {
                if let Some(&(last, _, _)) = page.events.last() {
                    self.after = self.after.max(last);
                }
                continue;
            }
            // Borrowed from the page every stream shares: never copied per stream.
            let events: Vec<Item<'_>> = page
                .events
                .iter()
                .enumerate()
                .filter(|(_, (position, _, _))| *position > self.after)
                .map(|(n, (position, _, event))| Item {
                    position: *position,
                    event,
                    audience: page.audiences.get(n).map(Vec::as_slice),
                })
                .collect();
            if !self.send(&events).await {
                return Ok(());
            }
        }
    }

    /// Sends what the log holds after the last position sent, up to `to`. False once the client
    /// has gone.
    async fn catch_up(&mut self, to: u64) -> Result<bool, FollowError> {
        while self.after < to {
            let stored = self
                .state
                .store
                .read_all(Position(self.after), CATCH_UP_PAGE)
                .await?;
            let events = stored
                .iter()
                .take_while(|stored| stored.position.0 <= to)
                .map(|stored| {
                    decode(stored, &self.state.keyring).map(|event| (stored.position.0, event))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if events.is_empty() {
                break;
            }
            let events: Vec<Item<'_>> = events
                .iter()
                .map(|(position, event)| Item {
                    position: *position,
                    event,
                    audience: None,
                })
                .collect();
            if !self.send(&events).await {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Renders `events` against the views (which already hold them) and sends the messages.
    async fn send(&mut self, events: &[Item<'_>]) -> bool {
        let Some(last) = events.last().map(|item| item.position) else {
            return true;
        };
        let render = &mut self.render;
        let key = &self.key;
        let messages = self
            .state
            .views
            .read(None, std::time::Duration::ZERO, |models| {
                // A key revoked since the stream opened hears nothing more.
                models
                    .keys
                    .revocation(key)
                    .is_none()
                    .then(|| render(models, events))
            })
            .await
            .ok()
            .flatten();
        let Some(messages) = messages else {
            tracing::info!(key = %self.key, "a live stream ended: its key was revoked");
            return false;
        };
        for message in messages {
            // A slow client must not hold up a stopping server.
            let sent = tokio::select! {
                sent = self.tx.send(Ok(message)) => sent.is_ok(),
                _ = self.stopping.wait_for(|stop| *stop) => false,
            };
            if !sent {
                return false;
            }
        }
        self.after = last;
        true
    }
}
