//! Kubernetes resource quantities (`250m`, `1`, `123456789n` for CPU; `512Mi`, `1G`, `2048Ki`
//! for memory) read into plain numbers for display and quota arithmetic.

/// Splits `512Mi` into `("512", "Mi")`.
fn split(text: &str) -> (&str, &str) {
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(at)
}

/// CPU in millicores, rounded down: `250m` → 250, `2` → 2000, `1500000n` → 1.
pub fn cpu_millicores(text: &str) -> Option<u64> {
    let (number, suffix) = split(text.trim());
    let value: f64 = number.parse().ok()?;
    let millis = match suffix {
        "" => value * 1000.0,
        "m" => value,
        "u" => value / 1000.0,
        "n" => value / 1_000_000.0,
        _ => return None,
    };
    Some(millis as u64)
}

/// Memory in bytes: `512Mi`, `1G`, `2048Ki`, `1000`.
pub fn bytes(text: &str) -> Option<u64> {
    let (number, suffix) = split(text.trim());
    let value: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((value * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_reads_cores_millicores_and_nanocores() {
        assert_eq!(cpu_millicores("250m"), Some(250));
        assert_eq!(cpu_millicores("2"), Some(2000));
        assert_eq!(cpu_millicores("0.5"), Some(500));
        assert_eq!(cpu_millicores("123456789n"), Some(123));
        assert_eq!(cpu_millicores("lots"), None);
        assert_eq!(cpu_millicores("5x"), None);
    }

    #[test]
    fn memory_reads_binary_and_decimal_units() {
        assert_eq!(bytes("512Mi"), Some(512 * 1024 * 1024));
        assert_eq!(bytes("2048Ki"), Some(2 * 1024 * 1024));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1000"), Some(1000));
        assert_eq!(bytes("1Qi"), None);
    }
}
