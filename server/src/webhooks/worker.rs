//! The delivery worker: takes up the deliveries this replica's intake hands over as they are
//! recorded, and looks for queued ones in the Store (woken through the bus — a redelivery —, at
//! start, and periodically for what another replica left), claims each atomically so that one
//! replica processes it, and records the outcome on the delivery. A claim is a lease its worker
//! renews while it works; one not renewed for `CLAIM_LEASE` (its worker died) is queued again and
//! taken over within seconds, by this replica or another. A look pages through the
//! whole queue; wake-ups that arrive during one are answered together by the next. Deliveries start as soon
//! as they are seen: those about different pull requests run concurrently (up to a bound), those
//! about one pull request in a lane of their own, in the order they came. Failures stay on the
//! delivery; they never reach GitHub. A delivery whose handling lost the Store goes back to the
//! queue (up to `MAX_ATTEMPTS`), since what it did is not repeated when it runs again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{Bus, BusEvent, Delivery, DeliveryStatus, EntityKind, Store};
use futures::{FutureExt, StreamExt};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::DeliveryBacklog;
use super::events;
use domain::time::now_ms;

pub use domain::delivery::DELIVERY_WORKER as WORKER;
/// How often the Store is checked without a wake-up.
const POLL: Duration = Duration::from_secs(10);
/// Queued deliveries read at a time (a page of the queue).
const BATCH: u32 = 100;
/// Deliveries processed at once.
const CONCURRENCY: usize = 32;
/// A claim is a lease: its worker renews it this often while it processes the delivery...
const CLAIM_HEARTBEAT: Duration = Duration::from_secs(3);
/// ...and a claim not renewed for this long belongs to a worker that died (SIGKILL, a lost
/// machine): it is queued again, and this replica or another takes it over.
const CLAIM_LEASE: Duration = Duration::from_secs(9);
/// A delivery whose handling found the Store unavailable is tried this many times in all
/// (each try at least a look apart: an outage of minutes, not a loop).
const MAX_ATTEMPTS: i64 = 20;
/// How often expired leases are looked for: a dead worker's deliveries are taken over within
/// `CLAIM_LEASE + RELEASE_EVERY` (14 s; `scripts/chaos` holds it under 15 s).
const RELEASE_EVERY: Duration = Duration::from_secs(5);

/// Processes one delivery if this worker wins the claim.
async fn process(store: &dyn Store, bus: &dyn Bus, delivery_id: &str) {
    let (delivery, payload) = match store.claim_delivery(delivery_id, now_ms()).await {
        Ok(Some(claimed)) => claimed,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(delivery.id = %delivery_id, error = %domain::error_chain(&error), "could not claim a delivery");
            return;
        }
    };
    let event = delivery.event;
    let began = std::time::Instant::now();
    let handled = events::handle(store, bus, delivery_id, &event, &payload, now_ms());
    let (mut status, error) = with_heartbeat(store, delivery_id, handled).await;
    if status == DeliveryStatus::Queued {
        if delivery.attempts < MAX_ATTEMPTS {
            // The Store went away mid-way: back to the queue, for this worker's next look or
            // (if even this cannot be stored) for whoever finds the lease expired. What the
            // delivery did already is not done twice (a run is queued once per delivery).
            tracing::warn!(delivery.id = %delivery_id, attempt = delivery.attempts, reason = error.as_deref().unwrap_or_default(), "delivery handed back to the queue");
        } else {
            status = DeliveryStatus::Failed;
        }
    }
    crate::metrics::delivery_processed(status, began.elapsed());
    if let Err(failure) = store
        .finish_delivery(delivery_id, status, error.as_deref(), now_ms())
        .await
    {
        tracing::error!(delivery.id = %delivery_id, error = %domain::error_chain(&failure), "could not record how a delivery ended");
        return;
    }
    if status == DeliveryStatus::Queued {
        return;
    }
    tracing::info!(delivery.id = %delivery_id, status = status.as_str(), "delivery processed");
    let changed = BusEvent::Changed {
        entity: EntityKind::Delivery,
        id: delivery_id.to_owned(),
        status: status.as_str().to_owned(),
    };
    if let Err(error) = bus.publish(&changed).await {
        tracing::warn!(error = %domain::error_chain(&error), "could not announce a processed delivery");
    }
    // Pushes, pull requests and re-run requests may have queued pipeline runs: start them now, not at the
    // executor's next look.
    if status == DeliveryStatus::Processed
        && matches!(
            event.as_str(),
            "push" | "pull_request" | "check_run" | "check_suite"
        )
    {
        let wake = BusEvent::Wake {
            worker: domain::pipeline::PIPELINE_WORKER.to_owned(),
        };
        let _ = bus.publish(&wake).await;
    }
}

