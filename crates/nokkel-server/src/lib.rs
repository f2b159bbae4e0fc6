//! The Nøkkel identity server as a library: HTTP app, services and store.
#![forbid(unsafe_code)]

pub mod store;
