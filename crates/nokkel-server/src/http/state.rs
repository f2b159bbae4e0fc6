//! The handle handlers get through axum's `State`: the services' [`Deps`] behind an `Arc`.

use std::ops::Deref;
use std::sync::Arc;

use crate::services::Deps;

/// Cheaply clonable handle to [`Deps`] for axum's `State`.
#[derive(Clone)]
pub struct AppState(Arc<Deps>);

impl AppState {
    /// Wraps the dependencies.
    pub fn new(deps: Deps) -> Self {
        Self(Arc::new(deps))
    }

    /// The shared dependencies, for tasks that outlive a request.
    pub fn deps(&self) -> Arc<Deps> {
        self.0.clone()
    }
}

impl Deref for AppState {
    type Target = Deps;

    fn deref(&self) -> &Deps {
        &self.0
    }
}
