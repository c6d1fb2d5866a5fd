//! Server functions: thin wrappers that fetch the request's services, call one port or domain
//! rule, and map the error. Reads use GET so they can be cached and retried.

mod instance;
mod repositories;

pub use instance::{InstanceInfo, get_instance_info};
pub use repositories::{
    AddRepository, AddRepositoryInput, RemoveRepository, add_repository, list_repositories,
    remove_repository,
};
