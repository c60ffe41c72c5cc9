//! The HTTP surface: routes, request and response bodies, error mapping.
//!
//! Handlers parse, call the engine or a read model, and map errors; they hold no business rule.
//! Only this module knows HTTP.

mod auth;
mod commands;
mod extract;
mod interactions;
mod keys;
mod metrics;
mod problem;
mod queries;
mod streams;

pub use auth::ConfiguredKeys;
pub use metrics::{EngineMetrics, Metrics};
pub use problem::ApiError;

use crate::clock::Clock;
use crate::engine::Engine;
use crate::feed::Views;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use event_store::Store;
use routing_core::CentreConfig;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body accepted; chat messages are small.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub views: Views,
    pub store: Store,
    pub config: Arc<CentreConfig>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The configured API keys by digest.
    pub keys: Arc<ConfiguredKeys>,
    /// Turns true when the server begins to stop: live streams end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The API's routes over `state`.
pub fn app(state: AppState) -> Router {
    let recorded = axum::middleware::from_fn_with_state(state.clone(), metrics::record);
    Router::new()
        .route("/healthz", get(queries::health))
        .route("/readyz", get(queries::ready))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/v1/webchat/{connector}/messages",
            post(commands::webchat_message),
        )
        .route("/v1/webchat/{connector}/left", post(commands::webchat_left))
        .route("/v1/agents/{agent}", get(queries::agent))
        .route(
            "/v1/agents/{agent}/queues/{queue}/login",
            post(commands::log_in),
        )
        .route(
            "/v1/agents/{agent}/queues/{queue}/logout",
            post(commands::log_out),
        )
        .route("/v1/agents/{agent}/ready", post(commands::ready))
        .route("/v1/agents/{agent}/pause", post(commands::pause))
        .route("/v1/agents/{agent}/heartbeat", post(commands::heartbeat))
        .route("/v1/agents/{agent}/focus", post(commands::focus))
        .route("/v1/agents/{agent}/blur", post(commands::blur))
        .route("/v1/agents/{agent}/disconnect", post(commands::disconnect))
        .route("/v1/outbound", post(commands::start_outbound))
        .route("/v1/waiting", get(queries::waiting))
        .route("/v1/missed", get(queries::missed))
        .route("/v1/board", get(queries::board))
        .route("/v1/interactions", get(interactions::list))
        .route("/v1/interactions/export", get(interactions::export))
        .route(
            "/v1/conversations/{conversation}/focus",
            get(queries::focus),
        )
        .route("/v1/queues", get(queries::queues))
        .route("/v1/agents", get(queries::agents))
        .route("/v1/agents/{agent}/postponed", get(queries::postponed))
        .route("/v1/log", get(queries::log))
        .route("/v1/me", get(keys::me))
        .route("/v1/agents/{agent}/stream", get(streams::agent))
        .route("/v1/dashboard/stream", get(streams::dashboard))
        .route("/v1/keys", get(keys::list).post(keys::issue))
        .route("/v1/keys/{key}", axum::routing::delete(keys::revoke))
        .route(
            "/v1/conversations/{conversation}",
            get(queries::conversation),
        )
        .route(
            "/v1/conversations/{conversation}/history",
            get(queries::history),
        )
        .route(
            "/v1/conversations/{conversation}/accept",
            post(commands::accept),
        )
        .route(
            "/v1/conversations/{conversation}/reject",
            post(commands::reject),
        )
        .route(
            "/v1/conversations/{conversation}/accept-from-waiting",
            post(commands::accept_from_waiting),
        )
        .route(
            "/v1/conversations/{conversation}/grab",
            post(commands::grab),
        )
        .route(
            "/v1/conversations/{conversation}/join",
            post(commands::join),
        )
        .route(
            "/v1/conversations/{conversation}/transfer",
            post(commands::transfer),
        )
        .route(
            "/v1/conversations/{conversation}/invite",
            post(commands::invite),
        )
        .route(
            "/v1/conversations/{conversation}/leave",
            post(commands::leave),
        )
        .route(
            "/v1/conversations/{conversation}/postpone",
            post(commands::postpone),
        )
        .route(
            "/v1/conversations/{conversation}/resume",
            post(commands::resume),
        )
        .route(
            "/v1/conversations/{conversation}/important",
            post(commands::mark_important),
        )
        .route(
            "/v1/conversations/{conversation}/messages",
            post(commands::agent_message),
        )
        .route(
            "/v1/conversations/{conversation}/close",
            post(commands::close),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(recorded)
        .layer(axum::middleware::from_fn(time_limit))
        .with_state(state)
}

/// How long a request may take; a query waiting for its own writes or a long poll stays within.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(35);

async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(REQUEST_TIMEOUT.as_millis()).into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
