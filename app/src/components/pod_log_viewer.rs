//! The log of a preview's pod, followed live: the browser opens
//! `/api/previews/{id}/logs?follow=true` for the chosen pod, last N lines (100, 500, 1000) and
//! timestamps (the kubelet's), and shows each new line as it comes. Without JavaScript it
//! offers the plain-text log.

use leptos::prelude::*;

use super::ansi::spans;

const TAILS: [u32; 3] = [100, 500, 1000];
const CONTROL: &str = "rounded-md border border-slate-300 bg-white px-2 py-1 text-xs dark:border-slate-700 dark:bg-slate-950";

#[component]
pub fn PodLogViewer(preview: i64, pods: Vec<String>) -> impl IntoView {
    let (pod, set_pod) = signal(pods.first().cloned().unwrap_or_default());
    let (tail, set_tail) = signal(100u32);
    let (timestamps, set_timestamps) = signal(false);
    let (follow, set_follow) = signal(true);
    let lines = RwSignal::new(Vec::<String>::new());
    let ended = RwSignal::new(None::<String>);
    let body = NodeRef::<leptos::html::Pre>::new();
    let url = move || {
        format!(
            "/api/previews/{preview}/logs?pod={}&tail={}&timestamps={}",
            pod.get(),
            tail.get(),
            timestamps.get()
        )
    };

    #[cfg(feature = "hydrate")]
    {
        use super::event_stream::{Source, push_bounded, scroll_along};
        let source = StoredValue::new_local(None::<Source>);
        Effect::new(move |_| {
            let url = format!("{}&follow=true", url());
            lines.set(Vec::new());
            ended.set(None);
            source.update_value(|s| *s = None);
            let limit = tail.get_untracked() as usize;
            let opened = Source::open(
                &url,
                "message",
                move |line| {
                    lines.try_update(|all| push_bounded(all, line, limit));
                },
                move |data| {
                    ended.try_set(Some(log_ended(&data)));
                },
            );
            source.set_value(opened);
        });
        scroll_along(lines, follow, body);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (follow, ended);

    if pods.is_empty() {
        return view! {
            <p class="rounded-lg bg-slate-50 px-4 py-6 text-center text-sm text-slate-500 dark:bg-slate-900 dark:text-slate-400" data-testid="no-pods">
                "No pods are running in this preview."
            </p>
        }
        .into_any();
    }
    view! {
        <section class="rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900" data-testid="pod-logs">
            <div class="flex flex-wrap items-center gap-3 border-b border-slate-200 px-4 py-2 text-xs dark:border-slate-800">
                <label class="flex items-center gap-1">
                    "Pod"
                    <select class=CONTROL data-testid="log-pod" on:change=move |ev| set_pod.set(event_target_value(&ev))>
                        {pods.iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label class="flex items-center gap-1">
                    "Last"
                    <select class=CONTROL data-testid="log-tail" on:change=move |ev| set_tail.set(event_target_value(&ev).parse().unwrap_or(100))>
                        {TAILS.into_iter().map(|n| view! { <option value=n.to_string() selected=n == 100>{n.to_string()}</option> }).collect_view()}
                    </select>
                    "lines"
                </label>
                <label class="flex items-center gap-1">
                    <input type="checkbox" data-testid="log-timestamps" on:change=move |ev| set_timestamps.set(event_target_checked(&ev)) />
                    "Timestamps"
                </label>
                <label class="flex items-center gap-1">
                    <input type="checkbox" checked=true data-testid="log-follow" on:change=move |ev| set_follow.set(event_target_checked(&ev)) />
                    "Follow"
                </label>
                <a href=url class="ml-auto font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Raw"</a>
            </div>
            <pre node_ref=body class="max-h-[28rem] min-h-32 overflow-auto bg-slate-950 p-4 font-mono text-xs leading-5 text-slate-100" data-testid="log-lines">
                {move || lines.get().into_iter().map(|line| view! {
                    <div>{spans(&line).into_iter().map(|span| view! { <span class=span.class>{span.text}</span> }).collect_view()}</div>
                }).collect_view()}
            </pre>
            <p class="border-t border-slate-200 px-4 py-2 text-xs text-slate-500 dark:border-slate-800">
                {move || ended.get().unwrap_or_else(|| "Following the log…".to_owned())}
            </p>
        </section>
    }
    .into_any()
}

/// Why a followed pod log ended, from the `end` event's data.
#[cfg(feature = "hydrate")]
fn log_ended(data: &str) -> String {
    serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "The container stopped.".to_owned())
}
