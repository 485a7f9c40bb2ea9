//! A loopback TCP proxy in front of a test server that misbehaves on purpose (holds answers
//! back, answers 503, waits for company), so clients can be tested against the failures of a
//! real network without a real network. It binds 127.0.0.1 on a free port, forwards only to the
//! upstream it was given, and stops (with every connection it holds) when dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy does to each connection.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Forward everything, but hold the server's answer back this long.
    Delay(Duration),
    /// Answer the first `first` connections with a plain-text 503 (as a load balancer with no
    /// healthy backend does), forward the later ones.
    Unavailable { first: usize },
    /// Hold every answer until this many connections are open at once, then forward: a client
    /// that sends its requests one after another never gets its first answer.
    Gather(usize),
}

/// A running proxy; dropping it stops it.
pub struct FaultyProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Connections accepted so far (one per HTTP request unless the client reuses one).
    accepted: Arc<AtomicUsize>,
    /// The accept loop; it owns the connection tasks, so aborting it ends them all.
    task: JoinHandle<()>,
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain\r\ncontent-length: 12\r\nconnection: close\r\n\r\nno upstream\n";

impl FaultyProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) doing `fault`.
    pub async fn start(upstream: &str, fault: Fault) -> FaultyProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("an http:// upstream")
            .trim_end_matches('/')
            .to_string();
        assert!(
            upstream.starts_with("127.0.0.1:"),
            "the proxy only forwards to loopback, not to {upstream}"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let barrier = match fault {
            Fault::Gather(n) => Some(Arc::new(Barrier::new(n))),
            _ => None,
        };
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let index = counter.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(
                    client,
                    upstream.clone(),
                    fault,
                    index,
                    barrier.clone(),
                ));
                // Forget finished connections so a long test does not accumulate them.
                while connections.try_join_next().is_some() {}
            }
        });
        FaultyProxy {
            url,
            accepted,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Handles connection number `index` (from 0).
async fn serve(
    mut client: TcpStream,
    upstream: String,
    fault: Fault,
    index: usize,
    barrier: Option<Arc<Barrier>>,
) -> std::io::Result<()> {
    if let Fault::Unavailable { first } = fault
        && index < first
    {
        // Read the whole request first: closing a socket with unread input resets it, and the
        // client would see a reset instead of the 503.
        read_request(&mut client).await?;
        client.write_all(UNAVAILABLE).await?;
        return client.shutdown().await;
    }
    let server = TcpStream::connect(&upstream).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        tokio::io::copy(&mut client_read, &mut server_write).await?;
        server_write.shutdown().await
    };
    let answers = async {
        match (fault, &barrier) {
            (Fault::Delay(delay), _) => tokio::time::sleep(delay).await,
            (Fault::Gather(_), Some(barrier)) => {
                barrier.wait().await;
            }
            _ => {}
        }
        tokio::io::copy(&mut server_read, &mut client_write).await?;
        client_write.shutdown().await
    };
    let (sent, answered) = tokio::join!(requests, answers);
    sent.and(answered)
}

/// Reads one HTTP/1.1 request (head, then a `content-length` body).
async fn read_request(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buffer.len() - head_end;
    while body < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body += n;
    }
    Ok(())
}
