//! The HTTP surface: routes, request and response bodies, error mapping.
//!
//! Handlers parse, call the engine or a read model, and map errors; they hold no business rule.
//! Only this module knows HTTP.

mod audit;
mod auth;
mod commands;
mod connectors;
mod console;
mod extract;
mod interactions;
mod keys;
mod metrics;
mod privacy;
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
use axum::routing::get;
use event_store::Store;
use routing_core::CentreConfig;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest request body accepted; chat messages are small.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every handler may use, behind one `Arc`: every request clones it (the middleware, the
/// handler), and one reference count is cheaper than one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services handlers use.
pub struct Services {
    pub engine: Engine,
    /// The contacts' keys, to open what events hold of them.
    pub keyring: Arc<crate::keyring::Keyring>,
    pub views: Views,
    pub store: Store,
    pub config: Arc<CentreConfig>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The configured API keys by digest.
    pub keys: Arc<ConfiguredKeys>,
    /// Per connector, what its provider's webhook calls are checked with.
    pub webhooks: Arc<
        std::collections::BTreeMap<routing_core::ConnectorId, crate::config_file::WebhookSecrets>,
    >,
    /// Turns true when the server begins to stop: live streams end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The OpenAPI document's frame; every path in it comes from the handlers' own annotations,
/// registered together with their routes, so the document cannot miss one.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Routes customer conversations to contact-centre agents. Errors are `application/problem+json`; every endpoint but health, readiness, metrics and this document needs `Authorization: Bearer <key>`. See docs/api.md for roles and rights."
    ),
    components(schemas(problem::Problem))
)]
struct ApiDoc;

/// Paths that take no bearer key: probes, Prometheus, and providers' webhooks (which prove
/// themselves by their signature instead).
const OPEN_PATHS: [&str; 4] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/connectors/{connector}/webhook",
];

/// What every operation but the open ones has in common, added once here rather than in each
/// handler's annotation: the bearer key it needs and the problem+json it answers when it refuses.
struct BearerKeys;

impl utoipa::Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let refused = ResponseBuilder::new()
            .description("refused: problem+json with a precise `detail`")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if OPEN_PATHS.contains(&path.as_str()) {
                continue;
            }
            for operation in [&mut item.get, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                operation.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
                operation
                    .responses
                    .responses
                    .insert("4XX".to_owned(), refused.clone().into());
            }
        }
    }
}

/// The API's routes over `state`.
pub fn app(state: AppState) -> Router {
    let recorded = axum::middleware::from_fn_with_state(state.clone(), metrics::record);
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(queries::health))
        .routes(routes!(queries::ready))
        .routes(routes!(metrics::metrics))
        .routes(routes!(commands::webchat_message))
        .routes(routes!(commands::webchat_left))
        .routes(routes!(commands::webchat_presence))
        .routes(routes!(connectors::handshake, connectors::receive))
        .routes(routes!(connectors::outbox))
        .routes(routes!(connectors::confirm))
        .routes(routes!(connectors::message_state))
        .routes(routes!(queries::agent))
        .routes(routes!(commands::log_in))
        .routes(routes!(commands::log_out))
        .routes(routes!(commands::ready))
        .routes(routes!(commands::pause))
        .routes(routes!(commands::heartbeat))
        .routes(routes!(commands::focus))
        .routes(routes!(commands::blur))
        .routes(routes!(commands::disconnect))
        .routes(routes!(commands::start_outbound))
        .routes(routes!(queries::waiting))
        .routes(routes!(queries::missed))
        .routes(routes!(queries::board))
        .routes(routes!(interactions::list))
        .routes(routes!(interactions::export))
        .routes(routes!(queries::focus))
        .routes(routes!(queries::queues))
        .routes(routes!(queries::queue_series))
        .routes(routes!(queries::agents))
        .routes(routes!(queries::postponed))
        .routes(routes!(queries::log))
        .routes(routes!(keys::me))
        .routes(routes!(streams::agent))
        .routes(routes!(streams::dashboard))
        .routes(routes!(keys::list, keys::issue))
        .routes(routes!(keys::revoke))
        .routes(routes!(queries::conversation))
        .routes(routes!(queries::history))
        .routes(routes!(commands::accept))
        .routes(routes!(commands::reject))
        .routes(routes!(commands::accept_from_waiting))
        .routes(routes!(commands::grab))
        .routes(routes!(commands::join))
        .routes(routes!(commands::transfer))
        .routes(routes!(commands::invite))
        .routes(routes!(commands::leave))
        .routes(routes!(commands::postpone))
        .routes(routes!(commands::resume))
        .routes(routes!(commands::mark_important))
        .routes(routes!(commands::agent_message))
        .routes(routes!(commands::close))
        .routes(routes!(audit::conversation))
        .routes(routes!(audit::view))
        .routes(routes!(audit::rebuild_check))
        .routes(routes!(audit::verify))
        .routes(routes!(privacy::anonymise_contact))
        .routes(routes!(privacy::anonymise_interaction))
        .split_for_parts();
    // After the routes joined the document: the modifier applies to every operation.
    utoipa::Modify::modify(&BearerKeys, &mut api);
    // Serialising a document built from our own annotations cannot fail; if it ever did, the
    // endpoint would say so rather than the server refuse to start.
    let document = axum::body::Bytes::from(api.to_json().unwrap_or_else(|error| {
        tracing::error!(%error, "the OpenAPI document could not be written");
        String::from("{}")
    }));
    router
        .route("/", get(console::index))
        .route("/console/{*file}", get(console::file))
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
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
