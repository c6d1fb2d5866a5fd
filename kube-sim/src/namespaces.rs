//! The namespace controller: a namespace being deleted stays `Terminating` while its contents
//! are deleted (and, with the knob, a while longer), then disappears.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::Sim;
use crate::resources::NAMESPACES;
use crate::store::name_of;

pub async fn run(sim: Arc<Sim>, stop: CancellationToken) {
    let Ok((initial, mut events)) = sim.store.watch_all_kinds(&NAMESPACES, "", None) else {
        return;
    };
    let mut finalizing = HashSet::new();
    for event in initial {
        finalize_if_deleting(&sim, &event.object, &stop, &mut finalizing);
    }
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(event)
                if event.resource == &NAMESPACES
                    && event.kind == crate::store::EventType::Modified =>
            {
                finalize_if_deleting(&sim, &event.object, &stop, &mut finalizing);
            }
            Ok(event)
                if event.resource == &NAMESPACES
                    && event.kind == crate::store::EventType::Deleted =>
            {
                finalizing.remove(name_of(&event.object));
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

fn finalize_if_deleting(
    sim: &Arc<Sim>,
    namespace: &serde_json::Value,
    stop: &CancellationToken,
    finalizing: &mut HashSet<String>,
) {
    let name = name_of(namespace).to_owned();
    if !namespace["metadata"]["deletionTimestamp"].is_string() || !finalizing.insert(name.clone()) {
        return;
    }
    let sim = sim.clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        for (resource, object) in sim.store.contents_of_namespace(&name) {
            let _ = sim.store.delete(resource, &name, &object);
        }
        tokio::select! {
            () = tokio::time::sleep(sim.knobs.namespace_deletion_delay()) => {}
            () = stop.cancelled() => return,
        }
        // Anything created meanwhile was refused; remove stragglers, then the namespace.
        for (resource, object) in sim.store.contents_of_namespace(&name) {
            let _ = sim.store.remove(resource, &name, &object);
        }
        let _ = sim.store.remove(&NAMESPACES, "", &name);
    });
}
