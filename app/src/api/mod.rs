//! Server functions: thin edges that take the request's caller, build the application layer's
//! input from the page's form or query, call one `services` function and map its error. Reads
//! use GET so they can be cached and retried.

mod account;
mod deliveries;
mod instance;
mod members;
mod notifications;
mod pipelines;
mod previews;
mod repositories;
mod transforms;

pub use account::{
    CreateMyToken, NewToken, RevokeMyToken, TokenInput, create_my_token, get_me, list_my_tokens,
    revoke_my_token,
};
pub use deliveries::{
    DeliveryDetail, DeliveryQuery, PAGE as DELIVERY_PAGE, RedeliverDelivery, get_delivery,
    list_deliveries, redeliver_delivery,
};
pub use instance::get_instance_info;
pub use members::{
    AUDIT_PAGE, AuditQuery, AuditRows, CreateTeam, DeleteTeam, Members, SetMemberRole,
    SetTeamGrant, SetTeamMember, list_audit, list_members,
};
pub use notifications::{
    RedeliverNotification, Subscribe, SubscribeInput, Unsubscribe, list_notification_deliveries,
    list_subscriptions, redeliver_notification, subscribe, unsubscribe,
};
pub use pipelines::{
    CancelPipeline, PAGE as PIPELINE_PAGE, PipelineQuery, RetryPipeline, TriggerInput,
    TriggerPipeline, get_pipeline, list_artifacts, list_pipelines,
};
pub use previews::{
    DeletePreview, PAGE as PREVIEW_PAGE, PreviewList, PreviewQuery, RetryPreview, get_preview,
    get_usage_report, list_previews,
};
pub use repositories::{
    AddRepository, AddRepositoryInput, PreviewRulesInput, RemoveRepository, RemoveSecret,
    ReportingInput, SecretInput, SetPreviewRules, SetReporting, SetSecret, add_repository,
    list_repositories, list_secrets, remove_repository, set_preview_rules, set_reporting,
};
pub use transforms::{
    CancelTransformRun, PAGE as TRANSFORM_PAGE, RetryFailedTransforms, RetryTransformExecution,
    SetTransformQueue, StartTransform, get_transform_output, get_transform_queue,
    get_transform_run, list_transform_runs,
};
