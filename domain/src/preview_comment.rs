//! The sticky pull-request comment's text: the preview's status with an icon, its URL when
//! ready, the commit, when it last changed, a link to the dashboard, and on failure a short
//! excerpt of why — sanitised first, because pull requests can be public: no secrets, no
//! cluster-internal host names or addresses, bounded length.

use serde::{Deserialize, Serialize};

/// Marks Slipway's comment, so it can be found again when its stored id is lost.
pub const MARKER: &str = "<!-- slipway:preview -->";
/// Lines and characters of a failure excerpt.
const EXCERPT_LINES: usize = 15;
const EXCERPT_CHARS: usize = 2_000;

/// Where a pull request's preview is, as the comment says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreviewState {
    Building,
    Deploying,
    Ready {
        url: String,
    },
    Failed {
        reason: String,
    },
    /// The head commit asks for no preview (say, `.platform.yaml` lost its `preview:` section):
    /// what an earlier commit deployed was removed.
    NotConfigured {
        reason: String,
    },
    Removed,
}

/// Everything the comment shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewComment {
    pub state: PreviewState,
    pub sha: String,
    pub updated_at_ms: i64,
    /// The preview's page on the dashboard.
    pub dashboard_url: String,
}

fn is_secret_word(word: &str) -> bool {
    let prefixes = [
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "xoxb-",
        "AKIA",
        "sk_live_",
    ];
    prefixes
        .iter()
        .any(|p| word.starts_with(p) && word.len() > p.len() + 8)
}

fn is_internal_host(word: &str) -> bool {
    let host = word
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    host.ends_with(".svc")
        || host.contains(".svc.")
        || host.ends_with(".cluster.local")
        || host.ends_with(".internal")
        || is_private_ip(host)
}

fn is_private_ip(host: &str) -> bool {
    let octets: Vec<u8> = host.split('.').filter_map(|o| o.parse().ok()).collect();
    match octets.as_slice() {
        [10, ..] | [127, ..] | [192, 168, ..] => octets.len() == 4,
        [172, b, ..] => octets.len() == 4 && (16..=31).contains(b),
        _ => false,
    }
}

/// `KEY=value` and `key: value` pairs whose key names a secret.
fn masks_assignment(word: &str) -> Option<String> {
    let (key, _) = word.split_once('=').or_else(|| word.split_once(':'))?;
    let lower = key.to_ascii_lowercase();
    let secret = ["password", "secret", "token", "apikey", "api_key"]
        .iter()
        .any(|s| lower.ends_with(s));
    (secret && !key.is_empty()).then(|| format!("{key}=[redacted]"))
}

