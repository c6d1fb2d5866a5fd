//! The page for addresses the dashboard does not know.

use leptos::prelude::*;

use crate::components::PageHeader;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(leptos::server_fn::http_export::StatusCode::NOT_FOUND);
    }
    view! {
        <PageHeader title="Page not found" description="There is nothing at this address." />
        <a href="/" class="text-sm font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Back to previews"</a>
    }
}
