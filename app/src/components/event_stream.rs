//! The browser's EventSource for a followed log: each event of one name hands its data on; the
//! `end` event hands its data on and closes the source, so the browser does not reconnect to a
//! log that is over. Closed when dropped (a viewer replaces it when its options change). Also
//! what both log viewers do with the lines: keep the last N, and scroll along while following.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

pub struct Source(web_sys::EventSource);

impl Source {
    /// Opens `url`; `on_data` gets the data of every `event` event (`message` for unnamed
    /// ones), `on_end` the data of the `end` event.
    pub fn open(
        url: &str,
        event: &str,
        on_data: impl Fn(String) + 'static,
        on_end: impl Fn(String) + 'static,
    ) -> Option<Self> {
        let source = web_sys::EventSource::new(url).ok()?;
        let data = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |message: web_sys::MessageEvent| {
                if let Some(text) = message.data().as_string() {
                    on_data(text);
                }
            },
        );
        let closer = source.clone();
        let end = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |message: web_sys::MessageEvent| {
                closer.close();
                on_end(message.data().as_string().unwrap_or_default());
            },
        );
        source
            .add_event_listener_with_callback(event, data.as_ref().unchecked_ref())
            .ok()?;
        source
            .add_event_listener_with_callback("end", end.as_ref().unchecked_ref())
            .ok()?;
        // The closures live as long as the page; the source is closed when replaced.
        data.forget();
        end.forget();
        Some(Self(source))
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Appends `line`, keeping at most `limit` lines (0: all), the oldest dropped first.
pub fn push_bounded<T>(all: &mut Vec<T>, line: T, limit: usize) {
    all.push(line);
    if limit > 0 && all.len() > limit {
        let extra = all.len() - limit;
        all.drain(..extra);
    }
}

/// Scrolls `body` to its end whenever `lines` change while `follow` is on.
pub fn scroll_along<T: Send + Sync + 'static>(
    lines: RwSignal<Vec<T>>,
    follow: ReadSignal<bool>,
    body: NodeRef<leptos::html::Pre>,
) {
    Effect::new(move |_| {
        lines.track();
        if follow.get_untracked()
            && let Some(pre) = body.get()
        {
            pre.set_scroll_top(pre.scroll_height());
        }
    });
}
