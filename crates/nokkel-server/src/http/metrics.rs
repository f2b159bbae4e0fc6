//! `GET /metrics` in the Prometheus text format, on its own listener
//! (`metrics_listen`), never on the public one.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::services::stats;

/// The metrics application: `/metrics` only.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(err) = stats::refresh(&state).await {
        // The counters are still worth serving; the gauges keep their last values.
        tracing::warn!(error = %err, "metrics gauges could not be read");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::recorder().render(),
    )
        .into_response()
}
