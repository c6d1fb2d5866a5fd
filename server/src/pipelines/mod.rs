//! Pipelines: runs of a repository's `.platform.yaml`. Runs are created (API and dashboard,
//! through the application layer, `services::pipelines`; later pushes, pull requests and schedules), claimed by the
//! executor, and run step by step through the Runner with their logs redacted, streamed live
//! and stored.

pub mod artifacts;
pub mod collect;
pub mod environment;
pub mod executor;
pub mod kubernetes;
pub mod local;
pub mod logs;
pub mod persist;
pub mod redact;
pub mod run;
pub mod scheduler;
pub mod source;
pub mod step;
pub mod step_pod;
