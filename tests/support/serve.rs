//! An axum router served on 127.0.0.1 (a free port) from a thread of its own, for the local
//! stand-ins tests need (receivers, metric targets); stopped and joined on drop.

use std::thread::JoinHandle;

use axum::Router;

/// A running server; stops when dropped.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Binds a free loopback port and serves `app` on it until dropped.
    pub fn start(app: Router) -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Served {
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A scrape target: `GET /metrics` answers `render(seconds since start)`, so counters can
    /// grow at fixed rates whatever the scrape times.
    pub fn metrics(render: impl Fn(f64) -> String + Clone + Send + Sync + 'static) -> Served {
        let started = std::time::Instant::now();
        let app = Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let text = render(started.elapsed().as_secs_f64());
                async move { text }
            }),
        );
        Served::start(app)
    }

    /// `host:port`, as a scrape target is written.
    pub fn host_port(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
