//! The contacts' keys in memory: who each handle is to the core (their pseudonym), and the key
//! their personal data is sealed under in the log.
//!
//! The engine gives every customer a pseudonym the first time it hears of them, so that the log
//! and the core's state route on a random id, never on a phone number. Personal fields (see
//! `routing_core::privacy`) are sealed under the contact's key when an event is stored and
//! opened when one is read; once the key is shredded they read as erased. The durable copy of
//! every key is the vault (`event_store::vault`); this module holds what the vault holds, and
//! must never keep a shredded key or write a key or a handle to the log.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use event_store::vault::{ContactKey, SealError, SubjectKey};
use routing_core::ids::ExternalContactId;
use routing_core::privacy::visit_personal;
use routing_core::{ConnectorId, EventKind};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;
use thiserror::Error;

/// The marker every sealed value's JSON starts with, to skip opening events that hold none.
const SEALED_MARK: &[u8] = b"\"sealed\":";

#[derive(Debug, Error)]
pub enum SealingError {
    #[error("no randomness for a key or nonce: {0}")]
    Random(#[from] SealError),
    #[error("a {0} event with personal data names no contact to seal it under")]
    NoSubject(&'static str),
    #[error("a stored payload is not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the vault knows, in memory.
#[derive(Default)]
struct Entries {
    /// `connector:handle` → subject.
    by_lookup: HashMap<String, String>,
    /// Subject (`connector:pseudonym`) → its key and its lookup.
    by_subject: HashMap<String, (SubjectKey, String)>,
}

#[derive(Default)]
pub struct Keyring {
    entries: RwLock<Entries>,
}

/// How the vault and the keyring name a contact: `connector:contact`.
pub fn subject(connector: &ConnectorId, contact: &ExternalContactId) -> String {
    format!("{connector}:{contact}")
}

/// The contact id the core routes on, from a subject.
fn routing_id(subject: &str) -> &str {
    subject.split_once(':').map_or(subject, |(_, id)| id)
}

/// How a handle was resolved for a command.
pub enum Resolved {
    /// Known: route on this id.
    Known(ExternalContactId),
    /// New: route on this id, once `entry` is kept in the vault.
    Minted(ExternalContactId, ContactKey),
    /// Unknown, and the command may not introduce anyone: route on this (the core refuses it).
    Unknown(ExternalContactId),
}

impl Keyring {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        // A panic while holding the lock leaves the maps whole (every change is one insert or
        // remove), so a poisoned lock is still safe to use.
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn insert(&self, entry: ContactKey) {
        let mut entries = self.write();
        if !entry.lookup.is_empty() {
            entries
                .by_lookup
                .insert(entry.lookup.clone(), entry.pseudonym.clone());
        }
        entries
            .by_subject
            .insert(entry.pseudonym, (entry.key, entry.lookup));
    }

    /// Forgets a subject's key and lookup (after it was shredded, or when keeping it failed).
    pub fn forget(&self, subject: &str) {
        let mut entries = self.write();
        if let Some((_, lookup)) = entries.by_subject.remove(subject)
            && entries.by_lookup.get(&lookup).map(String::as_str) == Some(subject)
        {
            entries.by_lookup.remove(&lookup);
        }
    }

    pub fn holds(&self, subject: &str) -> bool {
        self.read().by_subject.contains_key(subject)
    }

    /// The subject a handle is, if it was given one.
    pub fn find(&self, connector: &ConnectorId, handle: &str) -> Option<String> {
        self.read()
            .by_lookup
            .get(&format!("{connector}:{handle}"))
            .cloned()
    }

    /// Who `handle` is to the core. `legacy` says whether the core already routes on the handle
    /// itself (a contact from before pseudonyms), `introduces` whether the command may be the
    /// first the centre hears of them. A handle that happens to equal someone's pseudonym is
    /// never taken for them.
    pub fn resolve(
        &self,
        connector: &ConnectorId,
        handle: &str,
        legacy: bool,
        introduces: bool,
    ) -> Result<Resolved, SealingError> {
        let lookup = format!("{connector}:{handle}");
        let collides = {
            let entries = self.read();
            if let Some(subject) = entries.by_lookup.get(&lookup) {
                return Ok(Resolved::Known(ExternalContactId::new(routing_id(subject))));
            }
            entries.by_subject.contains_key(&lookup)
        };
        if legacy && !collides {
            let entry = ContactKey::named(lookup.clone(), lookup)?;
            self.insert(entry.clone());
            return Ok(Resolved::Minted(ExternalContactId::new(handle), entry));
        }
        if !introduces {
            return Ok(Resolved::Unknown(if collides {
                // Route on an id nobody has: the core refuses it as unknown.
                ExternalContactId::new(format!("unknown-{}", uuid::Uuid::now_v7()))
            } else {
                ExternalContactId::new(handle)
            }));
        }
        let mut entry = ContactKey::mint(lookup)?;
        let pseudonym = entry.pseudonym.clone();
        entry.pseudonym = format!("{connector}:{pseudonym}");
        self.insert(entry.clone());
        Ok(Resolved::Minted(ExternalContactId::new(pseudonym), entry))
    }

    /// The key to seal a subject's data under: theirs, or one made now for a contact from
    /// before pseudonyms that has none yet (returned, to be kept in the vault).
    fn key_to_seal(&self, subject: &str) -> Result<(SubjectKey, Option<ContactKey>), SealingError> {
        if let Some((key, _)) = self.read().by_subject.get(subject) {
            return Ok((key.clone(), None));
        }
        let entry = ContactKey::named(subject.to_owned(), subject.to_owned())?;
        self.insert(entry.clone());
        Ok((entry.key.clone(), Some(entry)))
    }

    /// Seals the personal fields of an encoded event under `subject`'s key. A key made for it
    /// is pushed to `minted`, to be kept in the vault before the event is stored.
    pub fn seal(
        &self,
        event_type: &'static str,
        subject: Option<&str>,
        payload: Vec<u8>,
        minted: &mut Vec<ContactKey>,
    ) -> Result<Vec<u8>, SealingError> {
        if routing_core::privacy::personal_fields(event_type).is_empty() {
            return Ok(payload);
        }
        let mut value: Value = serde_json::from_slice(&payload)?;
        let mut key: Option<SubjectKey> = None;
        visit_personal(event_type, &mut value, |path, field, _| {
            let subject = subject.ok_or(SealingError::NoSubject(event_type))?;
            let key = match &key {
                Some(key) => key.clone(),
                None => {
                    let (found, made) = self.key_to_seal(subject)?;
                    minted.extend(made);
                    key = Some(found.clone());
                    found
                }
            };
            let plaintext = serde_json::to_vec(field)?;
            let sealed = key.seal(&plaintext, context(event_type, path, subject).as_bytes())?;
            *field = serde_json::json!({"sealed": subject, "data": BASE64.encode(sealed)});
            Ok::<(), SealingError>(())
        })?;
        Ok(serde_json::to_vec(&value)?)
    }

    /// Opens the sealed fields of a stored payload: their plaintext while the key exists, what
    /// erased data reads as once it is shredded. The opened payload comes back as JSON, for the
    /// caller to use as it is; `None` when nothing in it is sealed (the stored bytes stand).
    pub fn open(
        &self,
        event_type: &str,
        payload: &[u8],
    ) -> Result<Option<Value>, serde_json::Error> {
        if routing_core::privacy::personal_fields(event_type).is_empty()
            || !payload.windows(SEALED_MARK.len()).any(|w| w == SEALED_MARK)
        {
            return Ok(None);
        }
        let mut value: Value = serde_json::from_slice(payload)?;
        let entries = self.read();
        let opened: Result<(), serde_json::Error> =
            visit_personal(event_type, &mut value, |path, field, erased| {
                let Some((subject, data)) = sealed_parts(field) else {
                    return Ok(());
                };
                let plaintext = entries.by_subject.get(subject).and_then(|(key, _)| {
                    let sealed = BASE64.decode(data).ok()?;
                    match key.open(&sealed, context(event_type, path, subject).as_bytes()) {
                        Ok(plaintext) => Some(plaintext),
                        Err(_) => {
                            // The chain names where bytes were altered; here the field reads
                            // as erased rather than stopping every reader of the log.
                            tracing::error!(event_type, path, "a sealed field does not open");
                            None
                        }
                    }
                });
                *field = match plaintext {
                    Some(bytes) => serde_json::from_slice(&bytes)?,
                    None => erased.value(),
                };
                Ok(())
            });
        opened?;
        Ok(Some(value))
    }
}

/// What a sealed value is bound to: its event type, its place and its subject, so that it opens
/// nowhere else.
fn context(event_type: &str, path: &str, subject: &str) -> String {
    format!("{event_type}/{path}/{subject}")
}

fn sealed_parts(value: &Value) -> Option<(&str, &str)> {
    let object = value.as_object()?;
    if object.len() != 2 {
        return None;
    }
    Some((
        object.get("sealed")?.as_str()?,
        object.get("data")?.as_str()?,
    ))
}

/// The subject whose key seals `event`'s personal data: from the event, from a conversation
/// started earlier in the same command (`started`), or from the state.
pub fn subject_of(
    event: &EventKind,
    state: &routing_core::State,
    started: &HashMap<routing_core::ConversationId, String>,
) -> Option<String> {
    let conversation = match event {
        EventKind::CustomerMessageReceived(e) => Some(e.conversation),
        EventKind::AgentMessageSent(e) => Some(e.conversation),
        _ => None,
    };
    if let Some(found) = conversation.and_then(|c| started.get(&c)) {
        return Some(found.clone());
    }
    routing_core::privacy::subject_of(event, state)
        .map(|(connector, contact)| subject(&connector, &contact))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The payload as a reader gets it: opened, or as stored when nothing was sealed.
    fn read(keyring: &Keyring, event_type: &str, payload: &[u8]) -> Value {
        match ok(keyring.open(event_type, payload)) {
            Some(opened) => opened,
            None => ok(serde_json::from_slice(payload)),
        }
    }

    fn web() -> ConnectorId {
        ConnectorId::new("web")
    }

    const MESSAGE: &str = r#"{"conversation":"c","message_id":"m","text":"my card is 4111","kind":"image","attachments":[{"kind":"image","reference":"https://media/passport.jpg"}]}"#;

    #[test]
    fn personal_fields_are_stored_sealed_and_read_back_opened() {
        let keyring = Keyring::default();
        let Resolved::Minted(pseudonym, entry) = ok(keyring.resolve(&web(), "v-1", false, true))
        else {
            panic!("a new contact gets a pseudonym")
        };
        assert_ne!(pseudonym.as_str(), "v-1");
        assert_eq!(entry.pseudonym, subject(&web(), &pseudonym));
        let mut minted = Vec::new();
        let sealed = ok(keyring.seal(
            "CustomerMessageReceived",
            Some(&entry.pseudonym),
            MESSAGE.as_bytes().to_vec(),
            &mut minted,
        ));
        assert!(minted.is_empty(), "its key was made with its pseudonym");
        let stored = String::from_utf8_lossy(&sealed).into_owned();
        assert!(
            !stored.contains("4111") && !stored.contains("passport"),
            "{stored}"
        );
        assert!(stored.contains(r#""kind":"image""#), "{stored}");
        let opened: Value = read(&keyring, "CustomerMessageReceived", &sealed);
        assert_eq!(opened, ok(serde_json::from_str::<Value>(MESSAGE)));

        // Shredded: the fields read as erased, everything else as it was.
        keyring.forget(&entry.pseudonym);
        let erased: Value = read(&keyring, "CustomerMessageReceived", &sealed);
        assert_eq!(erased["text"], routing_core::privacy::ERASED_TEXT);
        assert_eq!(
            erased["attachments"][0]["reference"],
            routing_core::privacy::ERASED_TEXT
        );
        assert_eq!(erased["attachments"][0]["kind"], "image");
        assert_eq!(
            keyring.find(&web(), "v-1"),
            None,
            "the handle is nobody now"
        );
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let keyring = Keyring::default();
        let Resolved::Minted(_, entry) = ok(keyring.resolve(&web(), "v-1", false, true)) else {
            panic!("minted")
        };
        let sealed = ok(keyring.seal(
            "AgentMessageSent",
            Some(&entry.pseudonym),
            br#"{"text":"secret","email_fallback":"a@b.c"}"#.to_vec(),
            &mut Vec::new(),
        ));
        // The text's sealed value moved into the e-mail field does not open there.
        let mut value: Value = ok(serde_json::from_slice(&sealed));
        value["email_fallback"] = value["text"].clone();
        let moved = ok(serde_json::to_vec(&value));
        let opened: Value = read(&keyring, "AgentMessageSent", &moved);
        assert_eq!(opened["text"], "secret");
        assert_eq!(opened["email_fallback"], Value::Null);
    }

    #[test]
    fn an_event_with_personal_data_and_no_subject_is_not_stored() {
        let keyring = Keyring::default();
        let refused = keyring.seal(
            "CustomerMessageReceived",
            None,
            MESSAGE.as_bytes().to_vec(),
            &mut Vec::new(),
        );
        assert!(matches!(refused, Err(SealingError::NoSubject(_))));
        // Events with nothing personal pass as they are, with or without one.
        let plain = br#"{"conversation":"c","agent":"alice"}"#.to_vec();
        assert_eq!(
            ok(keyring.seal("OfferAccepted", None, plain.clone(), &mut Vec::new())),
            plain
        );
    }

    #[test]
    fn handles_resolve_once_and_never_to_someone_elses_pseudonym() {
        let keyring = Keyring::default();
        let Resolved::Minted(first, _) = ok(keyring.resolve(&web(), "v-1", false, true)) else {
            panic!("minted")
        };
        assert!(matches!(
            ok(keyring.resolve(&web(), "v-1", false, true)),
            Resolved::Known(id) if id == first
        ));
        // A handle that is someone's pseudonym is not them: a new contact, or unknown.
        match ok(keyring.resolve(&web(), first.as_str(), true, false)) {
            Resolved::Unknown(id) => assert_ne!(id, first),
            _ => panic!("unknown"),
        }
        match ok(keyring.resolve(&web(), first.as_str(), false, true)) {
            Resolved::Minted(id, _) => assert_ne!(id, first),
            _ => panic!("a new contact"),
        }
        // A command that may not introduce anyone routes an unknown handle as it is.
        assert!(matches!(
            ok(keyring.resolve(&web(), "v-2", false, false)),
            Resolved::Unknown(id) if id.as_str() == "v-2"
        ));
        // A contact from before pseudonyms keeps routing on their handle, with a key now.
        let Resolved::Minted(legacy, entry) = ok(keyring.resolve(&web(), "+420", true, false))
        else {
            panic!("a key for a known contact")
        };
        assert_eq!(legacy.as_str(), "+420");
        assert_eq!(keyring.find(&web(), "+420"), Some(entry.pseudonym));
    }
}
