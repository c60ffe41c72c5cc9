//! Reading the fields of a provider's webhook JSON: ids that come as numbers or strings, lists
//! that may be left out, strings that must be there and non-empty, and an object's keys for a
//! note. Shared by the three parsers; it must never decide what an item means.

use serde_json::Value;

/// An integer or non-empty string id, as text. Providers send some ids one way or the other,
/// and Viber's tokens reach 2^63, beyond what a float keeps exactly, so integers are never read
/// through `f64`.
pub(crate) fn id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) if number.is_u64() || number.is_i64() => Some(number.to_string()),
        _ => None,
    }
}

/// An array field, or nothing: providers leave out the lists they have nothing for.
pub(crate) fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A non-empty string at `pointer`, or why not: an empty id is as useless as a missing one.
pub(crate) fn required<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, String> {
    optional(value, pointer)
        .ok_or_else(|| format!("`{}` is missing or not a non-empty string", dotted(pointer)))
}

/// A non-empty string at `pointer`, if there is one.
pub(crate) fn optional<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// `/a/b` as `a.b`, the way a refusal names a field.
pub(crate) fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// An object's keys, sorted and joined: what a note says of an event it has no use for.
pub(crate) fn keys(value: &Value) -> String {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys.join(", ")
}
