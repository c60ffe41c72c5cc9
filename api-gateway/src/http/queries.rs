//! Query endpoints: read models and a conversation's history from the log.

use super::ApiError;
use super::auth::Caller;
use super::extract::{Path, Query};
use crate::feed::READ_YOUR_WRITES_LIMIT;
use crate::http::AppState;
use axum::Json;
use axum::extract::State;
use event_store::EventStore;
use projections::agents::AgentSummary;
use projections::board::{BoardFilter, BoardRow, BoardStatus};
use projections::conversations::ConversationSummary;
use projections::focus::ActivityFocus;
use projections::missed::MissedRow;
use projections::postponed::PostponedRow;
use projections::queues::{QueueFigures, QueueSeries};
use projections::waiting::WaitingRow;
use routing_core::event::StreamOf;
use routing_core::{AgentId, Channel, ConversationId, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every query accepts `after`: wait (briefly) until the read models include that position.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Consistency {
    pub after: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "the answer"))
)]
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// How far behind the log the read models may be for the server to call itself ready.
pub const READY_LAG: u64 = 10_000;

/// Ready to serve: the read models are no more than [`READY_LAG`] events behind the log (a load
/// balancer should send nobody to a server still catching up).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, description = "the answer"))
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let head = state.store.head().borrow().0;
    let checkpoint = state.views.checkpoint();
    let lag = head.saturating_sub(checkpoint);
    if lag > READY_LAG {
        return Err(ApiError::NotReady(format!(
            "the read models are {lag} events behind the log (at {checkpoint} of {head})"
        )));
    }
    Ok(Json(serde_json::json!({
        "status": "ready",
        "head": head,
        "checkpoint": checkpoint,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitingQuery {
    pub queue: Option<String>,
    /// Only what this agent may accept: conversations in queues they have rights to.
    pub agent: Option<String>,
    pub after: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct WaitingList {
    /// The read models' position when this answer was made.
    pub position: u64,
    pub waiting: Vec<WaitingRow>,
}

#[utoipa::path(
    get,
    path = "/v1/waiting",
    tag = "queries",
    params(WaitingQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn waiting(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<WaitingQuery>,
) -> Result<Json<WaitingList>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let queue = configured_queue(&state, query.queue)?;
    let agent = configured_agent(&state, query.agent)?.and_then(|id| state.config.agents.get(&id));
    let now = state.clock.now();
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| WaitingList {
            position: models.checkpoint(),
            waiting: models
                .waiting
                .list(queue.as_ref(), now)
                .into_iter()
                .filter(|row| visible.queues.allows(&row.queue))
                .filter(|row| agent.is_none_or(|agent| agent.has_rights_to(&row.queue)))
                .collect(),
        })
        .await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MissedQuery {
    pub queue: Option<String>,
    /// Also list those already contacted back (marked so).
    #[serde(default)]
    pub contacted_back: bool,
    pub after: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct MissedList {
    pub position: u64,
    pub missed: Vec<MissedRow>,
}

/// The queue a query names, if it names one: it must be configured.
pub(super) fn configured_queue(
    state: &AppState,
    name: Option<String>,
) -> Result<Option<QueueId>, ApiError> {
    let Some(queue) = name.map(QueueId::new) else {
        return Ok(None);
    };
    if state.config.queues.contains_key(&queue) {
        Ok(Some(queue))
    } else {
        Err(ApiError::NotFound(format!(
            "queue '{queue}' is not configured"
        )))
    }
}

/// The agent a query names, if it names one: it must be configured.
pub(super) fn configured_agent(
    state: &AppState,
    name: Option<String>,
) -> Result<Option<AgentId>, ApiError> {
    name.map(|name| known_agent(state, name)).transpose()
}

/// The agent a path names: it must be configured.
pub(super) fn known_agent(state: &AppState, name: String) -> Result<AgentId, ApiError> {
    let agent = AgentId::new(name);
    if state.config.agents.contains_key(&agent) {
        Ok(agent)
    } else {
        Err(ApiError::NotFound(format!(
            "agent '{agent}' is not configured"
        )))
    }
}

/// Refuses a conversation the caller's rights do not show (`Visible::sees_conversation`).
fn may_see_conversation(conversation: ConversationId, seen: bool) -> Result<(), ApiError> {
    if seen {
        Ok(())
    } else {
        Err(ApiError::NoRights(format!(
            "no rights to conversation {conversation}: neither its queue nor the agents in it"
        )))
    }
}

#[utoipa::path(
    get,
    path = "/v1/missed",
    tag = "queries",
    params(MissedQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn missed(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<MissedQuery>,
) -> Result<Json<MissedList>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let queue = configured_queue(&state, query.queue)?;
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| MissedList {
            position: models.checkpoint(),
            missed: models
                .missed
                .list(&visible, query.contacted_back)
                .into_iter()
                .filter(|row| queue.is_none() || row.queue == queue)
                .cloned()
                .collect(),
        })
        .await?;
    Ok(Json(answer))
}

#[derive(Debug, Serialize)]
pub struct PostponedList {
    pub position: u64,
    pub postponed: Vec<PostponedRow>,
}

#[utoipa::path(
    get,
    path = "/v1/agents/{agent}/postponed",
    tag = "queries",
    params(("agent" = String, Path), Consistency),
    responses((status = 200, description = "the answer"))
)]
pub async fn postponed(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
    Query(query): Query<Consistency>,
) -> Result<Json<PostponedList>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let id = known_agent(&state, agent)?;
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| {
            PostponedList {
                position: models.checkpoint(),
                postponed: models
                    .postponed
                    .of(&id, &visible)
                    .into_iter()
                    .cloned()
                    .collect(),
            }
        })
        .await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// Joined: only conversations this agent is in.
    pub joined_by: Option<String>,
    /// One team's conversations (a team is a queue's agents).
    pub team: Option<String>,
    /// `overdue`, `soon_overdue`, `rep_needed`, `pending`, `answered` or `closed`.
    #[param(value_type = Option<String>)]
    pub status: Option<BoardStatus>,
    pub after: Option<u64>,
}

/// A queue's status-board thresholds.
#[derive(Debug, Serialize)]
pub struct Thresholds {
    pub soon_overdue_after_ms: u64,
    pub overdue_after_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Board {
    pub position: u64,
    pub thresholds: BTreeMap<QueueId, Thresholds>,
    pub conversations: Vec<BoardRow>,
}

#[utoipa::path(
    get,
    path = "/v1/board",
    tag = "queries",
    params(BoardQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn board(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<BoardQuery>,
) -> Result<Json<Board>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let team = configured_queue(&state, query.team)?;
    let joined_by = configured_agent(&state, query.joined_by)?;
    let filter = BoardFilter {
        joined_by,
        team,
        status: query.status,
    };
    let thresholds = state
        .config
        .queues
        .iter()
        .filter(|(id, _)| visible.queues.allows(id))
        .map(|(id, queue)| {
            (
                id.clone(),
                Thresholds {
                    soon_overdue_after_ms: queue.soon_overdue_after_ms,
                    overdue_after_ms: queue.overdue_after_ms,
                },
            )
        })
        .collect();
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| Board {
            position: models.checkpoint(),
            thresholds,
            conversations: projections::board::board(&models.conversations, &visible, &filter),
        })
        .await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueuesQuery {
    /// The period's start, RFC 3339; by default the start of today (UTC).
    pub since: Option<String>,
    pub after: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct QueueList {
    pub position: u64,
    #[serde(with = "projections::rfc3339")]
    pub since: Timestamp,
    pub queues: Vec<QueueFigures>,
}

#[utoipa::path(
    get,
    path = "/v1/queues",
    tag = "queries",
    params(QueuesQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn queues(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<QueuesQuery>,
) -> Result<Json<QueueList>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let now = state.clock.now();
    let since = period_start(query.since.as_deref(), now)?;
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| QueueList {
            position: models.checkpoint(),
            since,
            queues: models.queues.figures(
                state.config.queues.keys(),
                &models.waiting,
                &visible,
                since,
                now,
            ),
        })
        .await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// The first interval's start, RFC 3339; by default the start of today (UTC).
    pub since: Option<String>,
    /// Minutes per interval, 1 to 1440; 15 by default.
    pub step_minutes: Option<u32>,
    pub after: Option<u64>,
}

/// The most intervals one answer holds: a day in minutes.
const MOST_POINTS: i64 = 1440;

#[derive(Debug, Serialize)]
pub struct SeriesList {
    pub position: u64,
    #[serde(with = "projections::rfc3339")]
    pub since: Timestamp,
    #[serde(with = "projections::rfc3339")]
    pub until: Timestamp,
    pub step_minutes: u32,
    pub queues: Vec<QueueSeries>,
}

#[utoipa::path(
    get,
    path = "/v1/queues/series",
    tag = "queries",
    params(SeriesQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn queue_series(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SeriesQuery>,
) -> Result<Json<SeriesList>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let now = state.clock.now();
    let since = period_start(query.since.as_deref(), now)?;
    let step_minutes = query.step_minutes.unwrap_or(15);
    if !(1..=1440).contains(&step_minutes) {
        return Err(ApiError::BadRequest(format!(
            "step_minutes: {step_minutes} is not between 1 and 1440"
        )));
    }
    if since > now {
        return Err(ApiError::BadRequest(format!(
            "since: '{}' is later than now",
            projections::rfc3339::format(since)
        )));
    }
    if since < projections::queues::oldest_kept(now) {
        return Err(ApiError::BadRequest(format!(
            "since: '{}' is older than the {} days of figures kept",
            projections::rfc3339::format(since),
            projections::queues::KEPT_DAYS
        )));
    }
    let intervals = projections::queues::intervals(since, now, step_minutes);
    if intervals > MOST_POINTS {
        return Err(ApiError::BadRequest(format!(
            "since: from '{}' to now is {intervals} intervals of {step_minutes} minutes; at most {MOST_POINTS} are served",
            projections::rfc3339::format(since)
        )));
    }
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| SeriesList {
            position: models.checkpoint(),
            since,
            until: now,
            step_minutes,
            queues: models.queues.series(
                state
                    .config
                    .queues
                    .iter()
                    .map(|(id, queue)| (id, queue.answer_target_ms)),
                &visible,
                since,
                now,
                step_minutes,
            ),
        })
        .await?;
    Ok(Json(answer))
}

/// Where a period asked for starts: `since` (RFC 3339), or the start of today (UTC).
fn period_start(since: Option<&str>, now: Timestamp) -> Result<Timestamp, ApiError> {
    match since {
        Some(text) => projections::rfc3339::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!("since: '{text}' is not an RFC 3339 time"))
        }),
        None => Ok(start_of_day(now)),
    }
}

