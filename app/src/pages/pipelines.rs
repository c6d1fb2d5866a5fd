//! Pipelines: runs of each repository's `.platform.yaml`. Until runs exist, explains how to start one.

use leptos::prelude::*;

use super::repositories_phrase;
use crate::api::list_repositories;
use crate::components::icons::Icon;
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader};

const SAMPLE: &str =
    "steps:\n  - name: test\n    image: rust:1.95\n    commands:\n      - cargo test\n";

#[component]
pub fn PipelinesPage() -> impl IntoView {
    let repositories = Resource::new(|| (), |_| list_repositories());
    view! {
        <PageHeader title="Pipelines" description="Steps from each repository's .platform.yaml, run on every push and pull request." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match repositories.await {
                    Ok(list) => {
                        let (title, action) = if list.is_empty() {
                            ("No pipelines yet".to_owned(), Some(("Connect a repository", "/settings")))
                        } else {
                            (format!("No pipeline has run in your {} yet", repositories_phrase(list.len())), None)
                        };
                        view! {
                            <EmptyState
                                icon=Icon::Pipelines
                                title
                                body="Add a .platform.yaml to the repository's default branch; every push then runs its steps, with live logs here."
                                action
                            >
                                <pre class="overflow-x-auto rounded-lg bg-slate-900 p-4 font-mono text-xs text-slate-100">{SAMPLE}</pre>
                            </EmptyState>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
