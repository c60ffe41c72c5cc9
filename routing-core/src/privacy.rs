//! Where a customer's personal data sits in events, whose key seals it, and how it reads once
//! that key is shredded.
//!
//! The service seals these fields under the contact's key when it stores an event, and opens
//! them when it reads one back; after an erasure they read as [`Erased`] says. The core routes
//! only on the contact's pseudonym, so no decision depends on a sealed field, and a log whose
//! keys are shredded rebuilds the same state, minus what [`crate::event::ContactAnonymised`]
//! forgets anyway. This module says where; it must never encrypt, fetch a key or do any IO.
//!
//! A field's path names it in the event's *current* stored version: once a version's sealed
//! fields are written, its entry here is as frozen as an upcaster.

use crate::event::EventKind;
use crate::ids::{ConnectorId, ExternalContactId};
use crate::state::State;
use serde_json::Value;

/// What a sealed field reads as when its key is gone.
pub const ERASED_TEXT: &str = "[anonymised]";

/// How a field reads once its key is shredded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erased {
    /// The text [`ERASED_TEXT`]: for fields that are always there.
    Text,
    /// Nothing (`null`): for optional fields.
    Null,
}

impl Erased {
    pub fn value(self) -> Value {
        match self {
            Erased::Text => Value::String(ERASED_TEXT.to_owned()),
            Erased::Null => Value::Null,
        }
    }
}

/// One personal field: its path in the payload (`*` is each element of an array) and how it
/// reads when erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonalField {
    pub path: &'static [&'static str],
    pub erased: Erased,
}

const fn field(path: &'static [&'static str], erased: Erased) -> PersonalField {
    PersonalField { path, erased }
}

const CONVERSATION_STARTED: &[PersonalField] = &[
    field(&["contact_name"], Erased::Null),
    field(&["handle"], Erased::Null),
];
const OUTBOUND_STARTED: &[PersonalField] = &[field(&["handle"], Erased::Null)];
// An attachment's kind and type stay (they are counted); its reference is the person's.
const CUSTOMER_MESSAGE: &[PersonalField] = &[
    field(&["text"], Erased::Text),
    field(&["attachments", "*", "reference"], Erased::Text),
];
const AGENT_MESSAGE: &[PersonalField] = &[
    field(&["text"], Erased::Text),
    field(&["email_fallback"], Erased::Null),
];
const PRESENCE: &[PersonalField] = &[field(&["email"], Erased::Null)];

/// The personal fields of an event type, as it is written now.
pub fn personal_fields(event_type: &str) -> &'static [PersonalField] {
    match event_type {
        "ConversationStarted" => CONVERSATION_STARTED,
        "OutboundConversationStarted" => OUTBOUND_STARTED,
        "CustomerMessageReceived" => CUSTOMER_MESSAGE,
        "AgentMessageSent" => AGENT_MESSAGE,
        "CustomerPresenceChanged" => PRESENCE,
        _ => &[],
    }
}

/// Whose key seals the event's personal fields: the contact (connector and pseudonym) it is
/// about. `state` must already hold the event's conversation (apply before asking). `None` for
/// an event with no personal fields, or whose conversation the state does not know.
pub fn subject_of(event: &EventKind, state: &State) -> Option<(ConnectorId, ExternalContactId)> {
    let of_conversation = |id| {
        state
            .conversation(id)
            .map(|c| (c.connector.clone(), c.contact.clone()))
    };
    match event {
        EventKind::ConversationStarted(e) => Some((e.connector.clone(), e.contact.clone())),
        EventKind::OutboundConversationStarted(e) => Some((e.connector.clone(), e.contact.clone())),
        EventKind::CustomerPresenceChanged(e) => Some((e.connector.clone(), e.contact.clone())),
        EventKind::CustomerMessageReceived(e) => of_conversation(&e.conversation),
        EventKind::AgentMessageSent(e) => of_conversation(&e.conversation),
        _ => None,
    }
}

