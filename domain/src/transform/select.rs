//! Which repositories a spec selects: names Slipway knows and glob patterns over them, minus
//! the excludes, in the order of the names they match. A name Slipway does not know, or a
//! pattern that matches nothing, is an error that says so (with the nearest known name).

use globset::{Glob, GlobBuilder};

use super::definition::TransformSpec;

/// A repository pattern (`*` stays within one path segment: `acme/*` is not `acme/x/y`).
pub fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// Why a spec selects nothing it can run on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("repository `{name}` is not known to Slipway{hint}")]
    Unknown { name: String, hint: String },
    #[error("`{pattern}` matches no repository")]
    NoMatch { pattern: String },
    #[error("`exclude` leaves no repository to run on")]
    AllExcluded,
}

/// The names of `known` the spec selects, each once, sorted.
pub fn select(spec: &TransformSpec, known: &[String]) -> Result<Vec<String>, SelectError> {
    let mut chosen: Vec<String> = Vec::new();
    for wanted in &spec.repositories {
        let matched: Vec<&String> = if is_pattern(wanted) {
            let matcher = glob(wanted)
                .map_err(|_| SelectError::NoMatch {
                    pattern: wanted.clone(),
                })?
                .compile_matcher();
            known.iter().filter(|name| matcher.is_match(name)).collect()
        } else {
            known.iter().filter(|name| *name == wanted).collect()
        };
        if matched.is_empty() {
            return Err(if is_pattern(wanted) {
                SelectError::NoMatch {
                    pattern: wanted.clone(),
                }
            } else {
                let hint = crate::pipeline::parse::closest(wanted, known)
                    .map(|near| format!(" (did you mean `{near}`?)"))
                    .unwrap_or_default();
                SelectError::Unknown {
                    name: wanted.clone(),
                    hint,
                }
            });
        }
        chosen.extend(matched.into_iter().cloned());
    }
    let excluded: Vec<globset::GlobMatcher> = spec
        .exclude
        .iter()
        .filter_map(|pattern| glob(pattern).ok().map(|g| g.compile_matcher()))
        .collect();
    chosen.retain(|name| !excluded.iter().any(|m| m.is_match(name)));
    chosen.sort();
    chosen.dedup();
    if chosen.is_empty() {
        return Err(SelectError::AllExcluded);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(repositories: &[&str], exclude: &[&str]) -> TransformSpec {
        TransformSpec {
            name: "t".into(),
            repositories: repositories.iter().map(|s| (*s).to_owned()).collect(),
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
            base_ref: None,
            steps: Vec::new(),
            timeout_secs: 60,
            dry_run: false,
        }
    }

    fn known() -> Vec<String> {
        ["acme/api", "acme/legacy-web", "acme/web", "tools/cli"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn patterns_and_names_select_each_repository_once_minus_the_excludes() {
        let chosen = select(
            &spec(&["acme/*", "acme/api", "tools/cli"], &["acme/legacy-*"]),
            &known(),
        );
        assert_eq!(
            chosen,
            Ok(vec![
                "acme/api".into(),
                "acme/web".into(),
                "tools/cli".into()
            ])
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_with_the_nearest_known_one() {
        let error = select(&spec(&["acme/wbe"], &[]), &known()).expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "repository `acme/wbe` is not known to Slipway (did you mean `acme/web`?)"
        );
        let error = select(&spec(&["other/*"], &[]), &known()).expect_err("no match");
        assert_eq!(error.to_string(), "`other/*` matches no repository");
        let error = select(&spec(&["acme/web"], &["acme/*"]), &known()).expect_err("excluded");
        assert_eq!(error, SelectError::AllExcluded);
    }
}
