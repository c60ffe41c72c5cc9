//! How read models show instants: RFC 3339 in UTC with milliseconds, as the API's history does
//! (and read back, for snapshots). This module must never read the clock.

use routing_core::Timestamp;
use serde::{Deserialize, Deserializer, Serializer};

pub fn format(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| at.as_millis().to_string())
}

/// The instant `text` names, as [`format`] wrote it.
pub fn parse(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| Timestamp::from_millis(t.timestamp_millis()))
        .or_else(|| text.parse().ok().map(Timestamp::from_millis))
}

pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*at))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}")))
}

pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        at: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_some(&format(*at)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => parse(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}"))),
            None => Ok(None),
        }
    }
}
