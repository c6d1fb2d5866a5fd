//! Transform runs: one change (a dependency bump, a codemod, an agent's edit) tried across
//! many repositories in sandboxed executions, each keeping its log, patch and summary, with
//! nothing written to GitHub. The spec and how it is validated (with the `platform-file`
//! feature), which repositories it selects, the run and execution state machines, the
//! Store's part, and the `ExecuteTransform` task the Redis queue carries.

pub mod definition;
#[cfg(feature = "platform-file")]
pub mod file;
#[cfg(feature = "platform-file")]
pub mod parse;
pub mod patch;
pub mod queue;
pub mod run;
#[cfg(feature = "platform-file")]
pub mod select;
pub mod store;
#[cfg(feature = "platform-file")]
pub mod task;
pub mod test_report;
pub mod view;

/// The transform worker's name on the bus (`BusEvent::Wake { worker }`).
pub const TRANSFORM_WORKER: &str = "transforms";

pub use definition::{TransformSpec, TransformStep};
pub use queue::{TaskQueue, TaskStreamState};
pub use run::{
    DiffSummary, Execution, ExecutionOutcome, ExecutionStatus, ExecutionTotals, FileChange,
    NewTransformRun, TransformRun, TransformRunId, TransformRunStatus,
};
pub use store::{
    ClaimedExecution, KeyedClaim, QueueState, Renewal, TransformRunFilter, TransformStore,
};
pub use view::{ExecutionOutput, ExecutionView, TransformRunDetail};

/// The JSON Schema of a transform spec, for editors (`slipway schema transform`).
#[cfg(feature = "platform-file")]
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(file::TransformFile).to_value()
}
