//! Reading raw input fields the same way for every edge: blank means absent, a choice names what
//! it accepts, an id is a number.

use crate::{Error, Result};

/// `Some(trimmed)` for a value with text in it, `None` for absent or blank.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

/// `Some(parsed)` for a non-blank value, `None` for absent or blank, or invalid input in
/// `field` naming the accepted values.
pub fn parse_choice<T>(
    field: &'static str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    known: &[&str],
) -> Result<Option<T>> {
    match value.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => parse(text).map(Some).ok_or_else(|| {
            Error::invalid(
                field,
                format!("{field} `{text}` is not one of: {}", known.join(", ")),
            )
        }),
    }
}

/// A database id in `field`, when the value is not blank.
pub fn parse_id(field: &'static str, value: Option<&str>) -> Result<Option<i64>> {
    match value.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            Error::invalid(field, format!("{field} `{text}` is not an id (a number)"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_absent_and_a_wrong_choice_lists_the_right_ones() {
        let parse = |s: &str| (s == "a").then_some(1);
        assert_eq!(
            parse_choice("kind", Some(" "), parse, &["a"]).ok(),
            Some(None)
        );
        assert_eq!(
            parse_choice("kind", Some("a"), parse, &["a"]).ok(),
            Some(Some(1))
        );
        let error = parse_choice("kind", Some("b"), parse, &["a", "c"]).err();
        let error = error.map(|e| (e.field(), e.to_string()));
        assert_eq!(
            error,
            Some((Some("kind"), "kind `b` is not one of: a, c".to_owned()))
        );
        assert!(parse_id("repository", Some("x")).is_err());
        assert_eq!(parse_id("repository", Some("7")).ok(), Some(Some(7)));
    }
}
