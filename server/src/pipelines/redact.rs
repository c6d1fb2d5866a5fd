//! Log redaction: every line a step prints passes through here before anything else (bus,
//! storage, API, pages) sees it, and so does what a preview's pods print when people read it
//! (`crate::cluster`). The run's own secret values are replaced exactly; well-known
//! credential shapes are replaced by pattern; private key blocks are hidden whole.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// What a hidden value becomes.
pub const MASK: &str = "***";

/// Secrets shorter than this are not masked by value: masking `1` or `ab` everywhere would
/// make logs unreadable and says more about the value than it hides.
const MIN_SECRET_LEN: usize = 4;

/// `(pattern, replacement)`; replacements keep the part that says what was hidden.
const RULES: [(&str, &str); 6] = [
    // GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_), server (ghs_),
    // refresh (ghr_) and fine-grained personal tokens.
    (r"\bgh[opusr]_[A-Za-z0-9]{20,}", MASK),
    (r"\bgithub_pat_[A-Za-z0-9_]{20,}", MASK),
    // AWS access key ids and secret keys written as assignments.
    (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", MASK),
    (
        r#"(AWS_SECRET_ACCESS_KEY["']?\s*[=:]\s*["']?)[^\s"']+"#,
        "${1}***",
    ),
    // HTTP bearer tokens.
    (r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]+=*", "${1}***"),
    // Credentials in URLs: scheme://user:password@host.
    (r"([a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^/\s@]+@", "${1}***@"),
];

static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    RULES
        .into_iter()
        .filter_map(|(pattern, replacement)| Regex::new(pattern).ok().map(|re| (re, replacement)))
        .collect()
});

/// All patterns in one automaton: most lines match none, and are checked in a single pass.
static ANY_PATTERN: LazyLock<Option<RegexSet>> =
    LazyLock::new(|| RegexSet::new(RULES.iter().map(|(pattern, _)| *pattern)).ok());

/// Redacts one log stream, line by line (it remembers being inside a private key block).
#[derive(Debug, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
    in_private_key: bool,
}

impl Redactor {
    /// `secrets`: the exact values to hide (the run's secrets and tokens); longest first so a
    /// secret containing another is hidden whole.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self {
            secrets,
            in_private_key: false,
        }
    }

    /// The line as it may be shown and stored.
    pub fn line(&mut self, line: &str) -> String {
        if self.in_private_key {
            if line.contains("-----END") && line.contains("PRIVATE KEY-----") {
                self.in_private_key = false;
            }
            return MASK.to_owned();
        }
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") {
            self.in_private_key = !line.contains("-----END");
            return MASK.to_owned();
        }
        let mut text = line.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        let candidate = ANY_PATTERN.as_ref().is_none_or(|set| set.is_match(&text));
        if candidate {
            for (pattern, replacement) in PATTERNS.iter() {
                if let std::borrow::Cow::Owned(replaced) = pattern.replace_all(&text, *replacement)
                {
                    text = replaced;
                }
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_secret_values_are_masked_longest_first() {
        let mut redactor = Redactor::new([
            "hunter2-extra".to_owned(),
            "hunter2".to_owned(),
            "ab".to_owned(),
        ]);
        assert_eq!(
            redactor.line("password=hunter2-extra or hunter2, ab stays"),
            "password=*** or ***, ab stays"
        );
    }

    #[test]
    fn known_credential_shapes_are_masked() {
        let mut redactor = Redactor::new(Vec::new());
        let cases = [
            ("token ghs_abcdefghijklmnopqrstuvwxyz0123", "token ***"),
            ("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZab used", "*** used"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijkl", "***"),
            ("key AKIAIOSFODNN7EXAMPLE here", "key *** here"),
            (
                "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG",
                "export AWS_SECRET_ACCESS_KEY=***",
            ),
            (
                "Authorization: Bearer eyJhbGciOi.payload.sig",
                "Authorization: Bearer ***",
            ),
            (
                "cloning https://x-access-token:s3cr3t@github.com/a/b",
                "cloning https://x-access-token:***@github.com/a/b",
            ),
            ("nothing to hide here", "nothing to hide here"),
        ];
        for (line, expected) in cases {
            assert_eq!(redactor.line(line), expected, "{line}");
        }
    }

    #[test]
    fn private_key_blocks_are_hidden_whole() {
        let mut redactor = Redactor::new(Vec::new());
        let lines = [
            "before",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
            "-----END OPENSSH PRIVATE KEY-----",
            "after",
        ];
        let out: Vec<String> = lines.iter().map(|l| redactor.line(l)).collect();
        assert_eq!(out, ["before", "***", "***", "***", "after"]);
    }
}
