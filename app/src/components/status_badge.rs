//! A coloured badge for a pipeline, step or preview status (`succeeded`, `failed`, `running`,
//! `deploying`, …).

use leptos::prelude::*;

/// The badge's Tailwind tone for a status word.
pub fn tone(status: &str) -> &'static str {
    match status {
        "succeeded" | "completed" => {
            "bg-emerald-50 text-emerald-700 ring-emerald-600/20 dark:bg-emerald-950 dark:text-emerald-300"
        }
        "failed" | "cleanup_failed" | "timed_out" | "dead_lettered" | "partially_failed" => {
            "bg-rose-50 text-rose-700 ring-rose-600/20 dark:bg-rose-950 dark:text-rose-300"
        }
        "running" | "deploying" | "building" | "deleting" => {
            "bg-sky-50 text-sky-700 ring-sky-600/20 dark:bg-sky-950 dark:text-sky-300"
        }
        "pending" | "queued" | "scheduled" => {
            "bg-amber-50 text-amber-700 ring-amber-600/20 dark:bg-amber-950 dark:text-amber-300"
        }
        _ => "bg-slate-100 text-slate-600 ring-slate-500/20 dark:bg-slate-800 dark:text-slate-300",
    }
}

#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let pulse = (status == "running").then_some("animate-pulse");
    let class = format!(
        "inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}",
        tone(&status)
    );
    let data_status = status.clone();
    view! {
        <span
            class=class
            data-testid="status-badge"
            data-status=data_status
        >
            <span class=format!("h-1.5 w-1.5 rounded-full bg-current {}", pulse.unwrap_or(""))></span>
            {status}
        </span>
    }
}

/// `1234` ms → `1.2 s`; `75000` → `1m 15s`; `None` → `—`.
pub fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 60_000 => format!("{:.1} s", ms.max(0) as f64 / 1000.0),
        Some(ms) => {
            let secs = ms / 1000;
            if secs < 3600 {
                format!("{}m {}s", secs / 60, secs % 60)
            } else {
                format!("{}h {}m", secs / 3600, secs % 3600 / 60)
            }
        }
    }
}

/// How long ago, from `now_ms` (the server's clock, so server and browser render alike):
/// `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn age(now_ms: i64, then_ms: i64) -> String {
    let secs = (now_ms - then_ms).max(0) / 1000;
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A preview's status: a running preview is the good outcome (green), moving states pulse.
#[component]
pub fn PreviewBadge(status: domain::preview::PreviewStatus) -> impl IntoView {
    use domain::preview::PreviewStatus;
    let tone = match status {
        PreviewStatus::Running => tone("succeeded"),
        other => tone(other.as_str()),
    };
    let pulse = if status.is_active() {
        "animate-pulse"
    } else {
        ""
    };
    view! {
        <span
            class=format!("inline-flex items-center gap-1 whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {tone}")
            data-testid="status-badge"
            data-status=status.as_str()
        >
            <span class=format!("h-1.5 w-1.5 rounded-full bg-current {pulse}")></span>
            {status.label()}
        </span>
    }
}
