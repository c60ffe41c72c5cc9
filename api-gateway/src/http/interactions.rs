//! The interaction list over HTTP: a page at a time, or the whole selection as CSV or XLSX.
//!
//! Parses the filters, sort and cursor, and hands them to the interaction view with the caller's
//! rights; the view selects, the export module writes. Nothing here filters or sorts a row.

use super::AppState;
use super::auth::Caller;
use super::problem::ApiError;
use super::queries::{configured_agent, configured_queue, start_of_day};
use crate::feed::READ_YOUR_WRITES_LIMIT;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use projections::conversations::Direction;
use projections::interactions::{Column, Cursor, Filter, Page};
use routing_core::Timestamp;
use routing_core::ids::ExternalContactId;
use serde::{Deserialize, Serialize};

/// The most rows one page holds.
pub const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Xlsx,
}

/// The list's filters, as query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// RFC 3339; by default the start of today (UTC).
    pub from: Option<String>,
    /// RFC 3339, excluded; by default the end of `from`'s day.
    pub to: Option<String>,
    pub user: Option<String>,
    pub queue: Option<String>,
    /// Part of the contact's name.
    pub contact: Option<String>,
    /// The customer's handle.
    pub sender: Option<String>,
    /// `inbound` or `outbound`.
    #[param(value_type = Option<String>)]
    pub direction: Option<Direction>,
    pub answered: Option<bool>,
    pub missed: Option<bool>,
    /// Any column: `time`, `queue`, `user`, `contact`, `external_contact`, `title`, `answered`,
    /// `wait_time`, `duration`, `ended_by`, `connector`, `missed`, `missed_time`, `direction`.
    #[param(value_type = Option<String>)]
    pub sort: Option<Column>,
    /// `asc` or `desc`.
    #[param(value_type = Option<String>)]
    pub order: Option<Order>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Only for exports.
    /// `csv` or `xlsx`.
    #[param(value_type = Option<String>)]
    pub format: Option<Format>,
    pub after: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ListAnswer {
    pub position: u64,
    #[serde(with = "projections::rfc3339")]
    pub from: Timestamp,
    #[serde(with = "projections::rfc3339")]
    pub to: Timestamp,
    #[serde(flatten)]
    pub page: Page,
}

fn time(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    projections::rfc3339::parse(text)
        .ok_or_else(|| ApiError::BadRequest(format!("{name}: '{text}' is not an RFC 3339 time")))
}

fn filter(state: &AppState, query: &ListQuery, now: Timestamp) -> Result<Filter, ApiError> {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let from = match &query.from {
        Some(text) => time("from", text)?,
        None => start_of_day(now),
    };
    let to = match &query.to {
        Some(text) => time("to", text)?,
        None => Timestamp::from_millis(start_of_day(from).as_millis() + DAY_MS),
    };
    if to < from {
        return Err(ApiError::BadRequest(
            "to: the range ends before it starts".into(),
        ));
    }
    let queue = configured_queue(state, query.queue.clone())?;
    let user = configured_agent(state, query.user.clone())?;
    Ok(Filter {
        user,
        queue,
        contact: query.contact.clone(),
        sender: query.sender.clone().map(ExternalContactId::new),
        direction: query.direction,
        answered: query.answered,
        missed: query.missed,
        sort: query.sort.unwrap_or(Column::Time),
        descending: query.order == Some(Order::Desc),
        ..Filter::between(from, to)
    })
}

#[utoipa::path(
    get,
    path = "/v1/interactions",
    tag = "queries",
    params(ListQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<ListAnswer>, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    if query.format.is_some() {
        return Err(ApiError::BadRequest(
            "format: only /v1/interactions/export takes a format".into(),
        ));
    }
    let now = state.clock.now();
    let filter = filter(&state, &query, now)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit: from 1 to {MAX_PAGE}, not {limit}"
        )));
    }
    let cursor = match &query.cursor {
        Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
            ApiError::BadRequest("cursor: not a cursor this list gave out".into())
        })?),
        None => None,
    };
    let answer = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| ListAnswer {
            position: models.checkpoint(),
            from: filter.from,
            to: filter.to,
            page: models.interactions.page(
                &filter,
                &visible,
                &models.missed,
                now,
                cursor.as_ref(),
                limit,
            ),
        })
        .await?;
    Ok(Json(answer))
}

#[utoipa::path(
    get,
    path = "/v1/interactions/export",
    tag = "queries",
    params(ListQuery),
    responses((status = 200, description = "the answer"))
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    // Who may read is settled before anything is looked up.
    let visible = caller.rights(&state.config)?;
    if query.cursor.is_some() || query.limit.is_some() {
        return Err(ApiError::BadRequest(
            "an export holds every selected row: no cursor or limit".into(),
        ));
    }
    let format = query.format.unwrap_or(Format::Csv);
    let now = state.clock.now();
    let filter = filter(&state, &query, now)?;
    let rows = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| {
            models
                .interactions
                .all(&filter, &visible, &models.missed, now)
        })
        .await?;
    // Writing the file is CPU work for a moment: off the async threads.
    let file = tokio::task::spawn_blocking(move || match format {
        Format::Csv => projections::export::csv(&rows),
        Format::Xlsx => projections::export::xlsx(&rows),
    })
    .await
    .map_err(|e| ApiError::Export(e.to_string()))?
    .map_err(|e| ApiError::Export(e.to_string()))?;
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "interactions.csv"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "interactions.xlsx",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        file,
    )
        .into_response())
}
