//! A page's title and one-line description.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PageHeader(#[prop(into)] title: String, #[prop(into)] description: String) -> impl IntoView {
    view! {
        <Title text=title.clone() />
        <header class="mb-8">
            <h1 class="text-2xl font-semibold tracking-tight">{title}</h1>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{description}</p>
        </header>
    }
}
