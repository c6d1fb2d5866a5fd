//! Preview environments: what `preview:` in `.platform.yaml` asks for, the namespace and
//! objects a pull request's environment gets, its states, and how the Store keeps it. With the
//! `platform-file` feature, also how the `preview:` section is parsed and validated.

pub mod definition;
#[cfg(feature = "platform-file")]
pub mod file;
pub mod model;
pub mod namespace;
#[cfg(feature = "platform-file")]
pub mod parse;
pub mod status;
pub mod store;
pub mod template;

/// The preview worker's name on the bus (`BusEvent::Wake { worker }`).
pub const PREVIEW_WORKER: &str = "previews";

pub use definition::{PreviewDefinition, PreviewKind};
pub use model::{Preview, PreviewAttempt, PreviewFilter, PreviewUsage, UsageReport};
pub use namespace::preview_namespace;
pub use status::{AttemptStatus, PreviewStatus};
pub use store::{AttemptOutcome, ClaimedAttempt, PreviewStore};
