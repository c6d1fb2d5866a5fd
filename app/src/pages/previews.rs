//! Previews: every pull request's environment. Until previews exist, explains how to get one.

use leptos::prelude::*;

use super::repositories_phrase;
use crate::api::list_repositories;
use crate::components::icons::Icon;
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader};

#[component]
pub fn PreviewsPage() -> impl IntoView {
    let repositories = Resource::new(|| (), |_| list_repositories());
    view! {
        <PageHeader title="Previews" description="A running environment for every open pull request, with its own URL." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match repositories.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState
                            icon=Icon::Previews
                            title="No previews yet"
                            body="Connect a repository, then open a pull request: Slipway deploys it to its own namespace, posts the URL on the pull request and removes it when the pull request closes."
                            action=Some(("Connect a repository", "/settings"))
                        />
                    }.into_any(),
                    Ok(list) => view! {
                        <EmptyState
                            icon=Icon::Previews
                            title="No open pull requests have a preview"
                            body=format!("Watching {}. A preview appears here as soon as a matching pull request is opened.", repositories_phrase(list.len()))
                        />
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
