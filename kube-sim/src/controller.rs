//! The loop every simulated controller runs: reconcile each object of its kind at start, then
//! whichever one an event concerns (its own changes, or its children's), and all of them again
//! after missing events, until kube-sim stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::Sim;
use crate::resources::ResourceType;
use crate::selector::Selector;
use crate::store::{Event, name_of};

/// Brings one object (`namespace`, `name`) of the controller's kind to its desired state.
pub type Reconcile = fn(&Arc<Sim>, &str, &str, &CancellationToken);

/// Runs a controller for `kind`; `concerns` names the object of that kind an event is about.
pub async fn run(
    sim: Arc<Sim>,
    kind: &'static ResourceType,
    stop: CancellationToken,
    concerns: impl Fn(&Sim, &Event) -> Option<String>,
    reconcile: Reconcile,
) {
    let Ok((initial, mut events)) = sim.store.watch_all_kinds(kind, "", None) else {
        return;
    };
    for event in initial {
        reconcile(&sim, &event.namespace, name_of(&event.object), &stop);
    }
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(event) => {
                if let Some(name) = concerns(&sim, &event) {
                    reconcile(&sim, &event.namespace, &name, &stop);
                }
            }
            Err(RecvError::Lagged(_)) => {
                let (all, _) = sim.store.list(kind, "", &Selector::default());
                for object in all {
                    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
                    reconcile(&sim, namespace, name_of(&object), &stop);
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Runs `then` on (`namespace`, `name`) once `delay` has passed, unless kube-sim stops first:
/// a controller's timers (availability, deadlines).
pub fn after(
    sim: &Arc<Sim>,
    namespace: &str,
    name: &str,
    delay: Duration,
    stop: &CancellationToken,
    then: impl FnOnce(&Arc<Sim>, &str, &str, &CancellationToken) + Send + 'static,
) {
    let (sim, namespace, name, stop) = (
        sim.clone(),
        namespace.to_owned(),
        name.to_owned(),
        stop.clone(),
    );
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(delay) => then(&sim, &namespace, &name, &stop),
            () = stop.cancelled() => {}
        }
    });
}
