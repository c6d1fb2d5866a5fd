//! Integration tests for the `slipway` server against real services: SQLite, PostgreSQL
//! (127.0.0.1:5432), redis-server and an S3-protocol server (s3s-fs) started per test on
//! loopback. One binary, so the suite links once.

#![expect(
    clippy::expect_used,
    reason = "fixtures and helpers fail the test loudly when the environment is broken"
)]

mod access_matrix;
mod access_world;
mod api_fuzz;
mod backup;
mod bus;
mod cli;
mod cluster;
mod cluster_clients;
mod cluster_limits;
mod cluster_logs;
mod cluster_objects;
mod cluster_observe;
mod deploy_files;
mod edges;
mod fake_github;
mod fault_proxy;
mod faults;
mod github;
mod github_reports;
mod github_sign_in;
mod http;
mod identity;
mod mcp;
mod mcp_transforms;
mod metrics;
mod notifications;
mod objects;
mod openapi;
mod pipeline_support;
mod pipeline_triggers;
mod pipelines_kubernetes;
mod pipelines_local;
mod preview_deployments;
mod preview_kinds;
mod preview_support;
mod previews;
mod project_routes;
mod rbac;
mod reconcile;
mod secret_sweep;
mod services_layer;
mod slow_clients;
mod store;
mod store_deliveries;
mod store_notifications;
mod store_pipelines;
mod store_previews;
mod store_pull_requests;
mod store_reports;
mod store_transforms;
mod support;
mod transforms_kubernetes;
mod transforms_local;
mod transforms_redis;
mod transforms_states;
mod verify_deployment;
mod webhook_events;
mod webhooks;
