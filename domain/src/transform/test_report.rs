//! Test outcomes a step reports in its output, as the summary shows them: the totals lines
//! of cargo (`test result: ok. 12 passed; 0 failed; 1 ignored`), pytest (`3 passed, 1 failed
//! in 0.12s`) and Jest (`Tests: 1 failed, 5 passed, 6 total`), added up over the log.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    /// Skipped or ignored.
    pub skipped: u64,
}

impl TestCounts {
    /// The counts a totals line reports; `None` for any other line.
    pub fn in_line(line: &str) -> Option<Self> {
        let line = line.trim().trim_matches('=').trim();
        let counted = if let Some(rest) = line.strip_prefix("test result:") {
            rest
        } else if let Some(rest) = line.strip_prefix("Tests:") {
            rest
        } else if line.contains(" passed") || line.contains(" failed") {
            // pytest's last line: `3 passed, 1 failed, 2 skipped in 0.12s`.
            line.split(" in ").next().unwrap_or(line)
        } else {
            return None;
        };
        let mut counts = Self::default();
        let mut seen = false;
        for part in counted.split([',', ';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(number), Some(word)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            let slot = match word {
                "passed" => &mut counts.passed,
                "failed" => &mut counts.failed,
                "skipped" | "ignored" => &mut counts.skipped,
                _ => continue,
            };
            *slot += number;
            seen = true;
        }
        seen.then_some(counts)
    }

    pub fn add(&mut self, other: Self) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_lines_of_cargo_pytest_and_jest_are_read() {
        let cargo = TestCounts::in_line(
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
        );
        assert_eq!(
            cargo,
            Some(TestCounts {
                passed: 12,
                failed: 0,
                skipped: 1
            })
        );
        let pytest =
            TestCounts::in_line("========= 3 passed, 1 failed, 2 skipped in 0.12s =========");
        assert_eq!(
            pytest,
            Some(TestCounts {
                passed: 3,
                failed: 1,
                skipped: 2
            })
        );
        let jest = TestCounts::in_line("Tests:       1 failed, 5 passed, 6 total");
        assert_eq!(
            jest,
            Some(TestCounts {
                passed: 5,
                failed: 1,
                skipped: 0
            })
        );
        assert_eq!(TestCounts::in_line("compiling serde v1.0.2"), None);
        assert_eq!(TestCounts::in_line("the build failed"), None);
    }
}
