//! The frame around every page: sidebar navigation, theme switch and the main column.

use leptos::prelude::*;
use leptos_router::components::A;

use super::access::{Viewer, viewer};
use super::icons::{Icon, IconSvg};
use super::theme::ThemeToggle;
use crate::api::get_me;

const NAV: [(&str, &str, Icon); 7] = [
    ("/previews", "Previews", Icon::Previews),
    ("/pipelines", "Pipelines", Icon::Pipelines),
    ("/transforms", "Transforms", Icon::Transforms),
    ("/operator", "Operator", Icon::Operator),
    ("/deliveries", "Deliveries", Icon::Deliveries),
    ("/settings", "Settings", Icon::Settings),
    ("/audit", "Audit log", Icon::Audit),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Set once the wasm bundle has taken over the page; browser tests wait for it.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    // Who is signed in, once for the menu and for every page's buttons.
    provide_context(Viewer(Resource::new(|| (), |_| get_me())));
    view! {
        <div class="min-h-screen md:flex" data-hydrated=move || hydrated.get().to_string()>
            <aside class="border-b border-slate-200 bg-white md:sticky md:top-0 md:flex md:h-screen md:w-60 md:flex-col md:border-r md:border-b-0 dark:border-slate-800 dark:bg-slate-900">
                <a href="/" class="flex items-center gap-2 px-5 py-5 text-lg font-semibold tracking-tight">
                    <span class="grid size-8 place-items-center rounded-lg bg-indigo-600 text-white shadow-sm">
                        <IconSvg icon=Icon::Logo class="size-5" />
                    </span>
                    "Slipway"
                </a>
                <nav aria-label="Main" class="flex gap-1 overflow-x-auto px-3 pb-3 md:flex-1 md:flex-col md:overflow-visible">
                    {NAV
                        .into_iter()
                        .map(|(href, label, icon)| {
                            view! {
                                <A
                                    href=href
                                    attr:class="flex items-center gap-3 whitespace-nowrap rounded-lg px-3 py-2 text-sm font-medium text-slate-600 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700 dark:text-slate-400 dark:hover:bg-slate-800 dark:hover:text-slate-100 dark:aria-[current=page]:bg-indigo-950 dark:aria-[current=page]:text-indigo-300"
                                >
                                    <IconSvg icon class="size-5" />
                                    {label}
                                </A>
                            }
                        })
                        .collect_view()}
                </nav>
                <UserMenu />
                <div class="hidden px-3 pb-4 md:block">
                    <ThemeToggle />
                </div>
            </aside>
            <main class="min-w-0 flex-1 px-4 py-8 sm:px-8 lg:px-12">
                <div class="mx-auto max-w-6xl">{children()}</div>
            </main>
        </div>
    }
}

/// Who is signed in, and signing out (this browser, or every session of theirs).
#[component]
fn UserMenu() -> impl IntoView {
    let me = viewer().map(|v| v.0);
    view! {
        <Suspense fallback=|| ()>
            {move || {
                me.and_then(|me| me.get())
                    .and_then(Result::ok)
                    .map(|me| {
                        let role = me.user.role.as_str();
                        view! {
                            <div class="flex items-center justify-between gap-2 border-t border-slate-200 px-5 py-3 text-sm dark:border-slate-800">
                                <span class="min-w-0">
                                    <span data-testid="signed-in-as" class="block truncate font-medium">{me.user.login.clone()}</span>
                                    <span class="block text-xs text-slate-500 dark:text-slate-400">{role}</span>
                                </span>
                                <span class="flex flex-col items-end">
                                    <form method="post" action="/auth/logout">
                                        <button type="submit" class="rounded-lg px-2 py-1 text-slate-600 hover:bg-slate-100 hover:text-slate-900 dark:text-slate-400 dark:hover:bg-slate-800 dark:hover:text-slate-100">
                                            "Sign out"
                                        </button>
                                    </form>
                                    <form method="post" action="/auth/logout?everywhere=true">
                                        <button type="submit" class="px-2 text-xs text-slate-500 hover:underline dark:text-slate-400" data-testid="sign-out-everywhere">
                                            "everywhere"
                                        </button>
                                    </form>
                                </span>
                            </div>
                        }
                    })
            }}
        </Suspense>
    }
}
