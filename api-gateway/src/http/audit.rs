//! What an auditor asks of the past: one conversation, or any read model, as the log had made it
//! at a given position or time, and whether the live read models still say what the log says.
//!
//! Each answer is folded from position 0 of the log by [`crate::replay::rebuild`], the same fold
//! the live read models use, so it costs a pass over the log up to the point asked for: these
//! are audits, not dashboards. Nothing here writes.

use super::AppState;
use super::auth::Caller;
use super::extract::{Path, Query};
use super::problem::ApiError;
use super::queries::HistoryEntry;
use crate::replay::{Until, compare, rebuild};
use axum::extract::State;
use axum::response::Json;
use event_store::EventStore;
use routing_core::event::StreamOf;
use routing_core::{AgentId, ConversationId};
use serde::{Deserialize, Serialize};

/// The moment asked for: a log position, or a time; neither means now.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// As of this log position (the events up to and including it).
    pub position: Option<u64>,
    /// As of this time (RFC 3339): the log up to the first event recorded after it (recorded
    /// times follow positions unless a clock stepped back; the answer's `position` says where
    /// the fold stopped).
    pub at: Option<String>,
}

impl AsOf {
    fn until(&self, head: u64) -> Result<Until, ApiError> {
        match (self.position, &self.at) {
            (Some(_), Some(_)) => Err(ApiError::BadRequest(
                "give `position` or `at`, not both".into(),
            )),
            (Some(position), None) if position > head => Err(ApiError::BadRequest(format!(
                "position {position} is past the log's head ({head})"
            ))),
            (Some(position), None) => Ok(Until::Position(position)),
            (None, Some(at)) => projections::rfc3339::parse(at)
                .map(|at| Until::Time(at.as_millis()))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("`at` is not an RFC 3339 time: {at:?}"))
                }),
            (None, None) => Ok(Until::Position(head)),
        }
    }
}

/// Audits fold or hash the whole log: one at a time, so that an auditor's questions never take
/// more than one of the service's cores from the agents' work.
static AUDITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

async fn one_audit_at_a_time() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    AUDITS
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("the audit queue is closed".into()))
}

fn agents(state: &AppState) -> Vec<AgentId> {
    state.config.agents.keys().cloned().collect()
}

/// One conversation as it stood.
#[derive(Debug, Serialize)]
pub struct ConversationAsOf {
    /// The last log position folded in.
    pub position: u64,
    /// Its participants, status, queue and figures then.
    pub conversation: projections::conversations::ConversationSummary,
    /// Its events up to then, messages included.
    pub events: Vec<HistoryEntry>,
}

#[utoipa::path(
    get,
    path = "/v1/audit/conversations/{conversation}",
    tag = "audit",
    params(("conversation" = uuid::Uuid, Path), AsOf),
    responses((status = 200, description = "the conversation as the log had made it then"))
)]
/// A conversation (participants, status, messages, events) as of a position or a time.
pub async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<uuid::Uuid>,
    Query(as_of): Query<AsOf>,
) -> Result<Json<ConversationAsOf>, ApiError> {
    caller.reads_the_log()?;
    let _permit = one_audit_at_a_time().await?;
    let conversation = ConversationId::from_uuid(conversation);
    let until = as_of.until(state.store.head().borrow().0)?;
    let stream = StreamOf::Conversation(&conversation).name();
    let mut events = Vec::new();
    let mut position = 0;
    let models = rebuild(
        &state.store,
        &state.keyring,
        agents(&state),
        until,
        |stored| {
            position = stored.position.0;
            if stored.stream == stream {
                events.push(HistoryEntry::opened(stored.clone(), &state.keyring));
            }
        },
    )
    .await?;
    let summary = models
        .conversations
        .get(&conversation)
        .cloned()
        .ok_or_else(|| {
            ApiError::NotFound(format!("conversation {conversation} did not exist by then"))
        })?;
    Ok(Json(ConversationAsOf {
        position,
        conversation: summary,
        events,
    }))
}

/// The read models an auditor may ask for by name.
const VIEWS: [&str; 10] = [
    "waiting",
    "conversations",
    "agents",
    "missed",
    "postponed",
    "queues",
    "focus",
    "interactions",
    "keys",
    "outbox",
];

/// A read model as it stood.
#[derive(Debug, Serialize)]
pub struct ViewAsOf {
    pub view: String,
    /// The last log position folded in.
    pub position: u64,
    /// The read model, as its snapshot holds it.
    pub state: serde_json::Value,
}

