//! The web console: its files, embedded in the binary at build time and served at `/` and
//! `/console/…` with no key (they hold no data; every call they make carries the signed-in
//! key). The console is a client of the public API only, so this module serves bytes and
//! nothing else: it must never read state or decide anything.

use super::ApiError;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Every file of the console: its path under `/console/`, its media type and its bytes.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    (
        "js/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/api.js"),
    ),
    (
        "js/dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/dom.js"),
    ),
    (
        "js/main.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/main.js"),
    ),
    (
        "js/agent.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/agent.js"),
    ),
    (
        "js/board.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/board.js"),
    ),
    (
        "js/beat.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/beat.js"),
    ),
    (
        "js/chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/chart.js"),
    ),
];

fn serve(path: &str) -> Result<Response, ApiError> {
    let (_, media_type, body) = FILES
        .iter()
        .find(|(name, _, _)| *name == path)
        .ok_or_else(|| ApiError::NotFound(format!("the console has no file {path}")))?;
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    // The files change with the binary: a browser asks again rather than run a stale console.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Nothing from anywhere else: no CDN, no inline script, no framing by another site.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// `GET /`: the console's page.
pub async fn index() -> Result<Response, ApiError> {
    serve("index.html")
}

/// `GET /console/{*file}`: its scripts and stylesheet.
pub async fn file(
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    serve(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module a script imports, and every worker it starts, is served: a missing one would
    /// leave a blank page, or a console that stops beating.
    #[test]
    fn every_import_of_every_script_is_embedded() {
        for (name, _, body) in FILES.iter().filter(|(name, _, _)| name.ends_with(".js")) {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let Some(target) = line.split('"').nth(1) else {
                    panic!("{name}: {line}")
                };
                let path = format!("js/{}", target.trim_start_matches("./"));
                assert!(
                    FILES.iter().any(|(file, _, _)| *file == path),
                    "{name} imports {target}, which is not embedded"
                );
            }
            // Workers are started by path rather than imported.
            for started in body.split("new Worker(\"/console/").skip(1) {
                let Some(path) = started.split('"').next() else {
                    panic!("{name}: {started}")
                };
                assert!(
                    FILES.iter().any(|(file, _, _)| *file == path),
                    "{name} starts worker {path}, which is not embedded"
                );
            }
        }
    }
}
