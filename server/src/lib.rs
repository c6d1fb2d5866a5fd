//! The `slipway` binary's library: configuration, adapters for the domain's ports, HTTP routes
//! and process wiring. `main.rs` only parses the command line and calls into here.

pub mod accounts_cli;
pub mod backup;
pub mod bus;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod first_admin;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod github;
pub mod healthcheck;
pub mod http;
pub mod http_server;
pub mod mcp;
pub mod metrics;
pub mod notifications;
pub mod objects;
pub mod pipelines;
pub mod platform_file;
pub mod previews;
pub mod reconcile;
pub mod reports;
pub mod serve;
pub mod signing;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod transforms;
pub mod webhooks;
