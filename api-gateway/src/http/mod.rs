//! The HTTP surface: routes, request and response bodies, error mapping.
//!
//! Handlers parse, call the engine or a read model, and map errors; they hold no business rule.
//! Only this module knows HTTP.

mod commands;
mod extract;
mod problem;
mod queries;

pub use problem::ApiError;

use crate::clock::Clock;
use crate::engine::Engine;
use crate::feed::Views;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use event_store::embedded::EmbeddedStore;
use routing_core::CentreConfig;
use std::sync::Arc;

/// The largest request body accepted; chat messages are small.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub views: Views,
    pub store: EmbeddedStore,
    pub config: Arc<CentreConfig>,
    pub clock: Arc<dyn Clock>,
}

/// The API's routes over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(queries::health))
        .route(
            "/v1/webchat/{connector}/messages",
            post(commands::webchat_message),
        )
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
        .route("/v1/waiting", get(queries::waiting))
        .route("/v1/log", get(queries::log))
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
            "/v1/conversations/{conversation}/messages",
            post(commands::agent_message),
        )
        .route(
            "/v1/conversations/{conversation}/close",
            post(commands::close),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