/// Midnight (UTC) of the day `now` falls in.
pub(super) fn start_of_day(now: Timestamp) -> Timestamp {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    Timestamp::from_millis(now.as_millis().div_euclid(DAY_MS) * DAY_MS)
}

#[derive(Debug, Serialize)]
pub struct AgentList {
    pub position: u64,
    pub agents: Vec<AgentSummary>,
}

#[utoipa::path(
    get,
    path = "/v1/agents",
    tag = "queries",
    params(Consistency),
    responses((status = 200, description = "the answer"))
)]
pub async fn agents(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<Consistency>,
) -> Result<Json<AgentList>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| AgentList {
            position: models.checkpoint(),
            agents: models
                .agents
                .ids()
                .filter(|id| visible.users.allows(id))
                .filter_map(|id| models.agents.get(id).cloned())
                .collect(),
        })
        .await?;
    Ok(Json(answer))
}

#[derive(Debug, Serialize)]
pub struct FocusList {
    pub position: u64,
    pub activities: Vec<ActivityFocus>,
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{conversation}/focus",
    tag = "queries",
    params(("conversation" = uuid::Uuid, Path), Consistency),
    responses((status = 200, description = "the answer"))
)]
pub async fn focus(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Query(query): Query<Consistency>,
) -> Result<Json<FocusList>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let now = state.clock.now();
    let (seen, answer) = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| {
            models.conversations.get(&conversation).map(|summary| {
                (
                    visible.sees_conversation(summary),
                    FocusList {
                        position: models.checkpoint(),
                        activities: models.focus.of(&conversation, now),
                    },
                )
            })
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("conversation {conversation} does not exist")))?;
    may_see_conversation(conversation, seen)?;
    Ok(Json(answer))
}

