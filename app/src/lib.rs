//! Slipway's dashboard: the HTML shell, the router, pages, components and the server functions
//! they call. Compiled twice: with `ssr` into the server, with `hydrate` into the wasm bundle.

pub mod api;
mod components;
#[cfg(feature = "ssr")]
mod context;
pub mod error;
mod live;
mod pages;

/// Entry points for `cargo fuzz` (`fuzz/`, built with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzzing {
    /// Renders `line` as the log viewer does: no escape character is ever shown, and nothing
    /// is invented.
    pub fn ansi(line: &str) {
        let shown: String = crate::components::ansi::spans(line)
            .into_iter()
            .map(|span| span.text)
            .collect();
        assert!(!shown.contains('\u{1b}'), "an escape shows in {shown:?}");
        assert!(
            shown.len() <= line.len(),
            "{shown:?} is longer than {line:?}"
        );
    }
}

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use components::layout::Layout;
use pages::{
    AuditPage, DeliveriesPage, DeliveryPage, MembersPage, NotFoundPage, OperatorPage, PipelinePage,
    PipelinesPage, PreviewPage, PreviewsPage, SettingsPage, TransformPage, TransformsPage,
};

/// Applies the saved or preferred colour theme before first paint, so dark mode never flashes.
const THEME_BOOTSTRAP: &str = "try{var t=localStorage.getItem('slipway-theme');\
if(t==='dark'||(!t&&matchMedia('(prefers-color-scheme: dark)').matches)){document.documentElement.classList.add('dark')}}catch(e){}";

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <script>{THEME_BOOTSTRAP}</script>
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

/// The dashboard: layout with navigation, and one route per page. Pages render on the server
/// with their data (`SsrMode::Async`), so they are complete without JavaScript.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/slipway.css" />
        <Title formatter=|page: String| format!("{page} · Slipway") />
        <Router>
            <Layout>
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=PreviewsPage ssr=SsrMode::Async />
                    <Route path=path!("/previews") view=PreviewsPage ssr=SsrMode::Async />
                    <Route path=path!("/previews/:id") view=PreviewPage ssr=SsrMode::Async />
                    <Route path=path!("/pipelines") view=PipelinesPage ssr=SsrMode::Async />
                    <Route path=path!("/pipelines/:id") view=PipelinePage ssr=SsrMode::Async />
                    <Route path=path!("/transforms") view=TransformsPage ssr=SsrMode::Async />
                    <Route path=path!("/transforms/:id") view=TransformPage ssr=SsrMode::Async />
                    <Route path=path!("/operator") view=OperatorPage ssr=SsrMode::Async />
                    <Route path=path!("/deliveries") view=DeliveriesPage ssr=SsrMode::Async />
                    <Route path=path!("/deliveries/:id") view=DeliveryPage ssr=SsrMode::Async />
                    <Route path=path!("/settings") view=SettingsPage ssr=SsrMode::Async />
                    <Route path=path!("/settings/members") view=MembersPage ssr=SsrMode::Async />
                    <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