/// Calls `visit` with each personal value present in `payload` (an event of `event_type`), its
/// path joined with `.` (array elements by index), and how it reads erased. Absent and `null`
/// values are skipped: there is nothing of the person in them.
pub fn visit_personal<E>(
    event_type: &str,
    payload: &mut Value,
    mut visit: impl FnMut(&str, &mut Value, Erased) -> Result<(), E>,
) -> Result<(), E> {
    for field in personal_fields(event_type) {
        walk(
            payload,
            field.path,
            &mut String::new(),
            field.erased,
            &mut visit,
        )?;
    }
    Ok(())
}

fn walk<E>(
    value: &mut Value,
    path: &[&str],
    at: &mut String,
    erased: Erased,
    visit: &mut impl FnMut(&str, &mut Value, Erased) -> Result<(), E>,
) -> Result<(), E> {
    let Some((step, rest)) = path.split_first() else {
        return if value.is_null() {
            Ok(())
        } else {
            visit(at, value, erased)
        };
    };
    let before = at.len();
    if *step == "*" {
        if let Value::Array(items) = value {
            for (n, item) in items.iter_mut().enumerate() {
                at.truncate(before);
                push(at, &n.to_string());
                walk(item, rest, at, erased, visit)?;
            }
        }
    } else if let Some(inner) = value.as_object_mut().and_then(|o| o.get_mut(*step)) {
        push(at, step);
        walk(inner, rest, at, erased, visit)?;
    }
    at.truncate(before);
    Ok(())
}

fn push(at: &mut String, step: &str) {
    if !at.is_empty() {
        at.push('.');
    }
    at.push_str(step);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn visited(event_type: &str, mut payload: Value) -> (Vec<String>, Value) {
        let mut paths = Vec::new();
        let result: Result<(), ()> = visit_personal(event_type, &mut payload, |path, v, e| {
            paths.push(path.to_owned());
            *v = e.value();
            Ok(())
        });
        assert_eq!(result, Ok(()));
        (paths, payload)
    }

    #[test]
    fn every_attachment_reference_is_personal_and_its_kind_is_not() {
        let (paths, erased) = visited(
            "CustomerMessageReceived",
            json!({"conversation": "c", "message_id": "m", "text": "my address is ...",
                   "kind": "image", "attachments": [
                       {"kind": "image", "reference": "media-1"},
                       {"kind": "file", "reference": "media-2", "mime_type": "application/pdf"}]}),
        );
        assert_eq!(
            paths,
            ["text", "attachments.0.reference", "attachments.1.reference"]
        );
        assert_eq!(
            erased,
            json!({"conversation": "c", "message_id": "m", "text": ERASED_TEXT,
                   "kind": "image", "attachments": [
                       {"kind": "image", "reference": ERASED_TEXT},
                       {"kind": "file", "reference": ERASED_TEXT, "mime_type": "application/pdf"}]})
        );
    }

    #[test]
    fn absent_and_null_fields_hold_nothing_to_seal() {
        let (paths, _) = visited(
            "ConversationStarted",
            json!({"conversation": "c", "contact": "p", "contact_name": null}),
        );
        assert!(paths.is_empty());
        let (paths, erased) = visited(
            "ConversationStarted",
            json!({"contact": "p", "contact_name": "Jana", "handle": "+420"}),
        );
        assert_eq!(paths, ["contact_name", "handle"]);
        assert_eq!(
            erased,
            json!({"contact": "p", "contact_name": null, "handle": null})
        );
    }

    #[test]
    fn only_the_kinds_that_carry_a_person_have_personal_fields() {
        for name in EventKind::NAMES {
            let expected = matches!(
                *name,
                "ConversationStarted"
                    | "OutboundConversationStarted"
                    | "CustomerMessageReceived"
                    | "AgentMessageSent"
                    | "CustomerPresenceChanged"
            );
            assert_eq!(!personal_fields(name).is_empty(), expected, "{name}");
        }
    }
}
