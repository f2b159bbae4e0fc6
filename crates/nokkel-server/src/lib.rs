//! The Nøkkel identity server as a library: configuration, store, services and the HTTP
//! application. `nokkel serve` (in nokkel-cli) is a thin wrapper around [`serve`].
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod demo;
pub mod dev;
pub mod i18n;
pub mod letter;
pub mod oidc;
pub mod secrets;
pub mod serve;
pub mod services;
pub mod state;
pub mod store;
pub mod web;

pub use config::Config;
pub use state::{AppState, Deps};
pub use web::app;
