//! ANSI colours in log lines: SGR escape sequences (`ESC[31m`, `ESC[1;32m`, `ESC[0m`) become
//! styled spans; every other escape sequence is dropped so it never shows as garbage.

/// A piece of a line with the Tailwind classes its colours map to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub class: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Style {
    colour: Option<&'static str>,
    bold: bool,
    dim: bool,
    underline: bool,
}

impl Style {
    fn class(self) -> String {
        let mut classes: Vec<&str> = Vec::new();
        classes.extend(self.colour);
        if self.bold {
            classes.push("font-bold");
        }
        if self.dim {
            classes.push("opacity-60");
        }
        if self.underline {
            classes.push("underline");
        }
        classes.join(" ")
    }

    fn apply(&mut self, code: u32) {
        const COLOURS: [&str; 8] = [
            "text-slate-500",
            "text-rose-400",
            "text-emerald-400",
            "text-amber-300",
            "text-sky-400",
            "text-fuchsia-400",
            "text-cyan-300",
            "text-slate-100",
        ];
        const BRIGHT: [&str; 8] = [
            "text-slate-400",
            "text-rose-300",
            "text-emerald-300",
            "text-yellow-200",
            "text-sky-300",
            "text-fuchsia-300",
            "text-cyan-200",
            "text-white",
        ];
        match code {
            0 => *self = Style::default(),
            1 => self.bold = true,
            2 => self.dim = true,
            4 => self.underline = true,
            22 => (self.bold, self.dim) = (false, false),
            24 => self.underline = false,
            30..=37 => self.colour = Some(COLOURS[(code - 30) as usize]),
            39 => self.colour = None,
            90..=97 => self.colour = Some(BRIGHT[(code - 90) as usize]),
            _ => {}
        }
    }
}

/// The line as styled spans (adjacent text with the same style is one span).
pub fn spans(line: &str) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut style = Style::default();
    let mut text = String::new();
    let mut chars = line.chars().peekable();
    let flush = |text: &mut String, style: Style, out: &mut Vec<Span>| {
        if !text.is_empty() {
            out.push(Span {
                text: std::mem::take(text),
                class: style.class(),
            });
        }
    };
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            text.push(c);
            continue;
        }
        if chars.peek() != Some(&'[') {
            continue;
        }
        chars.next();
        let mut params = String::new();
        let mut terminator = None;
        for next in chars.by_ref() {
            if next.is_ascii_digit() || next == ';' {
                params.push(next);
            } else {
                terminator = Some(next);
                break;
            }
        }
        if terminator == Some('m') {
            flush(&mut text, style, &mut out);
            if params.is_empty() {
                style.apply(0);
            }
            for code in params.split(';').filter_map(|p| p.parse::<u32>().ok()) {
                style.apply(code);
            }
        }
    }
    flush(&mut text, style, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_become_classes_and_other_escapes_vanish() {
        let got = spans("plain \u{1b}[1;31merror\u{1b}[0m: done\u{1b}[2K");
        assert_eq!(
            got,
            vec![
                Span {
                    text: "plain ".into(),
                    class: String::new()
                },
                Span {
                    text: "error".into(),
                    class: "text-rose-400 font-bold".into()
                },
                Span {
                    text: ": done".into(),
                    class: String::new()
                },
            ]
        );
        assert_eq!(spans("no escapes")[0].text, "no escapes");
    }
}
