//! What the signed-in person may do, for offering only the buttons they can use (the server
//! decides regardless): their `Me`, fetched once by the layout and shared with every page.

use domain::identity::{InstanceRole, Level, Me};
use leptos::prelude::*;

use crate::error::AppError;

/// The signed-in person, as the layout fetched them.
#[derive(Clone, Copy)]
pub struct Viewer(pub Resource<Result<Me, AppError>>);

/// The viewer the layout provides; `None` outside it.
pub fn viewer() -> Option<Viewer> {
    use_context::<Viewer>()
}

/// Whether `me` holds `needed` on the repository called `repository`.
pub fn holds(me: &Me, repository: &str, needed: Level) -> bool {
    me.repositories
        .iter()
        .any(|r| r.name == repository && r.level >= needed)
}

/// Whether `me` may delete a preview of `repository`: write on it, or the operator role
/// (with a session, or a token of write scope).
pub fn may_clean_up(me: &Me, repository: &str) -> bool {
    let operator = matches!(me.user.role, InstanceRole::Operator | InstanceRole::Admin)
        && me.token.as_ref().is_none_or(|t| t.scope >= Level::Write);
    operator || holds(me, repository, Level::Write)
}

/// The viewer's `Me`, once fetched (for a page's async block).
pub async fn me() -> Option<Me> {
    match viewer() {
        Some(viewer) => viewer.0.await.ok(),
        None => None,
    }
}
