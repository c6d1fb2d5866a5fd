//! A patch (`git diff --binary` output) split into files and typed lines, for showing it file
//! by file with additions and deletions coloured. Binary files are named, not shown.

use serde::{Deserialize, Serialize};

/// Lines shown of one patch at most; the rest is counted.
pub const MAX_SHOWN_LINES: usize = 20_000;

/// What a shown line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// `@@ -1,3 +1,4 @@`: where a hunk starts.
    Hunk,
    Added,
    Removed,
    Context,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchLine {
    pub kind: LineKind,
    pub text: String,
}

/// One file of a patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchFile {
    pub path: String,
    pub binary: bool,
    pub lines: Vec<PatchLine>,
}

/// A patch's files, and how many lines were left out past [`MAX_SHOWN_LINES`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownPatch {
    pub files: Vec<PatchFile>,
    pub hidden_lines: usize,
}

/// Splits `patch` into its files.
pub fn show(patch: &str) -> ShownPatch {
    let mut shown = ShownPatch::default();
    let mut count = 0usize;
    let mut in_binary = false;
    for line in patch.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let path = rest
                .rsplit_once(" b/")
                .map_or(rest, |(_, to)| to)
                .to_owned();
            shown.files.push(PatchFile {
                path,
                binary: false,
                lines: Vec::new(),
            });
            in_binary = false;
            continue;
        }
        let Some(file) = shown.files.last_mut() else {
            continue;
        };
        if line == "GIT binary patch" || line.starts_with("Binary files ") {
            file.binary = true;
            in_binary = true;
            continue;
        }
        if in_binary {
            continue;
        }
        let kind = if line.starts_with("@@") {
            LineKind::Hunk
        } else if file.lines.is_empty() {
            // The header: index, modes, `---`/`+++` names.
            continue;
        } else if let Some(text) = line.strip_prefix('+') {
            push(
                file,
                &mut count,
                &mut shown.hidden_lines,
                LineKind::Added,
                text,
            );
            continue;
        } else if let Some(text) = line.strip_prefix('-') {
            push(
                file,
                &mut count,
                &mut shown.hidden_lines,
                LineKind::Removed,
                text,
            );
            continue;
        } else {
            LineKind::Context
        };
        let text = match kind {
            LineKind::Context => line.strip_prefix(' ').unwrap_or(line),
            _ => line,
        };
        push(file, &mut count, &mut shown.hidden_lines, kind, text);
    }
    shown
}

fn push(file: &mut PatchFile, count: &mut usize, hidden: &mut usize, kind: LineKind, text: &str) {
    if *count >= MAX_SHOWN_LINES {
        *hidden += 1;
        return;
    }
    *count += 1;
    file.lines.push(PatchLine {
        kind,
        text: text.to_owned(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "\
diff --git a/Cargo.toml b/Cargo.toml
index 1111111..2222222 100644
--- a/Cargo.toml
+++ b/Cargo.toml
@@ -1,2 +1,2 @@
 [dependencies]
-serde = \"1.0.1\"
+serde = \"1.0.2\"
diff --git a/data.bin b/data.bin
new file mode 100644
index 0000000..3333333
GIT binary patch
literal 4
LcmZQzWMT#Y01f~L

literal 0
HcmV?d00001

diff --git a/NEW.md b/NEW.md
new file mode 100644
--- /dev/null
+++ b/NEW.md
@@ -0,0 +1 @@
+new file
";

    #[test]
    fn a_patch_is_shown_file_by_file_with_typed_lines() {
        let shown = show(PATCH);
        let paths: Vec<&str> = shown.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Cargo.toml", "data.bin", "NEW.md"]);
        let kinds: Vec<LineKind> = shown.files[0].lines.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            [
                LineKind::Hunk,
                LineKind::Context,
                LineKind::Removed,
                LineKind::Added
            ]
        );
        assert_eq!(shown.files[0].lines[3].text, "serde = \"1.0.2\"");
        assert!(shown.files[1].binary && shown.files[1].lines.is_empty());
        assert_eq!(shown.files[2].lines[1].text, "new file");
        assert_eq!(shown.hidden_lines, 0);
    }
}
