//! How long claimed work goes unattended: sampled twice a second from the database while the
//! campaign runs. A delivery `processing` for longer than its work takes, or a running
//! pipeline or deploy attempt whose heartbeat is old, is work a dead replica held; the longest
//! such time is how long a takeover took.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The longest each kind of work went unattended, and what it was.
#[derive(Debug, Default, Clone)]
pub struct Unattended {
    pub delivery: (Duration, String),
    pub pipeline: (Duration, String),
    pub deploy: (Duration, String),
}

fn now_ms() -> i64 {
    domain::time::now_ms()
}

fn keep_longest(longest: &mut (Duration, String), candidate: Duration, what: String) {
    if candidate > longest.0 {
        *longest = (candidate, what);
    }
}

/// Samples until `stop`; the longest times seen.
pub async fn watch(pool: PgPool, stop: CancellationToken) -> Unattended {
    let mut longest = Unattended::default();
    // Since when each delivery has been seen `processing`.
    let mut processing: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    while !stop.is_cancelled() {
        tick.tick().await;
        if let Ok(rows) = sqlx::query_scalar::<_, String>(
            "SELECT delivery_id FROM deliveries WHERE status = 'processing'",
        )
        .fetch_all(&pool)
        .await
        {
            let now = Instant::now();
            processing.retain(|id, _| rows.contains(id));
            for id in rows {
                let since = *processing.entry(id.clone()).or_insert(now);
                keep_longest(&mut longest.delivery, now - since, format!("delivery {id}"));
            }
        }
        let stale = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_as::<_, (i64, i64)>(sql)
                    .bind(now_ms())
                    .fetch_optional(&pool)
                    .await
                    .ok()
                    .flatten()
            }
        };
        for (sql, what, slot) in [
            (
                "SELECT id, $1 - heartbeat_ms FROM pipelines WHERE status = 'running' \
                 AND heartbeat_ms IS NOT NULL ORDER BY heartbeat_ms LIMIT 1",
                "pipeline run",
                &mut longest.pipeline,
            ),
            (
                "SELECT id, $1 - heartbeat_ms FROM preview_attempts WHERE status = 'deploying' \
                 AND heartbeat_ms IS NOT NULL ORDER BY heartbeat_ms LIMIT 1",
                "deploy attempt",
                &mut longest.deploy,
            ),
        ] {
            if let Some((id, age)) = stale(sql).await {
                let age = Duration::from_millis(age.max(0) as u64);
                keep_longest(slot, age, format!("{what} {id}"));
            }
        }
    }
    longest
}
