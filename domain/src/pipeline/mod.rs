//! Pipelines: what `.platform.yaml` defines (steps, artifacts, triggers), how steps are ordered,
//! and — with the `platform-file` feature, which the server enables and the wasm dashboard does
//! not — how the file is parsed, validated and described as a JSON Schema.

pub mod artifact;
pub mod dag;
pub mod definition;
#[cfg(feature = "platform-file")]
pub mod file;
#[cfg(feature = "platform-file")]
pub mod parse;
pub mod run;
pub mod runner;
pub mod store;
#[cfg(feature = "platform-file")]
pub mod trigger;

/// The pipeline executor's name on the bus (`BusEvent::Wake { worker }`).
pub const PIPELINE_WORKER: &str = "pipelines";

pub use dag::{Dag, StepStatus};
pub use definition::{
    ArtifactDefinition, DefinitionError, DefinitionErrors, PipelineDefinition, Schedule,
    StepDefinition, StepResources, Triggers,
};
pub use run::{
    LogLine, NewPipeline, PipelineFilter, PipelineId, PipelineRun, PipelineStatus, PublishedImage,
    RETRY_FAILED_STEPS, ScheduleEntry, StepOutcome, StepRun, TriggerKind, step_log_key,
    step_log_parts_prefix, step_log_stream,
};
pub use runner::{ArtifactSink, Runner, RunnerError, StepExit, StepSpec, StopReason, StopSignal};
pub use store::{PipelineOutputStore, PipelineStore, ScheduleStore};

/// The JSON Schema of `.platform.yaml`, for editors (`slipway schema pipeline`).
#[cfg(feature = "platform-file")]
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(file::PlatformFile).to_value()
}