/// One line with secrets and internal addresses replaced.
pub fn sanitise_line(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            if is_secret_word(word) {
                "[redacted]".to_owned()
            } else if is_internal_host(word) {
                "[internal]".to_owned()
            } else if let Some(masked) = masks_assignment(word) {
                masked
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last lines of `reason`, sanitised and bounded, safe to show in public.
pub fn excerpt(reason: &str) -> String {
    let lines: Vec<&str> = reason.lines().collect();
    let start = lines.len().saturating_sub(EXCERPT_LINES);
    let text = lines[start..]
        .iter()
        .map(|l| sanitise_line(l))
        .collect::<Vec<_>>()
        .join("\n")
        // A fence inside the excerpt would end the code block early.
        .replace("```", "'''");
    let count = text.chars().count();
    if count > EXCERPT_CHARS {
        // The end says most about a failure: keep it.
        let kept: String = text.chars().skip(count - EXCERPT_CHARS).collect();
        format!("…{kept}")
    } else {
        text
    }
}

/// The comment's Markdown, starting with [`MARKER`].
pub fn render(comment: &PreviewComment) -> String {
    let (icon, status) = match &comment.state {
        PreviewState::Building => ("⏳", "Building"),
        PreviewState::Deploying => ("🚀", "Deploying"),
        PreviewState::Ready { .. } => ("✅", "Ready"),
        PreviewState::Failed { .. } => ("❌", "Failed"),
        PreviewState::NotConfigured { .. } => ("➖", "Not configured"),
        PreviewState::Removed => ("🧹", "Removed"),
    };
    let short_sha: String = comment.sha.chars().take(7).collect();
    let mut text = format!("{MARKER}\n### {icon} Preview: {status}\n\n");
    if let PreviewState::Ready { url } = &comment.state {
        text.push_str(&format!("**URL:** {url}\n\n"));
    }
    if comment.state == PreviewState::Removed {
        text.push_str("The preview environment was removed.\n\n");
    }
    if let PreviewState::NotConfigured { reason } = &comment.state {
        text.push_str(&format!(
            "No preview at this commit: {}. What an earlier commit deployed was removed.\n\n",
            excerpt(reason.lines().next().unwrap_or_default())
        ));
    }
    text.push_str(&format!(
        "| Commit | Updated | Details |\n| --- | --- | --- |\n| `{short_sha}` | {} | [Slipway dashboard]({}) |\n",
        crate::time::utc(comment.updated_at_ms),
        comment.dashboard_url
    ));
    if let PreviewState::Failed { reason } = &comment.state {
        text.push_str(&format!(
            "\n<details open><summary>Why it failed</summary>\n\n```\n{}\n```\n</details>\n",
            excerpt(reason)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(state: PreviewState) -> PreviewComment {
        PreviewComment {
            state,
            sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821".into(),
            updated_at_ms: 1_795_548_245_000,
            dashboard_url: "https://slipway.example/previews/7".into(),
        }
    }

    #[test]
    fn a_ready_preview_shows_its_url_commit_time_and_dashboard() {
        let text = render(&comment(PreviewState::Ready {
            url: "https://pr-7.preview.example.com".into(),
        }));
        assert!(text.starts_with(MARKER));
        assert!(text.contains("✅ Preview: Ready"));
        assert!(text.contains("**URL:** https://pr-7.preview.example.com"));
        assert!(text.contains("`ec26c3e`"));
        assert!(text.contains("2026-11-24 19:24:05 UTC"));
        assert!(text.contains("(https://slipway.example/previews/7)"));
    }

    #[test]
    fn a_commit_without_a_preview_says_so_and_that_the_old_one_is_gone() {
        let text = render(&comment(PreviewState::NotConfigured {
            reason: "`.platform.yaml` at ec26c3e has no `preview:` section".into(),
        }));
        assert!(text.contains("➖ Preview: Not configured"), "{text}");
        assert!(
            text.contains("No preview at this commit: `.platform.yaml` at ec26c3e has no `preview:` section. What an earlier commit deployed was removed."),
            "{text}"
        );
        assert!(!text.contains("**URL:**"));
    }

    #[test]
    fn failures_are_shown_without_secrets_or_internal_addresses() {
        let reason = "Back-off pulling image\n\
                      DATABASE_PASSWORD=hunter2 connecting to db.pr-7.svc.cluster.local:5432\n\
                      token ghp_abcdefghijklmnopqrstuvwxyz0123 used from 10.42.0.17\n\
                      ``` fence";
        let text = render(&comment(PreviewState::Failed {
            reason: reason.into(),
        }));
        assert!(text.contains("❌ Preview: Failed"));
        for leaked in ["hunter2", "svc.cluster.local", "ghp_abc", "10.42.0.17"] {
            assert!(!text.contains(leaked), "{leaked} leaked:\n{text}");
        }
        assert!(text.contains("DATABASE_PASSWORD=[redacted]"));
        assert!(text.contains("[internal]") && text.contains("[redacted]"));
        assert_eq!(
            text.matches("```").count(),
            2,
            "the excerpt cannot break out of its block"
        );
    }

    #[test]
    fn long_failures_keep_their_last_lines_within_bounds() {
        let reason: String = (1..=500)
            .map(|i| format!("line {i} {}\n", "x".repeat(300)))
            .collect();
        let cut = excerpt(&reason);
        assert!(cut.contains("line 500"));
        assert!(!cut.contains("line 480 "));
        assert!(cut.chars().count() <= EXCERPT_CHARS + 2);
    }
}