#[derive(Debug, Serialize)]
pub struct AgentView {
    pub name: String,
    #[serde(flatten)]
    pub summary: AgentSummary,
    pub capacity: BTreeMap<Channel, u32>,
    /// The queues the agent has rights to (and so may log in to), those they administer included.
    pub rights: Vec<QueueId>,
    /// The queues whose team the agent administers: they see and may join all its conversations.
    pub admin_of: Vec<QueueId>,
    /// What the agent may close a conversation with, and pause for (the centre's lists).
    pub close_statuses: Vec<String>,
    pub pause_reasons: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/v1/agents/{agent}",
    tag = "queries",
    params(("agent" = String, Path), Consistency),
    responses((status = 200, description = "the answer"))
)]
pub async fn agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
    Query(query): Query<Consistency>,
) -> Result<Json<AgentView>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let id = AgentId::new(agent);
    let config = state
        .config
        .agents
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("agent '{id}' is not configured")))?;
    if !visible.users.allows(&id) {
        return Err(ApiError::NoRights(format!("no rights to agent '{id}'")));
    }
    let summary = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| {
            models.agents.get(&id).cloned()
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("agent '{id}' is not configured")))?;
    Ok(Json(AgentView {
        name: config.name.clone(),
        summary,
        capacity: config.capacity.clone(),
        rights: config.rights().into_iter().collect(),
        admin_of: config.admin_of.iter().cloned().collect(),
        close_statuses: state.config.close_statuses.clone(),
        pause_reasons: state.config.pause_reasons.clone(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{conversation}",
    tag = "queries",
    params(("conversation" = uuid::Uuid, Path), Consistency),
    responses((status = 200, description = "the answer"))
)]
pub async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Query(query): Query<Consistency>,
) -> Result<Json<ConversationAnswer>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let summary = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| {
            models.conversations.get(&conversation).cloned()
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("conversation {conversation} does not exist")))?;
    may_see_conversation(conversation, visible.sees_conversation(&summary))?;
    let rules = routing_core::content::ReplyRules::of(
        summary.channel,
        summary.customer_wrote_at,
        state.clock.now(),
    );
    let templates = state.config.templates_of(&summary.connector).to_vec();
    Ok(Json(ConversationAnswer {
        summary,
        reply_rules: ReplyRulesView {
            max_chars: rules.max_chars,
            template_required: rules.template_required,
            window_closes_at: rules.window_closes_at.map(projections::rfc3339::format),
            templates,
        },
    }))
}

