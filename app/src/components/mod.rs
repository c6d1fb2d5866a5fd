//! Building blocks shared by the pages.

pub mod access;
pub mod ansi;
pub mod confirm;
pub mod empty_state;
#[cfg(feature = "hydrate")]
pub mod event_stream;
pub mod icons;
pub mod layout;
pub mod log_viewer;
pub mod page_header;
pub mod pod_log_viewer;
pub mod status_badge;
pub mod theme;
pub mod usage;

pub use confirm::Confirm;
pub use empty_state::EmptyState;
pub use page_header::PageHeader;
pub use status_badge::StatusBadge;

use leptos::prelude::*;

use crate::error::AppError;

/// A compact, readable error box for a failed server call.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    view! {
        <div role="alert" class="rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800 dark:border-rose-900 dark:bg-rose-950/50 dark:text-rose-200">
            {error.message}
        </div>
    }
}

/// Placeholder shown while data loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class="animate-pulse space-y-3" aria-busy="true" aria-label="Loading">
            <div class="h-4 w-1/3 rounded bg-slate-200 dark:bg-slate-800"></div>
            <div class="h-24 rounded-xl bg-slate-200 dark:bg-slate-800"></div>
        </div>
    }
}
