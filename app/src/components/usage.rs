//! Resource figures as people read them (`250m`, `1.5 GiB`) and a small bar of used against
//! a limit, amber past 80%.

use leptos::prelude::*;

/// `250` → `250m`; `2000` → `2 cores`.
pub fn millicores(m: u64) -> String {
    if m >= 1000 && m.is_multiple_of(1000) {
        format!("{} cores", m / 1000)
    } else {
        format!("{m}m")
    }
}

/// `536870912` → `512 MiB`.
pub fn bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mib = b as f64 / MIB;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

#[component]
pub fn Bar(
    label: &'static str,
    used: Option<u64>,
    limit: Option<u64>,
    show: fn(u64) -> String,
) -> impl IntoView {
    let share = match (used, limit) {
        (Some(u), Some(l)) if l > 0 => Some((u as f64 / l as f64).min(1.0)),
        _ => None,
    };
    let colour = if share.is_some_and(|s| s >= domain::preview::model::WARNING_SHARE) {
        "bg-amber-500"
    } else {
        "bg-indigo-500"
    };
    let text = format!(
        "{} / {}",
        used.map_or("unknown".to_owned(), show),
        limit.map_or("no limit".to_owned(), show)
    );
    view! {
        <div data-testid="usage-bar" data-label=label>
            <div class="flex justify-between text-xs"><span class="font-medium">{label}</span><span class="text-slate-500">{text}</span></div>
            <div class="mt-1 h-1.5 w-full overflow-hidden rounded-full bg-slate-100 dark:bg-slate-800">
                <div class=format!("h-full {colour}") style=format!("width: {:.0}%", share.unwrap_or(0.0) * 100.0)></div>
            </div>
        </div>
    }
}