/// A conversation as it stands, and what an agent may send in it now.
#[derive(Debug, Serialize)]
pub struct ConversationAnswer {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    pub reply_rules: ReplyRulesView,
}

/// The channel's rules for a reply now (the core's, which refuses what breaks them).
#[derive(Debug, Serialize)]
pub struct ReplyRulesView {
    /// The most characters a message may have, where the channel limits it.
    pub max_chars: Option<usize>,
    /// The reply window is closed: only an approved template may be sent.
    pub template_required: bool,
    /// When the open reply window closes (RFC 3339), where the channel has one.
    pub window_closes_at: Option<String>,
    /// The connector's approved templates, to choose from; empty when any name is taken.
    pub templates: Vec<String>,
}

/// One event of a conversation's history, as an auditor reads it.
#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    pub position: u64,
    pub stream: String,
    pub stream_version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: u32,
    /// RFC 3339, UTC, millisecond precision.
    pub time: String,
    pub event_id: uuid::Uuid,
    pub correlation_id: uuid::Uuid,
    pub causation_id: uuid::Uuid,
    pub payload: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub conversation: ConversationId,
    pub events: Vec<HistoryEntry>,
    /// Whether more events follow: read them with `after_version` = `next_after_version`.
    pub more: bool,
    pub next_after_version: u64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Events after this stream version (default 0: from the start).
    #[serde(default)]
    pub after_version: u64,
    /// At most this many events (default and maximum 1000).
    pub limit: Option<usize>,
}

/// The most events one history page holds.
const HISTORY_PAGE_LIMIT: usize = 1000;

