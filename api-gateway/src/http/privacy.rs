//! Erasure requests: anonymising a contact, named by their handle or by one of their
//! interactions. Admins only. The handler finds whom the request means and hands the core an
//! `AnonymiseContact` command; the engine shreds the contact's key once the erasure is recorded.
//! This module never reads or deletes a key itself.

use super::auth::Caller;
use super::commands::{CommandAccepted, accepted};
use super::extract::{Json, Path};
use super::{ApiError, AppState};
use axum::extract::State;
use routing_core::ids::ExternalContactId;
use routing_core::{Command, ConnectorId, ConversationId};
use serde::Deserialize;

/// A contact to anonymise, by the handle their channel knows them by.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnonymiseContact {
    pub connector: String,
    /// Their phone number, page-scoped id or web-chat visitor id.
    pub handle: String,
}

async fn anonymise(
    state: &AppState,
    caller: &Caller,
    connector: ConnectorId,
    contact: ExternalContactId,
    interaction: Option<ConversationId>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::AnonymiseContact {
        connector,
        contact,
        by: caller.key.clone(),
        interaction,
    };
    let receipt = state.engine.execute(command).await?;
    state.views.caught_up_to(receipt.position().0).await?;
    tracing::info!(by = %caller.key, "a contact was anonymised");
    Ok(axum::Json(accepted(&receipt, interaction)))
}

/// Erases everything personal the centre holds of a contact: their name, handle, messages and
/// attachment references, in the log (their key is shredded), the read models and the exports.
/// Their metrics stay. Refused while they have an open conversation.
#[utoipa::path(
    post,
    path = "/v1/contacts/anonymise",
    tag = "privacy",
    request_body = AnonymiseContact,
    responses((status = 200, description = "the erasure, recorded", body = CommandAccepted))
)]
pub async fn anonymise_contact(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AnonymiseContact>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    caller.erases_personal_data()?;
    let connector = ConnectorId::new(body.connector);
    let contact = match state.keyring.find(&connector, &body.handle) {
        Some(subject) => ExternalContactId::new(
            subject
                .split_once(':')
                .map_or(subject.as_str(), |(_, id)| id),
        ),
        // A contact from before pseudonyms, not heard from since, has no key yet: the core
        // knows them by their handle, as the conversations view does.
        None => {
            let handle = ExternalContactId::new(body.handle);
            let known = state
                .views
                .read(None, std::time::Duration::ZERO, |models| {
                    models
                        .conversations
                        .all()
                        .any(|c| c.connector == connector && c.contact == handle)
                })
                .await?;
            if !known {
                return Err(ApiError::NotFound(format!(
                    "connector '{connector}' knows no contact by that handle (never seen, or already anonymised)"
                )));
            }
            handle
        }
    };
    anonymise(&state, &caller, connector, contact, None).await
}

/// Erases the contact of an interaction: everything personal of theirs, in this interaction
/// and every other (their data is sealed under one key). Refused while they have an open
/// conversation.
#[utoipa::path(
    post,
    path = "/v1/interactions/{conversation}/anonymise",
    tag = "privacy",
    params(("conversation" = String, Path)),
    responses((status = 200, description = "the erasure, recorded", body = CommandAccepted))
)]
pub async fn anonymise_interaction(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    caller.erases_personal_data()?;
    let found = state
        .views
        .read(None, std::time::Duration::ZERO, |models| {
            models
                .conversations
                .get(&conversation)
                .map(|c| (c.connector.clone(), c.contact.clone()))
        })
        .await?;
    let Some((connector, contact)) = found else {
        return Err(ApiError::NotFound(format!(
            "conversation {conversation} does not exist"
        )));
    };
    anonymise(&state, &caller, connector, contact, Some(conversation)).await
}
