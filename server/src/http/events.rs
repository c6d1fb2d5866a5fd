//! `GET /api/events`: the bus's change notifications as server-sent events, so open dashboard
//! pages refresh what changed (a new delivery, a preview's status) without polling. Each
//! event's data is the JSON of a `BusEvent::Changed`.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use domain::BusEvent;
use futures::{Stream, StreamExt};

use super::AppState;
use super::answer::{ApiResult, ErrorBody, StreamEvent};
use super::caller::Calling;

#[utoipa::path(
    get,
    path = "/api/events",
    operation_id = "follow_events",
    tag = "events",
    summary = "Change notifications as server-sent events",
    responses(
        (status = 200, description = "An event stream of changes", content_type = "text/event-stream", body = StreamEvent),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 503, description = "The bus is unavailable", body = ErrorBody)
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Calling(caller): Calling,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let changes = state.services.follow_changes(&caller).await?;
    let events = changes
        .filter_map(|event| async move {
            match &event {
                BusEvent::Changed { .. } => Event::default().json_data(&event).ok().map(Ok),
                _ => None,
            }
        })
        // Streams end when the server stops, so they do not hold up its shutdown.
        .take_until(state.shutdown.cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
