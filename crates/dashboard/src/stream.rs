//! The pages' Server-Sent Events streams: a list page's rows, and a machine's summary,
//! timeline and new log lines. Each waits on the views' change counter (see `views.rs`), on
//! the boot service's log feed and on the stop, never on a timer, and holds a permit of the
//! per-address bound while it is open.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use ironbell_boot::machine_log::{LogFeed, LogLine};
use ironbell_limits::ConnectionPermit;
use tokio::sync::{broadcast, watch};

use crate::{Dashboard, List, Refused, Shared, render, text};

/// A `swap` event: the element `id` gets `html` as its content.
fn swap(id: &str, html: &str) -> SseEvent {
    SseEvent::default()
        .event("swap")
        .data(format!("{id}\n{html}"))
}

/// A stream permit for `peer`, or the 503 that says why not.
fn stream_permit(d: &Dashboard, peer: SocketAddr) -> Result<ConnectionPermit<IpAddr>, Refused> {
    d.streams.try_acquire(peer.ip()).ok_or(Refused {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "too many open dashboard pages; close some",
        bearer: false,
    })
}

fn sse(stream: impl Stream<Item = SseEvent> + Send + 'static) -> Response {
    let mut r = Sse::new(stream.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::default())
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What a stream waits for next.
enum Wake {
    Changed,
    Log(Result<Arc<LogLine>, broadcast::error::RecvError>),
    Stop,
}

/// Waits for a change of the views, a log line (when `log` is given) or the stop.
async fn wake(
    changes: &mut watch::Receiver<u64>,
    log: Option<&mut broadcast::Receiver<Arc<LogLine>>>,
    stop: &mut watch::Receiver<bool>,
) -> Wake {
    let log = async {
        match log {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        changed = changes.changed() => match changed {
            Ok(()) => Wake::Changed,
            Err(_) => Wake::Stop,
        },
        line = log => Wake::Log(line),
        _ = stop.wait_for(|s| *s) => Wake::Stop,
    }
}

/// The stream of a list page: its rows, rendered again after each change.
pub(crate) async fn list_stream(
    State(d): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(view): Path<String>,
) -> Response {
    let Some(list) = List::of(&view) else {
        return text(StatusCode::NOT_FOUND, "no such stream");
    };
    let permit = match stream_permit(&d, peer) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut changes = d.live.changes();
    changes.mark_changed(); // the rows as they are now, first
    let stop = d.stop.clone();
    let stream = futures::stream::unfold(
        (d, changes, stop, permit),
        move |(d, mut changes, mut stop, permit)| async move {
            match wake(&mut changes, None, &mut stop).await {
                Wake::Changed => {
                    let rows = d.live.read(list.rows);
                    Some((swap(list.id, &rows), (d, changes, stop, permit)))
                }
                Wake::Log(_) | Wake::Stop => None,
            }
        },
    );
    sse(stream)
}

/// The stream of a machine's page: its summary and timeline after each change, and its
/// new log lines.
pub(crate) async fn machine_stream(
    State(d): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let permit = match stream_permit(&d, peer) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut changes = d.live.changes();
    changes.mark_changed();
    let log = d.options.logs.feed.as_ref().map(LogFeed::subscribe);
    let stop = d.stop.clone();
    let who = Arc::new((namespace, name));
    let stream = futures::stream::unfold(
        (d, changes, log, stop, permit),
        move |(d, mut changes, mut log, mut stop, permit)| {
            let who = Arc::clone(&who);
            async move {
                loop {
                    let (namespace, name) = (&who.0, &who.1);
                    let events = match wake(&mut changes, log.as_mut(), &mut stop).await {
                        Wake::Stop => return None,
                        Wake::Changed => d.live.read(|v| match v.machine(namespace, name) {
                            Some(m) => vec![
                                swap("summary", &render::machine_summary(&m)),
                                swap("timeline", &render::timeline_rows(v, &m)),
                            ],
                            None => vec![swap(
                                "summary",
                                "<p class=\"gone\">This Hardware no longer exists.</p>",
                            )],
                        }),
                        Wake::Log(Ok(line)) if line.namespace == *namespace && line.name == *name => {
                            vec![SseEvent::default().event("log").data(line.line.replace('\r', "\\r"))]
                        }
                        Wake::Log(Ok(_)) => continue,
                        Wake::Log(Err(broadcast::error::RecvError::Lagged(n))) => {
                            vec![SseEvent::default().event("log").data(format!(
                                "[dashboard] {n} log lines of the plane were skipped: this page fell behind"
                            ))]
                        }
                        Wake::Log(Err(broadcast::error::RecvError::Closed)) => {
                            log = None;
                            continue;
                        }
                    };
                    return Some((
                        futures::stream::iter(events),
                        (d, changes, log, stop, permit),
                    ));
                }
            }
        },
    )
    .flatten();
    sse(stream)
}
