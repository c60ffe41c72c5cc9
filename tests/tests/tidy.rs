//! Architecture rules checked by the build rather than by memory: `routing-core` does no IO, reads
//! no clock, draws no random number and depends on no other crate of the workspace; `connectors`
//! reads bytes and does no IO.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn routing_core_depends_on_nothing_that_does_io_or_tells_the_time() {
    let manifest = std::fs::read_to_string(workspace().join("routing-core/Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap();
    let dependencies = manifest["dependencies"].as_table().unwrap();
    // rustc-hash: a fixed hash (no random seed), for lookup-only maps of configured ids.
    let allowed = ["rustc-hash", "serde", "serde_json", "thiserror", "uuid"];
    for name in dependencies.keys() {
        assert!(
            allowed.contains(&name.as_str()),
            "routing-core must stay pure: dependency '{name}' is not on the allowed list {allowed:?}"
        );
    }
    // uuid, if used, only as a type: no generation features, which read the clock or an RNG.
    if let Some(uuid) = dependencies.get("uuid").and_then(|u| u.as_table()) {
        let features: Vec<&str> = uuid
            .get("features")
            .and_then(|f| f.as_array())
            .map(|f| f.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        for feature in features {
            assert!(
                !["v1", "v4", "v6", "v7", "rng", "fast-rng"].contains(&feature),
                "routing-core's uuid must not generate ids (feature '{feature}')"
            );
        }
        assert_eq!(
            uuid.get("default-features").and_then(|d| d.as_bool()),
            Some(false),
            "routing-core's uuid must be declared without default features"
        );
    }
}

#[test]
fn routing_core_sources_never_read_a_clock_do_io_or_iterate_a_hash_map() {
    let forbidden = [
        "SystemTime",
        "Instant::now",
        "std::time",
        "std::fs",
        "std::net",
        "std::io",
        "std::thread",
        "HashMap",
        "HashSet",
        "rand::",
        "tokio",
        "async fn",
        ".await",
        "new_v4",
        "now_v7",
    ];
    let mut files = Vec::new();
    rust_files(&workspace().join("routing-core/src"), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // A fixed-hash map is allowed as a lookup table only: every use of such a field is a
        // `get`, so its order can never reach a decision.
        let lookups: Vec<String> = text
            .lines()
            .filter_map(|line| {
                let (field, ty) = line.trim().split_once(':')?;
                ty.trim_start()
                    .starts_with("FxHashMap<")
                    .then(|| field.trim().to_string())
            })
            .collect();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for field in &lookups {
                for (at, _) in code.match_indices(&format!("{field}.")) {
                    let rest = &code[at + field.len() + 1..];
                    assert!(
                        rest.starts_with("get("),
                        "{}:{}: `{field}` is a lookup table; only `get` it: {line}",
                        file.display(),
                        number + 1
                    );
                }
            }
            let code = code.replace("FxHashMap", "");
            for word in forbidden {
                assert!(
                    !code.contains(word),
                    "{}:{}: routing-core must not use `{word}`: {line}",
                    file.display(),
                    number + 1
                );
            }
        }
    }
}

#[test]
fn only_api_gateway_knows_http_and_only_event_store_knows_the_storage() {
    for krate in ["routing-core", "projections", "event-store", "connectors"] {
        let manifest = std::fs::read_to_string(workspace().join(krate).join("Cargo.toml")).unwrap();
        let manifest: toml::Table = toml::from_str(&manifest).unwrap();
        let dependencies = manifest["dependencies"].as_table().unwrap();
        for http in ["axum", "hyper", "tower", "tower-http", "reqwest"] {
            assert!(
                !dependencies.contains_key(http),
                "{krate} must not depend on {http}"
            );
        }
        if krate != "event-store" {
            for storage in ["redb", "tokio-postgres", "sqlx", "postgres"] {
                assert!(
                    !dependencies.contains_key(storage),
                    "{krate} must not depend on {storage}"
                );
            }
        }
    }
    let projections = std::fs::read_to_string(workspace().join("projections/Cargo.toml")).unwrap();
    let projections: toml::Table = toml::from_str(&projections).unwrap();
    assert!(
        !projections["dependencies"]
            .as_table()
            .unwrap()
            .contains_key("tokio"),
        "projections are pure folds: no runtime"
    );
}

#[test]
fn connectors_read_bytes_and_do_no_io() {
    let manifest = std::fs::read_to_string(workspace().join("connectors/Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap();
    let dependencies = manifest["dependencies"].as_table().unwrap();
    for runtime in ["tokio", "event-store", "projections"] {
        assert!(
            !dependencies.contains_key(runtime),
            "connectors must not depend on {runtime}"
        );
    }
    let mut files = Vec::new();
    rust_files(&workspace().join("connectors/src"), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in [
                "std::fs",
                "std::net",
                "std::env",
                "SystemTime",
                "Instant::now",
            ] {
                assert!(
                    !code.contains(word),
                    "{}:{}: connectors must not use `{word}`: {line}",
                    file.display(),
                    number + 1
                );
            }
        }
    }
}
