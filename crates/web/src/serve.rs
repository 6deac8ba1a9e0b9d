//! Running the app on a socket, with graceful shutdown.

use crate::app::{app, AppState};
use std::future::Future;
use std::net::SocketAddr;

/// Binds `addr` and serves until `shutdown` resolves (e.g. [`ctrl_c`]); requests in flight
/// finish first.
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
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

/// Resolves on ctrl-c (or never, when the signal cannot be installed).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
