//! Slipway's model and rules, and the ports (traits) its adapters implement.
//!
//! Nothing here knows about HTTP, databases, object stores or message brokers: the `server`
//! crate implements the ports, the `app` crate renders the plain data types. This crate also
//! compiles for wasm, so the dashboard and the server share one definition of every type.

pub mod bus;
pub mod cluster;
pub mod delivery;
pub mod error;
pub mod git_host;
pub mod health;
pub mod identity;
pub mod notification;
pub mod oauth;
pub mod objects;
pub mod pipeline;
pub mod preview;
pub mod preview_comment;
pub mod pull_request;
pub mod quantity;
pub mod report;
pub mod repository;
pub mod secrets;
pub mod state;
pub mod store;
pub mod time;
pub mod transform;

pub use bus::{Bus, BusError, BusEvent, EntityKind};
pub use cluster::{Cluster, ClusterError};
pub use delivery::{Delivery, DeliveryFilter, DeliveryStatus, DeliveryStore, NewDelivery};
pub use error::{ErrorKind, error_chain};
pub use health::{DependencyCheck, Readiness};
pub use objects::{ObjectKey, ObjectMeta, Objects, ObjectsError};
pub use repository::{NewRepository, Repository, RepositoryError, RepositoryId};
pub use state::{StateMachine, UnknownState};
pub use store::{Store, StoreError};
