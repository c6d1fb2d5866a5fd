//! Light/dark theme switch: toggles the `dark` class on `<html>` and remembers the choice.
//! The shell's bootstrap script applies the saved choice before first paint.

use leptos::prelude::*;

use super::icons::{Icon, IconSvg};

const STORAGE_KEY: &str = "slipway-theme";

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let dark = RwSignal::new(false);
    Effect::new(move |_| dark.set(current_is_dark()));
    let toggle = move |_| {
        let next = !dark.get_untracked();
        apply(next);
        dark.set(next);
    };
    view! {
        <button
            type="button"
            on:click=toggle
            data-testid="theme-toggle"
            class="inline-flex items-center gap-2 rounded-lg px-3 py-2 text-sm text-slate-600 hover:bg-slate-100 hover:text-slate-900 dark:text-slate-400 dark:hover:bg-slate-800 dark:hover:text-slate-100"
            aria-label=move || if dark.get() { "Switch to light theme" } else { "Switch to dark theme" }
        >
            <Show when=move || dark.get() fallback=|| view! { <IconSvg icon=Icon::Moon class="size-4" /> }>
                <IconSvg icon=Icon::Sun class="size-4" />
            </Show>
            <span>{move || if dark.get() { "Light theme" } else { "Dark theme" }}</span>
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn current_is_dark() -> bool {
    document()
        .document_element()
        .is_some_and(|root| root.class_list().contains("dark"))
}

#[cfg(not(feature = "hydrate"))]
fn current_is_dark() -> bool {
    false
}

#[cfg(feature = "hydrate")]
fn apply(dark: bool) {
    if let Some(root) = document().document_element() {
        let _ = root.class_list().toggle_with_force("dark", dark);
    }
    if let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.set_item(STORAGE_KEY, if dark { "dark" } else { "light" });
    }
}

#[cfg(not(feature = "hydrate"))]
fn apply(_dark: bool) {
    let _ = STORAGE_KEY;
}
