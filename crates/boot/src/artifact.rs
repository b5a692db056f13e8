//! The files of port 7171: HookOS artifacts (`GET /{file}`, from
//! [`crate::http::Config::artifacts_dir`]) and iPXE binaries (`GET /ipxe/binary/{mac}/{file}`).
//!
//! Both are looked up through [`ironbell_tftp::FileSource::open`], the one confinement
//! function the TFTP server uses too: names with `..`, `.`, empty components, NUL or `\`
//! are refused, and a directory source opens with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS)`, so a symlink may point elsewhere inside the artifacts
//! directory but never out of it (such a name gets **403**), and only regular files are
//! served (**404** otherwise). The iPXE binaries are the in-memory copies the TFTP server
//! serves ([`crate::service::ipxe_binaries`]), read once from the operator's directory.
//!
//! Served here rather than by `tower_http::services::ServeDir`, which opens the path it
//! joined and follows symlinks out of the directory: the response streams from the very
//! descriptor the confined open returned. What that costs is the `Range` handling, kept
//! small: one range gets **206** with `Content-Range`, an unsatisfiable one **416**, a
//! multi-range request the whole file (RFC 9110 lets a server ignore `Range`), and a
//! malformed header is ignored. Paths are percent-decoded before the name rules apply.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ironbell_tftp::{FileSource, OpenFile, SourceError};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tracing::{debug, warn};

use crate::http::text as plain;

/// Answers a `GET` or `HEAD` for `name` (as it appears in the URL path, still
/// percent-encoded) from `source`, honouring a single `Range`.
pub(crate) async fn serve(
    source: &FileSource,
    name: &str,
    method: &Method,
    range: Option<&HeaderValue>,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD".to_string(),
        );
    }
    let Ok(decoded) = percent_encoding::percent_decode_str(name).decode_utf8() else {
        return plain(StatusCode::BAD_REQUEST, format!("{name:?} is not UTF-8"));
    };
    let decoded = decoded.into_owned();
    let lookup = source.clone();
    let wanted = decoded.clone();
    let opened = match tokio::task::spawn_blocking(move || lookup.open(&wanted)).await {
        Ok(result) => result,
        Err(join) => {
            warn!(file = %decoded, "artifact lookup task failed: {join}");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "lookup failed".to_string(),
            );
        }
    };
    let file = match opened {
        Ok(f) => f,
        Err(e @ SourceError::Refused { .. }) => {
            debug!(file = %decoded, "artifact refused: {e}");
            return plain(StatusCode::FORBIDDEN, format!("{decoded:?} is not served"));
        }
        Err(SourceError::NotFound(_)) => {
            return plain(StatusCode::NOT_FOUND, format!("no file {decoded:?}"));
        }
        Err(e @ SourceError::Io { .. }) => {
            warn!(file = %decoded, "cannot open the artifact: {e}");
            return plain(StatusCode::FORBIDDEN, format!("{decoded:?} cannot be read"));
        }
    };
    respond(file, method, range).await
}

/// The response for an opened file: whole, one range, or 416.
async fn respond(file: OpenFile, method: &Method, range: Option<&HeaderValue>) -> Response {
    let len = file.len();
    let ranges = range
        .and_then(|v| v.to_str().ok())
        .and_then(|v| http_range_header::parse_range_header(v).ok())
        .map(|parsed| parsed.validate(len));
    let (status, start, count) = match ranges {
        Some(Ok(r)) if r.len() == 1 => {
            let (a, b) = (*r[0].start(), *r[0].end());
            if len == 0 || a > b {
                return unsatisfiable(len);
            }
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        Some(Err(_)) => return unsatisfiable(len),
        _ => (StatusCode::OK, 0, len),
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        match body(file, start, count).await {
            Ok(b) => b,
            Err(e) => {
                warn!("cannot read the artifact: {e}");
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "read failed".to_string());
            }
        }
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{len}", start + count - 1);
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

/// `count` bytes from `start`: a slice of memory, or a stream from the opened descriptor.
async fn body(file: OpenFile, start: u64, count: u64) -> std::io::Result<Body> {
    match file {
        OpenFile::Memory(bytes) => {
            let from = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let to = usize::try_from(start.saturating_add(count))
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            Ok(Body::from(bytes.slice(from..to)))
        }
        OpenFile::File { file, .. } => {
            let mut f = tokio::fs::File::from_std(file.try_clone()?);
            f.seek(std::io::SeekFrom::Start(start)).await?;
            let stream = tokio_util::io::ReaderStream::with_capacity(f.take(count), 64 * 1024);
            Ok(Body::from_stream(stream))
        }
    }
}

fn unsatisfiable(len: u64) -> Response {
    let mut resp = plain(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range not satisfiable".to_string(),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
        resp.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(range: Option<&str>, method: Method) -> (u16, Option<String>, Vec<u8>) {
        let file = OpenFile::Memory(axum::body::Bytes::from_static(b"0123456789"));
        let header = range.map(|r| HeaderValue::from_str(r).expect("header"));
        let resp = respond(file, &method, header.as_ref()).await;
        let status = resp.status().as_u16();
        let content_range = resp
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, content_range, body.to_vec())
    }

    #[tokio::test]
    async fn ranges() {
        let whole = (200, None, b"0123456789".to_vec());
        assert_eq!(get(None, Method::GET).await, whole);
        let r = |s: &str| Some(s.to_string());
        assert_eq!(
            get(Some("bytes=2-4"), Method::GET).await,
            (206, r("bytes 2-4/10"), b"234".to_vec())
        );
        assert_eq!(
            get(Some("bytes=-3"), Method::GET).await,
            (206, r("bytes 7-9/10"), b"789".to_vec())
        );
        assert_eq!(
            get(Some("bytes=8-100"), Method::GET).await,
            (206, r("bytes 8-9/10"), b"89".to_vec())
        );
        for unsatisfiable in ["bytes=20-", "bytes=-11", "bytes=5-2"] {
            let (status, range, _) = get(Some(unsatisfiable), Method::GET).await;
            assert_eq!((status, range), (416, r("bytes */10")), "{unsatisfiable}");
        }
        // Several ranges, or a header that is not a byte range: the whole file.
        assert_eq!(get(Some("bytes=0-1,4-5"), Method::GET).await, whole);
        assert_eq!(get(Some("lines=1-2"), Method::GET).await, whole);
        assert_eq!(get(None, Method::HEAD).await, (200, None, Vec::new()));
    }
}
