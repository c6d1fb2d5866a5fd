//! Live updates in the browser: listens to `/api/events` (server-sent events carrying the
//! bus's change notifications) and tells a page when an entity of the kind it shows changed,
//! so it refetches — also each time the stream (re)connects, for what changed before. On the server, and without JavaScript, pages are simply rendered fresh.

use leptos::prelude::*;

/// A counter that goes up whenever an entity of `entity` (`delivery`, `preview`, ...) changes;
/// read it in a resource's source to refetch on changes.
pub fn changes_of(entity: &'static str) -> ReadSignal<u64> {
    let (changes, set_changes) = signal(0u64);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        listen(entity, move || {
            // The page may be gone by the time the event arrives.
            set_changes.try_update(|n| *n += 1);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (entity, set_changes);
    });
    changes
}

#[cfg(feature = "hydrate")]
fn listen(entity: &'static str, changed: impl Fn() + 'static) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new("/api/events") else {
        return;
    };
    let wanted = format!("\"entity\":\"{entity}\"");
    let changed = std::rc::Rc::new(changed);
    let on_change = changed.clone();
    let handler =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            if event
                .data()
                .as_string()
                .is_some_and(|data| data.contains(&wanted))
            {
                on_change();
            }
        });
    source.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // Each time the stream (re)opens, what changed while it was not yet (or no longer)
    // connected is read again: the page was rendered before its stream began.
    let opened = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| changed());
    source.set_onopen(Some(opened.as_ref().unchecked_ref()));
    // The handlers live as long as the page's connection; all end with the page.
    handler.forget();
    opened.forget();
    let source = send_wrapper::SendWrapper::new(source);
    on_cleanup(move || source.close());
}
