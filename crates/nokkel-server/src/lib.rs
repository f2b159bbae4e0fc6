//! The Nøkkel identity server as a library: configuration, store, services and the HTTP
//! application. `nokkel serve` (in nokkel-cli) is a thin wrapper around [`serve`].
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod http;
pub mod i18n;
pub mod letter;
pub mod metrics;
pub mod secrets;
pub mod serve;
pub mod services;
pub mod store;

pub use config::Config;
pub use http::{app, AppState};
pub use services::Deps;
