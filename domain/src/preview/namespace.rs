//! The namespace of a pull request's preview: `pr-{repository}-{number}`, made a valid DNS-1123
//! label (lower-case letters, digits and `-`, at most 63 characters, starting and ending with a
//! letter or digit). When it must be cut, a short hash of the whole name keeps it unique. Two
//! repositories can read alike once made a label (`acme/my-shop` and `acme-my/shop`): the second
//! to ask gets [`distinct_namespace`], the name with that hash.

/// Longest DNS-1123 label.
const MAX_LEN: usize = 63;
/// `-` and 8 hex digits.
const HASH_SUFFIX_LEN: usize = 9;

/// The preview namespace of pull request `number` of `repository` (`owner/name`).
pub fn preview_namespace(repository: &str, number: i64) -> String {
    let wanted = format!("pr-{repository}-{number}");
    let mut label = String::with_capacity(wanted.len());
    for c in wanted.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            label.push(c);
        } else if !label.ends_with('-') {
            label.push('-');
        }
    }
    let label = label.trim_matches('-');
    if label.len() <= MAX_LEN {
        return label.to_owned();
    }
    with_hash(label, &wanted)
}

/// The namespace of pull request `number` of `repository` when [`preview_namespace`] is taken
/// by another repository's pull request: the same name, cut if need be, and a hash of the
/// repository's exact name and the number (salted, so that it differs from the hash a long name
/// already ends with).
pub fn distinct_namespace(repository: &str, number: i64) -> String {
    let readable = preview_namespace(repository, number);
    with_hash(&readable, &format!("pr-{repository}-{number}#distinct"))
}

/// `label` cut to leave room for `-` and the hash of `exact`.
fn with_hash(label: &str, exact: &str) -> String {
    let room = MAX_LEN - HASH_SUFFIX_LEN;
    let cut = label.get(..room).unwrap_or(label).trim_end_matches('-');
    format!("{cut}-{:08x}", fnv1a(exact.as_bytes()))
}

/// Whether `name` is a DNS-1123 label (what Kubernetes accepts as a namespace name).
pub fn is_dns_label(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !name.is_empty()
        && name.len() <= MAX_LEN
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// 32-bit FNV-1a: a stable, dependency-free hash; it only has to tell cut names apart.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_read_like_the_pull_request() {
        assert_eq!(preview_namespace("acme/shop", 7), "pr-acme-shop-7");
        assert_eq!(
            preview_namespace("Acme/My_Shop.v2", 12),
            "pr-acme-my-shop-v2-12"
        );
        assert_eq!(preview_namespace("acme/--odd--", 3), "pr-acme-odd-3");
    }

    #[test]
    fn long_names_are_cut_valid_and_still_unique() {
        let long = format!("acme/{}", "very-long-repository-name".repeat(4));
        let a = preview_namespace(&long, 1);
        let b = preview_namespace(&long, 2);
        let c = preview_namespace(&format!("{long}x"), 1);
        for name in [&a, &b, &c] {
            assert!(is_dns_label(name), "{name}");
            assert!(name.len() <= 63, "{name}");
        }
        assert_ne!(a, b, "different pull requests");
        assert_ne!(a, c, "different repositories");
        assert_eq!(a, preview_namespace(&long, 1), "stable");
        assert!(a.starts_with("pr-acme-very-long-repository-name"), "{a}");
    }

    #[test]
    fn repositories_that_read_alike_are_told_apart_by_a_hash() {
        let (a, b) = ("acme/my-shop", "acme-my/shop");
        assert_eq!(preview_namespace(a, 1), preview_namespace(b, 1));
        let distinct = distinct_namespace(b, 1);
        assert_ne!(distinct, preview_namespace(a, 1));
        assert!(distinct.starts_with("pr-acme-my-shop-1-"), "{distinct}");
        assert!(is_dns_label(&distinct), "{distinct}");
    }

    #[test]
    fn dns_labels_are_checked() {
        assert!(is_dns_label("pr-acme-shop-7"));
        for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }
}
