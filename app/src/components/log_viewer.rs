//! A step's log, followed live: the browser opens the log's event stream
//! (`/api/pipelines/{id}/steps/{step}/logs`), which sends the lines already written and then
//! each new one. The viewer keeps the last N lines (100, 500, 1000 or all), shows ANSI colours,
//! optional timestamps, filters by a search, scrolls along while following, and links the
//! whole log for download. Without JavaScript it offers the plain-text log.

use domain::pipeline::LogLine;
use leptos::prelude::*;

use super::ansi::spans;

const TAILS: [(usize, &str); 4] = [(100, "100"), (500, "500"), (1000, "1000"), (0, "all")];
const CONTROL: &str = "rounded-md border border-slate-300 bg-white px-2 py-1 text-xs dark:border-slate-700 dark:bg-slate-950";

#[component]
pub fn LogViewer(pipeline: i64, #[prop(into)] step: String) -> impl IntoView {
    let (tail, set_tail) = signal(500usize);
    let (timestamps, set_timestamps) = signal(false);
    let (search, set_search) = signal(String::new());
    let (follow, set_follow) = signal(true);
    let lines = RwSignal::new(Vec::<LogLine>::new());
    let outcome = RwSignal::new(None::<String>);
    let base = format!("/api/pipelines/{pipeline}/steps/{step}/logs");
    let download = format!("{base}?download=true&timestamps=true");
    let plain = base.clone();
    let body = NodeRef::<leptos::html::Pre>::new();

    #[cfg(feature = "hydrate")]
    {
        use super::event_stream::{Source, push_bounded, scroll_along};
        let base = base.clone();
        let source = StoredValue::new_local(None::<Source>);
        Effect::new(move |_| {
            let tail = tail.get();
            lines.set(Vec::new());
            outcome.set(None);
            source.update_value(|s| *s = None);
            let url = if tail == 0 {
                format!("{base}?follow=true")
            } else {
                format!("{base}?follow=true&tail={tail}")
            };
            let opened = Source::open(
                &url,
                "line",
                move |data| {
                    let Ok(line) = serde_json::from_str::<LogLine>(&data) else {
                        return;
                    };
                    lines.try_update(|all| push_bounded(all, line, tail));
                },
                move |data| {
                    outcome.try_set(Some(step_ended(&data)));
                },
            );
            source.set_value(opened);
        });
        scroll_along(lines, follow, body);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&base, tail, follow);

    let shown = move || {
        let needle = search.get().to_lowercase();
        lines.with(|all| {
            all.iter()
                .filter(|line| needle.is_empty() || line.text.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let matches = move || {
        let needle = search.get();
        (!needle.is_empty()).then(|| format!("{} matching", shown().len()))
    };
    view! {
        <section class="rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900" data-testid="log-viewer">
            <div class="flex flex-wrap items-center gap-3 border-b border-slate-200 px-4 py-2 text-xs dark:border-slate-800">
                <span class="font-semibold">{format!("Log · {step}")}</span>
                <label class="flex items-center gap-1">
                    "Last"
                    <select class=CONTROL data-testid="log-tail" on:change=move |ev| set_tail.set(event_target_value(&ev).parse().unwrap_or(500))>
                        {TAILS.into_iter().map(|(n, label)| view! { <option value=n.to_string() selected=n == 500>{label}</option> }).collect_view()}
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
                <input type="search" placeholder="Search the log" class=CONTROL data-testid="log-search" on:input=move |ev| set_search.set(event_target_value(&ev)) />
                <span class="text-slate-500">{matches}</span>
                <a href=download class="ml-auto font-medium text-indigo-600 hover:underline dark:text-indigo-400" data-testid="log-download">"Download"</a>
                <a href=plain class="font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Raw"</a>
            </div>
            <pre node_ref=body class="max-h-[32rem] min-h-40 overflow-auto bg-slate-950 p-4 font-mono text-xs leading-5 text-slate-100" data-testid="log-lines">
                <For each=shown key=|line| line.seq let:line>
                    <div data-seq=line.seq>
                        {move || timestamps.get().then(|| view! { <span class="mr-2 select-none text-slate-500">{domain::time::utc(line.at_ms).get(11..19).unwrap_or_default().to_owned()}</span> })}
                        {spans(&line.text).into_iter().map(|span| view! { <span class=span.class>{span.text}</span> }).collect_view()}
                    </div>
                </For>
            </pre>
            <p class="border-t border-slate-200 px-4 py-2 text-xs text-slate-500 dark:border-slate-800" data-testid="log-outcome">
                {move || outcome.get().unwrap_or_else(|| "Following the log…".to_owned())}
            </p>
        </section>
    }
}

/// "Step succeeded", "Step failed: exit code 2", from the `end` event's data.
#[cfg(feature = "hydrate")]
fn step_ended(data: &str) -> String {
    let Ok(end) = serde_json::from_str::<serde_json::Value>(data) else {
        return "Step ended".to_owned();
    };
    let status = end["status"].as_str().unwrap_or("ended");
    match end["reason"].as_str() {
        Some(reason) => format!("Step {status}: {reason}"),
        None => format!("Step {status}"),
    }
}