#[utoipa::path(
    get,
    path = "/v1/audit/views/{view}",
    tag = "audit",
    params(("view" = String, Path, description = "waiting, conversations, agents, missed, postponed, queues, focus, interactions, keys or outbox"), AsOf),
    responses((status = 200, description = "the read model as the log had made it then"))
)]
/// Any read model as of a position or a time, as its snapshot holds it.
pub async fn view(
    State(state): State<AppState>,
    caller: Caller,
    Path(view): Path<String>,
    Query(as_of): Query<AsOf>,
) -> Result<Json<ViewAsOf>, ApiError> {
    caller.reads_the_log()?;
    let _permit = one_audit_at_a_time().await?;
    if !VIEWS.contains(&view.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no read model '{view}'; there are {}",
            VIEWS.join(", ")
        )));
    }
    let until = as_of.until(state.store.head().borrow().0)?;
    let mut position = 0;
    let models = rebuild(
        &state.store,
        &state.keyring,
        agents(&state),
        until,
        |stored| {
            position = stored.position.0;
        },
    )
    .await?;
    let value = match view.as_str() {
        "waiting" => serde_json::to_value(&models.waiting),
        "conversations" => serde_json::to_value(&models.conversations),
        "agents" => serde_json::to_value(&models.agents),
        "missed" => serde_json::to_value(&models.missed),
        "postponed" => serde_json::to_value(&models.postponed),
        "queues" => serde_json::to_value(&models.queues),
        "focus" => serde_json::to_value(&models.focus),
        "interactions" => serde_json::to_value(&models.interactions),
        "keys" => serde_json::to_value(&models.keys),
        _ => serde_json::to_value(&models.outbox),
    }
    .map_err(|error| {
        ApiError::Internal(format!("the {view} view could not be written: {error}"))
    })?;
    Ok(Json(ViewAsOf {
        view,
        position,
        state: value,
    }))
}

/// Whether each live read model equals one rebuilt from the log.
#[derive(Debug, Serialize)]
pub struct RebuildReport {
    /// The position both were compared at.
    pub checkpoint: u64,
    pub views: Vec<ViewMatch>,
    pub all_match: bool,
}

#[derive(Debug, Serialize)]
pub struct ViewMatch {
    pub view: &'static str,
    pub matches: bool,
}

#[utoipa::path(
    post,
    path = "/v1/audit/rebuild",
    tag = "audit",
    responses((status = 200, description = "each read model, and whether the live one equals one rebuilt from the log"))
)]
/// Rebuilds every read model from the log, in memory, up to the live ones' checkpoint, and
/// says for each whether the live one matches. Changes nothing.
pub async fn rebuild_check(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RebuildReport>, ApiError> {
    caller.reads_the_log()?;
    let _permit = one_audit_at_a_time().await?;
    // A copy of the live models at one checkpoint; the rebuild stops at the same one.
    let live = state
        .views
        .read(None, std::time::Duration::ZERO, Clone::clone)
        .await?;
    let checkpoint = live.checkpoint();
    let rebuilt = rebuild(
        &state.store,
        &state.keyring,
        agents(&state),
        Until::Position(checkpoint),
        |_| {},
    )
    .await?;
    let views: Vec<ViewMatch> = compare(&live, &rebuilt)
        .into_iter()
        .map(|(view, matches)| ViewMatch { view, matches })
        .collect();
    let all_match = views.iter().all(|v| v.matches);
    if !all_match {
        tracing::error!(
            checkpoint,
            "a live read model differs from the log's rebuild"
        );
    }
    Ok(Json(RebuildReport {
        checkpoint,
        views,
        all_match,
    }))
}

/// One checkpoint kept elsewhere to check the log against.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// A checkpoint's position…
    pub checkpoint_position: Option<u64>,
    /// …and its chain hash (64 hexadecimal digits).
    pub checkpoint_chain: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/audit/verify",
    tag = "audit",
    params(VerifyQuery),
    responses((status = 200, description = "how many events were checked, the head (to keep as a checkpoint), and the first position where the chain breaks, if it does"))
)]
/// Checks the log's hash chain from its first event, and against a checkpoint if one is given.
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<VerifyQuery>,
) -> Result<Json<event_store::chain::Verification>, ApiError> {
    caller.reads_the_log()?;
    let _permit = one_audit_at_a_time().await?;
    let checkpoints = match (query.checkpoint_position, query.checkpoint_chain) {
        (None, None) => Vec::new(),
        (Some(position), Some(chain)) => {
            let chain = event_store::chain::ChainHash::from_hex(&chain).ok_or_else(|| {
                ApiError::BadRequest("`checkpoint_chain` is not 64 hexadecimal digits".into())
            })?;
            vec![event_store::chain::Checkpoint { position, chain }]
        }
        _ => {
            return Err(ApiError::BadRequest(
                "a checkpoint needs both `checkpoint_position` and `checkpoint_chain`".into(),
            ));
        }
    };
    let found = event_store::chain::verify(&state.store, checkpoints).await?;
    if let Some(position) = found.first_break {
        tracing::error!(position, "the log's hash chain breaks");
    }
    Ok(Json(found))
}
