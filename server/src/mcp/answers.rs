//! How a tool's answer is shaped for a model: arguments read against the tool's input type,
//! pages and logs cut to fit about 64 KB of text, and opaque cursors.

use serde::de::DeserializeOwned;
use serde_json::Value;
use services::Error;

use super::inputs::{DEFAULT_TAIL, MAX_TAIL};

/// The most text one answer carries.
pub(super) const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// A log line longer than this is cut.
const MAX_LINE_CHARS: usize = 2_000;
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub(super) fn input<T: DeserializeOwned + Default>(
    arguments: Option<serde_json::Map<String, Value>>,
) -> Result<T, Error> {
    match arguments {
        None => Ok(T::default()),
        Some(map) => serde_json::from_value(Value::Object(map)).map_err(|e| Error::InvalidInput {
            field: None,
            message: format!("the arguments do not fit the tool's schema: {e}"),
        }),
    }
}

pub(super) fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Internal(Box::new(e)))
}

/// Drops items from the end of a page until its JSON fits the answer budget; whether any went.
pub(super) fn fit<T: serde::Serialize>(items: &mut Vec<T>) -> bool {
    let budget = MAX_ANSWER_BYTES - 2 * 1024;
    let mut cut = false;
    while items.len() > 1 && serde_json::to_string(items).map_or(0, |text| text.len()) > budget {
        items.truncate(items.len() * 3 / 4);
        cut = true;
    }
    cut
}

pub(super) fn limit(asked: Option<u32>) -> u32 {
    asked.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// A cursor the previous answer gave: `{prefix}{number}`.
pub(super) fn cursor(cursor: Option<&str>, prefix: char) -> Result<Option<i64>, Error> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .strip_prefix(prefix)
            .and_then(|n| n.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(
                    "cursor",
                    "the cursor is not one this tool gave; leave it out to start again",
                )
            }),
    }
}

/// The last `tail` of `lines`, cut to the answer budget: the lines kept and how many were left out.
pub(super) fn tail_of(mut lines: Vec<String>, tail: u32) -> (Vec<String>, usize) {
    let total = lines.len();
    let keep = (tail as usize).min(total);
    lines.drain(..total - keep);
    for line in &mut lines {
        if line.chars().count() > MAX_LINE_CHARS {
            *line = line.chars().take(MAX_LINE_CHARS).chain(['…']).collect();
        }
    }
    let mut bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut start = 0;
    while bytes > MAX_ANSWER_BYTES - 1024 && start < lines.len() {
        bytes -= lines[start].len() + 1;
        start += 1;
    }
    lines.drain(..start);
    let kept = lines.len();
    (lines, total - kept)
}

pub(super) fn tail_lines(asked: Option<u32>) -> u32 {
    asked.unwrap_or(DEFAULT_TAIL).clamp(1, MAX_TAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_last_lines_and_fit_the_answer_budget() {
        let lines: Vec<String> = (1..=10).map(|n| format!("line {n}")).collect();
        let (kept, left_out) = tail_of(lines, 3);
        assert_eq!(kept, ["line 8", "line 9", "line 10"]);
        assert_eq!(left_out, 7);
        let long: Vec<String> = (0..2_000).map(|_| "x".repeat(1_900)).collect();
        let (kept, left_out) = tail_of(long, 2_000);
        let bytes: usize = kept.iter().map(|l| l.len() + 1).sum();
        assert!(bytes <= MAX_ANSWER_BYTES, "{bytes}");
        assert_eq!(kept.len() + left_out, 2_000);
    }

    #[test]
    fn a_page_too_large_for_one_answer_is_cut_to_fit() {
        let mut items: Vec<String> = (0..100).map(|_| "y".repeat(1_000)).collect();
        assert!(fit(&mut items));
        let size = serde_json::to_string(&items).map_or(usize::MAX, |t| t.len());
        assert!(
            size <= MAX_ANSWER_BYTES && items.len() >= 30,
            "{} items, {size} bytes",
            items.len()
        );
        let mut small = vec!["a".to_owned(); 5];
        assert!(!fit(&mut small));
        assert_eq!(small.len(), 5);
    }

    #[test]
    fn cursors_are_only_the_ones_given() {
        assert_eq!(cursor(Some("p40"), 'p').ok(), Some(Some(40)));
        assert_eq!(cursor(None, 'p').ok(), Some(None));
        assert!(cursor(Some("r40"), 'p').is_err());
    }
}
