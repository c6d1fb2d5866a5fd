//! Webhook deliveries: a filtered page of them, one with its payload (secrets masked), and
//! "process again".

use domain::delivery::{DELIVERY_WORKER, mask_secrets};
use domain::{Delivery, DeliveryFilter, DeliveryStatus};
use serde::{Deserialize, Serialize};

use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::parse::{non_empty, parse_choice};
use crate::{Result, Services};

/// Rows a page holds unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// Which deliveries to list: newest first.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveries {
    /// `X-GitHub-Event`: `pull_request`, `push`, ...
    pub event: Option<String>,
    /// A delivery status (blank: any).
    #[param(value_type = Option<domain::DeliveryStatus>)]
    pub status: Option<String>,
    /// `owner/name`.
    pub repository: Option<String>,
    /// Deliveries older than this `seq` (the previous page's `next_before`).
    pub before: Option<i64>,
    /// 1 to 200 (larger asks get 200), default 50.
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// A page of deliveries.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// One delivery with its payload: JSON with secrets masked, or the text as received when it
/// is not JSON.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl Services {
    pub async fn list_deliveries(
        &self,
        caller: &Caller,
        query: ListDeliveries,
    ) -> Result<DeliveryPage> {
        self.authorize(caller, Action::DeliveryRead, None).await?;
        let known = DeliveryStatus::ALL.map(|s| s.as_str());
        let status = parse_choice(
            "status",
            query.status.as_deref(),
            DeliveryStatus::parse,
            &known,
        )?;
        let filter = DeliveryFilter {
            event: non_empty(query.event),
            status,
            repository: non_empty(query.repository),
            before: query.before,
            visible: caller.visible(),
            limit: query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
        };
        let items = self.store.list_deliveries(&filter).await?;
        let full_page = items.len() >= filter.limit as usize;
        let next_before = items.last().filter(|_| full_page).map(|d| d.seq);
        Ok(DeliveryPage { items, next_before })
    }

    /// A delivery by GitHub's delivery id, with its payload.
    pub async fn get_delivery(&self, caller: &Caller, id: &str) -> Result<DeliveryDetail> {
        let (delivery, payload) = self.delivery(caller, Action::DeliveryRead, id).await?;
        let payload = match serde_json::from_str::<serde_json::Value>(&payload) {
            Ok(mut value) => {
                mask_secrets(&mut value);
                value
            }
            Err(_) => serde_json::Value::String(payload),
        };
        Ok(DeliveryDetail { delivery, payload })
    }

    /// Queues a delivery to be processed again and wakes the delivery worker; `Conflict` while
    /// a worker is processing it.
    pub async fn redeliver(&self, caller: &Caller, id: &str) -> Result<Delivery> {
        let (found, _) = self.delivery(caller, Action::DeliveryRedeliver, id).await?;
        let repository = match &found.repository {
            Some(name) => self.store.get_repository_named(name).await?,
            None => None,
        };
        let record = Record::of(Action::DeliveryRedeliver)
            .on(repository.as_ref())
            .target(format!("delivery {id}"));
        let requeued = self.store.requeue_delivery(id).await;
        if requeued.is_ok() {
            tracing::info!(delivery.id = %id, "delivery queued again");
            self.wake(DELIVERY_WORKER).await;
        }
        self.audited(caller, record, requeued.map_err(Into::into))
            .await
    }

    /// A delivery (with its payload) the caller may do `action` on: one about a repository
    /// they can reach, or, without a repository, only for those who see every repository.
    async fn delivery(
        &self,
        caller: &Caller,
        action: Action,
        id: &str,
    ) -> Result<(Delivery, String)> {
        let (delivery, payload) = self.store.get_delivery(id).await?;
        let repository = match &delivery.repository {
            Some(name) => self.store.get_repository_named(name).await?,
            None => None,
        };
        let missing = || crate::Error::NotFound(format!("delivery `{id}` not found"));
        self.authorize_found(caller, action, repository.as_ref(), missing)
            .await?;
        Ok((delivery, payload))
    }
}
