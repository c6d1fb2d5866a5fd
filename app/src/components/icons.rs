//! Inline SVG icons (stroke style), so the dashboard needs no icon font or extra request.

use leptos::prelude::*;

/// The icon set used in navigation and empty states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Previews,
    Pipelines,
    Transforms,
    Operator,
    Deliveries,
    Settings,
    Audit,
    Sun,
    Moon,
    Logo,
}

impl Icon {
    fn path(self) -> &'static str {
        match self {
            Self::Previews => {
                "M3 5.25A2.25 2.25 0 0 1 5.25 3h13.5A2.25 2.25 0 0 1 21 5.25v9.5A2.25 2.25 0 0 1 18.75 17H5.25A2.25 2.25 0 0 1 3 14.75v-9.5ZM8 21h8m-4-4v4"
            }
            Self::Pipelines => {
                "M6 3v12m0 0a3 3 0 1 0 0 6 3 3 0 0 0 0-6Zm12-6a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm0 0a9 9 0 0 1-9 9"
            }
            // Several documents stacked: one change, many repositories.
            Self::Transforms => {
                "M8 7V5a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-2M5 8h9a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-9a2 2 0 0 1 2-2Zm2 6h5m-5 3h3"
            }
            Self::Operator => "M4 19h16M7 16V9m5 7V5m5 11v-4",
            Self::Deliveries => {
                "M21.75 6.75v10.5a2.25 2.25 0 0 1-2.25 2.25h-15a2.25 2.25 0 0 1-2.25-2.25V6.75m19.5 0A2.25 2.25 0 0 0 19.5 4.5h-15a2.25 2.25 0 0 0-2.25 2.25m19.5 0-9.75 6.5-9.75-6.5"
            }
            Self::Settings => {
                "M10.5 6h9.75M10.5 6a1.5 1.5 0 1 1-3 0m3 0a1.5 1.5 0 1 0-3 0M3.75 6H7.5m3 12h9.75m-9.75 0a1.5 1.5 0 0 1-3 0m3 0a1.5 1.5 0 0 0-3 0m-3.75 0H7.5m9-6h3.75m-3.75 0a1.5 1.5 0 0 1-3 0m3 0a1.5 1.5 0 0 0-3 0m-9.75 0h9.75"
            }
            Self::Audit => {
                "M9 12h6m-6 4h6m2 5H7a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h5.59a1 1 0 0 1 .7.29l5.42 5.42a1 1 0 0 1 .29.7V19a2 2 0 0 1-2 2Z"
            }
            Self::Sun => {
                "M12 3v2.25m6.36.39-1.59 1.59M21 12h-2.25m-.39 6.36-1.59-1.59M12 18.75V21m-4.77-4.23-1.59 1.59M5.25 12H3m4.23-4.77L5.64 5.64M15.75 12a3.75 3.75 0 1 1-7.5 0 3.75 3.75 0 0 1 7.5 0Z"
            }
            Self::Moon => {
                "M21.75 15A9.72 9.72 0 0 1 18 15.75 9.75 9.75 0 0 1 8.25 6c0-1.33.27-2.6.75-3.75A9.75 9.75 0 0 0 3 11.25 9.75 9.75 0 0 0 12.75 21a9.75 9.75 0 0 0 9-6Z"
            }
            Self::Logo => "M3 17.5 12 4l9 13.5M6.5 20h11M12 4v16",
        }
    }
}

/// Renders `icon` at `class` size (e.g. `size-5`).
#[component]
pub fn IconSvg(icon: Icon, #[prop(into, optional)] class: String) -> impl IntoView {
    view! {
        <svg
            class=class
            xmlns="http://www.w3.org/2000/svg"
            fill="none"
            viewBox="0 0 24 24"
            stroke-width="1.6"
            stroke="currentColor"
            aria-hidden="true"
        >
            <path stroke-linecap="round" stroke-linejoin="round" d=icon.path() />
        </svg>
    }
}
