//! One module per dashboard page.

mod audit;
mod deliveries;
mod members;
mod not_found;
mod notifications;
mod operator;
mod pipeline;
mod pipelines;
mod preview;
mod previews;
mod reporting;
mod secrets;
mod settings;
mod tokens;
mod transform;
mod transforms;

pub use audit::AuditPage;
pub use deliveries::{DeliveriesPage, DeliveryPage};
pub use members::MembersPage;
pub use not_found::NotFoundPage;
pub use operator::OperatorPage;
pub use pipeline::PipelinePage;
pub use pipelines::PipelinesPage;
pub use preview::PreviewPage;
pub use previews::PreviewsPage;
pub use settings::SettingsPage;
pub use transform::TransformPage;
pub use transforms::TransformsPage;

/// "1 file", "3 files".
fn counted(count: usize, word: &str) -> String {
    match count {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}

/// "1 repository", "3 repositories".
fn repositories_phrase(count: usize) -> String {
    match count {
        1 => "1 repository".to_owned(),
        n => format!("{n} repositories"),
    }
}

/// `text` percent-encoded as a URL query value.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
