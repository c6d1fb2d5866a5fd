//! Label selectors as the API server accepts them in `?labelSelector=`: equality-based
//! (`a=b`, `a==b`, `a!=b`) and set-based (`a in (x,y)`, `a notin (x)`, `a`, `!a`).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

impl Selector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(
                parse_requirement(part)
                    .ok_or_else(|| format!("unable to parse requirement: {part:?}"))?,
            );
        }
        Ok(Self(requirements))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        })
    }
}

/// A field selector (`metadata.name=web`, `involvedObject.uid=…,type!=Normal`): only `=`, `==`
/// and `!=`, each comparing the text at a dotted path of the object (missing reads as empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Selector);

impl FieldSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let selector = Selector::parse(text)?;
        for requirement in &selector.0 {
            if !matches!(
                requirement,
                Requirement::Equals(..) | Requirement::NotEquals(..)
            ) {
                return Err(format!(
                    "invalid field selector {text:?}: only =, == and != are supported"
                ));
            }
        }
        Ok(Self(selector))
    }

    pub fn matches(&self, object: &serde_json::Value) -> bool {
        let fields = self
            .0
            .0
            .iter()
            .map(|requirement| {
                let (Requirement::Equals(path, _) | Requirement::NotEquals(path, _)) = requirement
                else {
                    return (String::new(), String::new());
                };
                let value = path.split('.').fold(object, |at, part| &at[part]);
                let text = match value {
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                (path.clone(), text)
            })
            .collect();
        self.0.matches(&fields)
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn parse_requirement(part: &str) -> Option<Requirement> {
    if let Some(key) = part.strip_prefix('!') {
        return valid_key(key.trim()).then(|| Requirement::NotExists(key.trim().to_owned()));
    }
    for (op, build) in [
        (
            "!=",
            Requirement::NotEquals as fn(String, String) -> Requirement,
        ),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((key, value)) = part.split_once(op) {
            let (key, value) = (key.trim(), value.trim());
            return valid_key(key).then(|| build(key.to_owned(), value.to_owned()));
        }
    }
    for (op, build) in [
        (
            " notin ",
            Requirement::NotIn as fn(String, Vec<String>) -> Requirement,
        ),
        (" in ", Requirement::In),
    ] {
        if let Some((key, values)) = part.split_once(op) {
            let values = values.trim().strip_prefix('(')?.strip_suffix(')')?;
            let values = values
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect();
            return valid_key(key.trim()).then(|| build(key.trim().to_owned(), values));
        }
    }
    valid_key(part).then(|| Requirement::Exists(part.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_selectors_compare_the_text_at_a_path() {
        let event = serde_json::json!({
            "metadata": {"name": "web.1"},
            "involvedObject": {"kind": "Pod", "name": "web", "uid": "u-1"},
            "count": 2,
        });
        for (selector, expected) in [
            ("", true),
            ("metadata.name=web.1", true),
            ("involvedObject.name=web,involvedObject.uid=u-1", true),
            ("involvedObject.kind==Pod,involvedObject.namespace=", true),
            ("involvedObject.uid!=u-1", false),
            ("count=2", true),
        ] {
            let parsed = FieldSelector::parse(selector).expect(selector);
            assert_eq!(parsed.matches(&event), expected, "{selector}");
        }
        assert!(FieldSelector::parse("metadata.name in (a)").is_err());
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn equality_and_set_based_requirements() {
        let l = labels(&[
            ("app.kubernetes.io/managed-by", "slipway"),
            ("slipway.dev/preview", "42"),
            ("tier", "web"),
        ]);
        for (selector, expected) in [
            ("", true),
            ("app.kubernetes.io/managed-by=slipway", true),
            ("app.kubernetes.io/managed-by==slipway,tier!=db", true),
            ("tier in (web, api)", true),
            ("tier notin (web)", false),
            ("slipway.dev/preview", true),
            ("!slipway.dev/preview", false),
            ("missing notin (x)", true),
            ("tier=db", false),
        ] {
            assert_eq!(
                Selector::parse(selector).expect(selector).matches(&l),
                expected,
                "{selector}"
            );
        }
        assert!(Selector::parse("a in x").is_err());
        assert!(Selector::parse("=x").is_err());
    }
}