/// What a delivery is about: a pull request, else a repository, else only itself. Deliveries
/// about one subject are processed one after the other, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Repository(String, Option<i64>),
    Alone(String),
}

impl Subject {
    fn of(arrival: &Arrival) -> Self {
        match &arrival.repository {
            Some(repository) => Self::Repository(repository.clone(), arrival.pull_request),
            None => Self::Alone(arrival.delivery_id.clone()),
        }
    }
}

/// A delivery the intake has just recorded, handed straight to this replica's worker. The
/// Store's queue stays the record: one handed over and not processed (the worker stopped) is
/// found there by a later look.
#[derive(Debug)]
pub struct Arrival {
    pub delivery_id: String,
    pub repository: Option<String>,
    pub pull_request: Option<i64>,
}

impl From<&Delivery> for Arrival {
    fn from(queued: &Delivery) -> Self {
        Self {
            delivery_id: queued.delivery_id.clone(),
            repository: queued.repository.clone(),
            pull_request: queued.pull_request,
        }
    }
}

/// Where the intake hands arrivals over.
pub type Arrivals = mpsc::UnboundedSender<Arrival>;

/// The intake's end and the worker's end of the handover.
pub fn arrivals() -> (Arrivals, mpsc::UnboundedReceiver<Arrival>) {
    mpsc::unbounded_channel()
}

/// The deliveries this worker has taken up and not finished.
#[derive(Default)]
struct Taken {
    ids: HashSet<String>,
    /// Per subject whose lane is running: the deliveries waiting behind the one in progress.
    lanes: HashMap<Subject, VecDeque<String>>,
}

/// Hands queued deliveries to lanes and runs them.
#[derive(Clone)]
struct Dispatcher {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    taken: Arc<Mutex<Taken>>,
    slots: Arc<Semaphore>,
    tasks: TaskTracker,
    backlog: DeliveryBacklog,
}

impl Dispatcher {
    fn taken(&self) -> std::sync::MutexGuard<'_, Taken> {
        self.taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes up a delivery not taken yet (handed over, or found queued): it joins its
    /// subject's lane, or starts one.
    fn take(&self, arrival: Arrival) {
        let subject = Subject::of(&arrival);
        let id = arrival.delivery_id;
        {
            let mut taken = self.taken();
            if !taken.ids.insert(id.clone()) {
                return;
            }
            if let Some(waiting) = taken.lanes.get_mut(&subject) {
                waiting.push_back(id);
                return;
            }
            taken.lanes.insert(subject.clone(), VecDeque::new());
        }
        let lane = self.clone();
        self.tasks
            .spawn(async move { lane.run_lane(subject, id).await });
    }

    /// Processes `first`, then whatever joined the lane meanwhile, one at a time.
    async fn run_lane(&self, subject: Subject, first: String) {
        let mut next = Some(first);
        while let Some(id) = next {
            // One that cannot be claimed is left for the next look.
            if let Ok(_slot) = self.slots.acquire().await {
                process(self.store.as_ref(), self.bus.as_ref(), &id).await;
            }
            self.backlog.settled();
            let mut taken = self.taken();
            taken.ids.remove(&id);
            next = taken.lanes.get_mut(&subject).and_then(VecDeque::pop_front);
            if next.is_none() {
                taken.lanes.remove(&subject);
            }
        }
    }

