//! One module per dashboard page.

mod deliveries;
mod not_found;
mod operator;
mod pipeline;
mod pipelines;
mod preview;
mod previews;
mod secrets;
mod settings;
mod tokens;

pub use deliveries::{DeliveriesPage, DeliveryPage};
pub use not_found::NotFoundPage;
pub use operator::OperatorPage;
pub use pipeline::PipelinePage;
pub use pipelines::PipelinesPage;
pub use preview::PreviewPage;
pub use previews::PreviewsPage;
pub use settings::SettingsPage;

/// "1 repository", "3 repositories".
fn repositories_phrase(count: usize) -> String {
    match count {
        1 => "1 repository".to_owned(),
        n => format!("{n} repositories"),
    }
}
