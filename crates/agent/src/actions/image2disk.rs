//! `image2disk`: streams a disk image from an HTTP(S) URL onto a block device (or file).
//!
//! Environment, as Tinkerbell's image2disk reads it:
//! - `IMG_URL` (required): the image's URL.
//! - `DEST_DISK` (required): the block device or file; it must exist.
//! - `COMPRESSED`: `true` → decompress (gzip, xz, zstd or bzip2, recognised by magic
//!   bytes; see [`super::decompress`]); anything else → raw.
//! - `PROGRESS_INTERVAL_SECONDS`: how often progress is logged (default 3).
//! - `RETRY_ENABLED`: `true` → retry a failed download with exponential backoff for
//!   `RETRY_DURATION_MINUTES` (default 10).
//!
//! The copy itself is [`super::stream::copy`]: bounded memory, `fsync` at the end,
//! partition table re-read for a whole disk.

use super::stream::{self, Stats, Target};
use super::{ActionError, ActionSpec, Context, Outcome};
use std::time::{Duration, Instant};

const ACTION: &str = "image2disk";

/// Runs the action.
pub async fn run(spec: &ActionSpec, ctx: &Context) -> Result<Outcome, ActionError> {
    let url = spec.required(ACTION, "IMG_URL")?.to_string();
    let dest = spec.required(ACTION, "DEST_DISK")?.to_string();
    reqwest::Url::parse(&url).map_err(|e| ActionError::BadEnv {
        action: ACTION,
        key: "IMG_URL",
        value: url.clone(),
        reason: e.to_string(),
    })?;
    let progress_interval = spec
        .var("PROGRESS_INTERVAL_SECONDS")
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Duration::from_secs(3), Duration::from_secs);
    let target = Target {
        action: ACTION,
        source_name: url.clone(),
        dest: dest.clone().into(),
        compressed: spec.flag("COMPRESSED"),
        create: false,
        progress_interval,
        digest: None,
    };
    let retry_for = spec.flag("RETRY_ENABLED").then(|| {
        Duration::from_secs(
            60 * spec
                .var("RETRY_DURATION_MINUTES")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(10),
        )
    });
    tracing::info!(%url, %dest, compressed = target.compressed, "writing image");
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    let stats = loop {
        match write(&ctx.http, &url, target.clone()).await {
            Ok(stats) => break stats,
            Err(e) => match retry_for {
                Some(limit) if started.elapsed() + delay < limit => {
                    tracing::warn!(error = %e, retry_in = ?delay, "image2disk failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 3 / 2).min(Duration::from_secs(60));
                }
                _ => return Err(e),
            },
        }
    };
    Ok(Outcome::done(format!(
        "wrote {} bytes from {url} to {dest} in {:.1}s",
        stats.written,
        stats.elapsed.as_secs_f64()
    )))
}

/// One attempt: GET `url` and stream it into `target`.
pub async fn write(
    http: &reqwest::Client,
    url: &str,
    target: Target,
) -> Result<Stats, ActionError> {
    let http_err = |reason: String| ActionError::Http {
        action: target.action,
        url: url.to_string(),
        reason,
    };
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| http_err(crate::error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(http_err(if status == reqwest::StatusCode::NOT_FOUND {
            "not found (404)".into()
        } else {
            format!("status {status}")
        }));
    }
    stream::copy(response, target).await
}
