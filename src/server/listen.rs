//! Accepting connections with the limits `axum::serve` does not set.
//!
//! `axum::serve` gives hyper no timer, so a client may take for ever to send its headers
//! (slowloris: a socket and a task each, before any token is checked), and its graceful
//! shutdown waits for every open connection, half-sent ones included. This loop serves the same
//! router with hyper's header read timeout and a deadline on each request body, and on shutdown stops accepting, asks every
//! connection to close once its request is answered, then waits (at most the grace period) only
//! for the connections that have sent a whole request head: the requests in flight. Past
//! `connections.max_connections` open at once, a new connection is answered 503 and closed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;
use tower_http::timeout::DeadlineBody;

use crate::connections::ConnectionLimits;

/// Pause after a failed accept (out of file descriptors): the error would repeat at once.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The whole answer to a connection past `connections.max_connections`, in the JSON API's
/// error shape; written before any byte is read, then the connection is closed.
const TOO_MANY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 106\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"slogate has all the connections it takes open; retry\"}}";

/// Serves `app` on `listener` until `shutdown` resolves, then finishes the requests in flight
/// (at most `limits.shutdown_grace`). Returns whether every one of them finished in time.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let (stop, stopped) = watch::channel(false);
    // Open connections that have begun at least one request.
    let busy = Arc::new(watch::Sender::new(0usize));
    let open = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = open.clone().try_acquire_owned() else {
            metrics::counter!(crate::telemetry::names::ERRORS, "kind" => "connections")
                .increment(1);
            tokio::spawn(refuse(stream));
            continue;
        };
        let connection = Connection {
            builder: builder.clone(),
            app: app.clone(),
            busy: Arc::new(Busy {
                count: busy.clone(),
                counted: AtomicBool::new(false),
            }),
            stopped: stopped.clone(),
            body_read_timeout: limits.body_read_timeout,
        };
        tokio::spawn(connection.run(stream, slot));
    }
    drop(listener);
    let _ = stop.send(true);
    let mut idle = busy.subscribe();
    let finished = tokio::time::timeout(limits.shutdown_grace, idle.wait_for(|n| *n == 0)).await;
    finished.is_ok()
}

/// One accepted connection and what it needs to serve itself.
struct Connection {
    /// hyper's settings (header read timeout, timer).
    builder: Builder<TokioExecutor>,
    /// The routes.
    app: Router,
    /// Counts this connection as busy from its first request on.
    busy: Arc<Busy>,
    /// Becomes `true` on shutdown.
    stopped: watch::Receiver<bool>,
    /// How long a request's body may take to arrive.
    body_read_timeout: Duration,
}

impl Connection {
    /// Serves the connection; `_slot` is its place under `max_connections`, given back when
    /// the connection ends.
    async fn run(mut self, stream: TcpStream, _slot: OwnedSemaphorePermit) {
        let busy = self.busy.clone();
        let app = self.app.clone();
        let body_deadline = self.body_read_timeout;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            busy.mark();
            // The whole body within the deadline, however slowly it trickles in.
            let request = request.map(|body| Body::new(DeadlineBody::new(body_deadline, body)));
            app.clone().oneshot(request)
        });
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = self.stopped.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
        }
        // Shutting down: the request in flight is answered, then the connection closes.
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

/// Answers a connection past the limit with [`TOO_MANY`] and closes it; a client that does not
/// read it within a second is dropped.
async fn refuse(mut stream: TcpStream) {
    let answered = async {
        stream.write_all(TOO_MANY).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answered).await;
}

/// Marks a connection busy from its first request until it closes (the drop of the last
/// clone, held by the connection's service).
struct Busy {
    /// Busy connections of the server.
    count: Arc<watch::Sender<usize>>,
    /// Whether this connection is counted in `count`.
    counted: AtomicBool,
}

impl Busy {
    fn mark(&self) {
        if !self.counted.swap(true, Ordering::SeqCst) {
            self.count.send_modify(|n| *n += 1);
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if *self.counted.get_mut() {
            self.count.send_modify(|n| *n -= 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TOO_MANY;

    #[test]
    fn the_refusal_is_a_whole_http_answer_with_a_json_body_of_its_stated_length() {
        let text = std::str::from_utf8(TOO_MANY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }
}
