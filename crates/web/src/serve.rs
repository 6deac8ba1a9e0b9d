//! Running the app on a socket: bounded connections, header and request timeouts, and a graceful
//! shutdown with a deadline.
//!
//! A participant's browser, a bot or a broken proxy may open a connection and send half a
//! request; nothing it does can hold the server:
//! * request headers must arrive within [`HEADER_TIMEOUT`] (hyper's `header_read_timeout`),
//!   the whole request within [`crate::app::REQUEST_TIMEOUT`] (408 otherwise);
//! * at most [`MAX_CONNECTIONS`] connections are served at once; more wait in the kernel's
//!   backlog until one closes;
//! * on shutdown the listener closes, idle connections close at once, requests in flight get
//!   up to [`SHUTDOWN_DEADLINE`] to finish, and whatever is left is dropped.

use crate::app::{app, AppState};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long requests in flight may run once shutdown began.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Binds `addr` and serves until `shutdown` resolves (e.g. [`ctrl_c`]); requests in flight
/// finish first, within [`SHUTDOWN_DEADLINE`].
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(state, listener, shutdown).await
}

/// Serves on a listener already bound (tests bind `127.0.0.1:0` and read the port first).
pub async fn serve_on(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(state, listener, shutdown, SHUTDOWN_DEADLINE).await
}

/// [`serve_on`] with another shutdown deadline.
pub async fn serve_with(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
) -> std::io::Result<()> {
    let router = app(state);
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a little, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let io = hyper_util::rt::TokioIo::new(stream);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
            let connection = builder.serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(deadline, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        eprintln!(
            "rectify-web: {} connection(s) still open {} s after shutdown began; closing them",
            connections.len(),
            deadline.as_secs()
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Resolves once the watch says stop (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves on ctrl-c (or never, when the signal cannot be installed).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
