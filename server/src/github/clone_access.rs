//! Git access to repositories on this GitHub: which clone URLs it serves (same scheme and host
//! as its web address, `github.com` for `api.github.com`, the Enterprise host for
//! `https://ghe.example.com/api/v3`), and the token git fetches them with. A token is never
//! handed out for a URL on another host.

/// The scheme and host git remotes of the GitHub at `api_url` have.
pub fn git_origin(api_url: &str) -> Option<(String, String)> {
    let url = url::Url::parse(api_url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host
        .strip_prefix("api.")
        .map_or(host.clone(), str::to_owned);
    Some((url.scheme().to_owned(), host))
}

/// Whether `clone_url` is a remote of the GitHub whose git origin is `origin`.
pub fn serves(origin: &(String, String), clone_url: &str) -> bool {
    let Ok(url) = url::Url::parse(clone_url) else {
        return false;
    };
    url.scheme() == origin.0
        && url
            .host_str()
            .is_some_and(|host| host.eq_ignore_ascii_case(&origin.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_only_to_this_githubs_own_remotes() {
        let github = git_origin("https://api.github.com").expect("origin");
        assert!(serves(&github, "https://github.com/acme/shop.git"));
        assert!(serves(&github, "https://GitHub.com/acme/shop"));
        assert!(!serves(&github, "https://gitlab.com/acme/shop.git"));
        assert!(!serves(&github, "http://github.com/acme/shop.git"));
        assert!(!serves(
            &github,
            "https://github.com.evil.example/acme/shop.git"
        ));
        assert!(!serves(&github, "/srv/git/shop"));
        let enterprise = git_origin("https://ghe.example.com/api/v3").expect("origin");
        assert!(serves(&enterprise, "https://ghe.example.com/acme/shop.git"));
        assert!(!serves(&enterprise, "https://github.com/acme/shop.git"));
    }
}
