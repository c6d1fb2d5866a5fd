//! Slipway's application layer: one function per thing a user can do or read, each taking the
//! caller first and one typed input, and returning typed output or one [`Error`].
//!
//! Every edge — the JSON API, the dashboard's server functions, the command line, later MCP —
//! calls these functions and only these: they authorise ([`Services::authorize`]), validate, act
//! on the ports in [`Services`], announce the change on the bus and log it. An edge parses its
//! transport's input, calls one function and maps the error's kind to its own answer; none of
//! them validates, queries or authorises on its own.

mod access;
pub mod accounts;
pub mod artifacts;
pub mod audit;
pub mod bundle;
pub mod caller;
pub mod credentials;
pub mod deliveries;
pub mod error;
pub mod github_levels;
pub mod github_sign_in;
pub mod notifications;
mod notify;
pub mod parse;
pub mod pipelines;
pub mod previews;
pub mod readiness;
pub mod repositories;
pub mod secret_box;
pub mod secrets;
pub mod step_logs;
pub mod teams;
pub mod tokens;
pub mod transform_queue;
pub mod transforms;
pub mod usage;
pub mod users;

pub use accounts::Accounts;
pub use bundle::{ClusterEntry, NO_CLUSTER, Services};
pub use caller::Caller;
pub use error::{Error, Result};