    /// Takes up every queued delivery not taken yet, reading the queue page by page.
    async fn take_queued(&self) {
        let mut after_seq = 0;
        loop {
            let queued = match self.store.queued_deliveries(after_seq, BATCH).await {
                Ok(queued) => queued,
                Err(error) => {
                    tracing::warn!(error = %domain::error_chain(&error), "could not look for queued deliveries");
                    return;
                }
            };
            if after_seq == 0 && queued.is_empty() && self.taken().ids.is_empty() {
                self.backlog.drained();
            }
            for delivery in &queued {
                self.take(Arrival::from(delivery));
            }
            match queued.last() {
                Some(last) if queued.len() == BATCH as usize => after_seq = last.seq,
                _ => return,
            }
        }
    }
}

/// Runs `work` while renewing the delivery's claim every [`CLAIM_HEARTBEAT`], so no replica
/// takes a delivery over from a worker that is alive.
async fn with_heartbeat<T>(
    store: &dyn Store,
    delivery_id: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut beat = tokio::time::interval(CLAIM_HEARTBEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = beat.tick() => {
                if let Err(error) = store.renew_delivery_claim(delivery_id, now_ms()).await {
                    tracing::warn!(delivery.id = %delivery_id, error = %domain::error_chain(&error), "could not renew a delivery's claim");
                }
            }
        }
    }
}

/// Queues again the deliveries a dead worker had claimed (its lease ran out).
async fn release_stale(store: &dyn Store) -> u64 {
    let stale_before = now_ms() - CLAIM_LEASE.as_millis() as i64;
    match store.release_stale_claims(stale_before).await {
        Ok(0) => 0,
        Ok(released) => {
            tracing::warn!(released, "queued again deliveries whose worker stopped");
            released
        }
        Err(error) => {
            tracing::warn!(error = %domain::error_chain(&error), "could not release stale claims");
            0
        }
    }
}

/// Runs until `stop` is cancelled; deliveries in progress are finished first.
pub async fn run(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    backlog: DeliveryBacklog,
    mut arrivals: mpsc::UnboundedReceiver<Arrival>,
    stop: CancellationToken,
) {
    let mut wakes = match bus.subscribe().await {
        Ok(events) => events
            .filter(|e| {
                futures::future::ready(matches!(e, BusEvent::Wake { worker } if worker == WORKER))
            })
            .boxed(),
        Err(error) => {
            tracing::warn!(error = %domain::error_chain(&error), "delivery worker cannot hear wake-ups; polling only");
            futures::stream::pending().boxed()
        }
    };
    let dispatcher = Dispatcher {
        store: store.clone(),
        bus,
        taken: Arc::default(),
        slots: Arc::new(Semaphore::new(CONCURRENCY)),
        tasks: TaskTracker::new(),
        backlog,
    };
    // The first tick is at once: a restarted replica releases what it held when it died.
    let mut releases = tokio::time::interval(RELEASE_EVERY);
    releases.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // An interval, not a sleep made afresh each turn: the other branches fire more often than
    // this (the releases every 5 s), and would otherwise put the look off for ever.
    let mut polls = tokio::time::interval(POLL);
    polls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    polls.tick().await;
    let mut look = true;
    loop {
        if look {
            dispatcher.take_queued().await;
        }
        look = false;
        tokio::select! {
            _ = releases.tick() => {
                // What was released is queued: the look finds it.
                look = release_stale(store.as_ref()).await > 0;
            }
            () = stop.cancelled() => break,
            Some(arrival) = arrivals.recv() => {
                dispatcher.take(arrival);
                while let Ok(arrival) = arrivals.try_recv() {
                    dispatcher.take(arrival);
                }
            }
            _ = wakes.next() => {
                // Deliveries announced meanwhile are found by the same look.
                while let Some(Some(_)) = wakes.next().now_or_never() {}
                look = true;
            }
            _ = polls.tick() => look = true,
        }
    }
    dispatcher.tasks.close();
    dispatcher.tasks.wait().await;
}