#[utoipa::path(
    get,
    path = "/v1/conversations/{conversation}/history",
    tag = "queries",
    params(("conversation" = uuid::Uuid, Path), HistoryQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    let limit = query.limit.unwrap_or(HISTORY_PAGE_LIMIT);
    if limit == 0 || limit > HISTORY_PAGE_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {HISTORY_PAGE_LIMIT}"
        )));
    }
    // A conversation not in the read models yet is for callers with rights to every queue, as
    // rows without a queue are.
    let seen = state
        .views
        .read(None, READ_YOUR_WRITES_LIMIT, |models| {
            models
                .conversations
                .get(&conversation)
                .map_or(visible.allows(None, None), |summary| {
                    visible.sees_conversation(summary)
                })
        })
        .await?;
    may_see_conversation(conversation, seen)?;
    let stream = StreamOf::Conversation(&conversation).name();
    let mut stored = state
        .store
        .read_stream(&stream, query.after_version, limit + 1)
        .await?;
    if stored.is_empty() && query.after_version == 0 {
        return Err(ApiError::NotFound(format!(
            "conversation {conversation} does not exist"
        )));
    }
    let more = stored.len() > limit;
    stored.truncate(limit);
    let next_after_version = stored
        .last()
        .map_or(query.after_version, |e| e.stream_version);
    Ok(Json(History {
        conversation,
        events: stored
            .into_iter()
            .map(|event| HistoryEntry::opened(event, &state.keyring))
            .collect(),
        more,
        next_after_version,
    }))
}

impl HistoryEntry {
    /// The stored event with its personal fields opened (or erased, once their key is gone).
    pub fn opened(event: event_store::StoredEvent, keyring: &crate::keyring::Keyring) -> Self {
        let time = projections::rfc3339::format(Timestamp::from_millis(event.recorded_at_ms));
        // The payload is JSON written by this engine; should it ever not parse, show it as
        // text rather than hide it from an auditor (never the sealed bytes: they open or not).
        let payload = match keyring.open(&event.event_type, &event.payload) {
            Ok(Some(opened)) => Some(opened),
            Ok(None) => serde_json::from_slice(&event.payload).ok(),
            Err(_) => None,
        }
        .unwrap_or_else(|| {
            serde_json::Value::String(String::from_utf8_lossy(&event.payload).into_owned())
        });
        HistoryEntry {
            position: event.position.0,
            stream: event.stream,
            stream_version: event.stream_version,
            event_type: event.event_type,
            schema_version: event.schema_version,
            time,
            event_id: event.event_id,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            payload,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Events after this position (default 0: from the start).
    #[serde(default)]
    pub after: u64,
    /// At most this many events (default and maximum 1000).
    pub limit: Option<usize>,
    /// When nothing follows `after`, wait up to this long (at most 30 000) for something to.
    pub wait_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct LogPage {
    pub events: Vec<HistoryEntry>,
    /// The newest committed position of the log when this page was read.
    pub head: u64,
    /// Pass as `after` to read the next page.
    pub next_after: u64,
}

const LOG_PAGE_LIMIT: usize = 1000;
const LOG_WAIT_LIMIT_MS: u64 = 30_000;

/// The global log, in position order, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/log",
    tag = "queries",
    params(LogQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn log(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    caller.reads_the_log()?;
    let limit = query.limit.unwrap_or(LOG_PAGE_LIMIT);
    if limit == 0 || limit > LOG_PAGE_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {LOG_PAGE_LIMIT}"
        )));
    }
    let wait_ms = query.wait_ms.unwrap_or(0);
    if wait_ms > LOG_WAIT_LIMIT_MS {
        return Err(ApiError::BadRequest(format!(
            "`wait_ms` must be at most {LOG_WAIT_LIMIT_MS}"
        )));
    }
    if wait_ms > 0 {
        let mut head = state.store.head();
        // Either something follows `after` in time, or the page is simply empty.
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(wait_ms),
            head.wait_for(|head| head.0 > query.after),
        )
        .await;
    }
    let head = state.store.head().borrow().0;
    let stored = state
        .store
        .read_all(event_store::Position(query.after), limit)
        .await?;
    let next_after = stored.last().map_or(query.after, |e| e.position.0);
    Ok(Json(LogPage {
        events: stored
            .into_iter()
            .map(|event| HistoryEntry::opened(event, &state.keyring))
            .collect(),
        head,
        next_after,
    }))
}
