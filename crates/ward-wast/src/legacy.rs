//! The folded form of legacy exception handling, which the `wast` crate no longer parses:
//! `(try bt (do instr*) (catch $t instr*)* (catch_all instr*)?)` and
//! `(try bt (do instr*) (delegate l))`. The suite's `legacy/` scripts use it, so the runner
//! rewrites it to the flat form (`try bt instr* catch $t instr* ... end`, or
//! `try bt instr* delegate l`) before parsing. Strings and comments are left alone (quoted
//! modules keep their text), and line breaks are kept, so reported lines do not move.

use std::borrow::Cow;

#[derive(Clone, Copy, PartialEq)]
enum Open {
    /// Any other parenthesis.
    Plain,
    /// A folded `try`; `true` once its `delegate` clause was seen (it then needs no `end`).
    Try(bool),
    /// A `do`, `catch`, `catch_all` or `delegate` clause of a folded `try`.
    Clause,
}

fn is_idchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-./:<=>?@\\^_`|~".contains(&c)
}

/// The keyword starting at `i`, if any.
fn keyword(s: &[u8], i: usize) -> &[u8] {
    let mut j = i;
    while j < s.len() && is_idchar(s[j]) {
        j += 1;
    }
    &s[i..j]
}

/// Rewrites folded legacy `try` expressions of a script to the flat form.
pub(crate) fn unfold_try(source: &str) -> Cow<'_, str> {
    if !source.contains("(try") {
        return Cow::Borrowed(source);
    }
    let s = source.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(s.len() + 64);
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        match c {
            b'"' => {
                // A string, with `\"` and `\\` escapes.
                let start = i;
                i += 1;
                while i < s.len() && s[i] != b'"' {
                    i += if s[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(s.len());
                out.extend_from_slice(&s[start..i]);
                continue;
            }
            b';' if s.get(i + 1) == Some(&b';') => {
                let start = i;
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
                out.extend_from_slice(&s[start..i]);
                continue;
            }
            b'(' if s.get(i + 1) == Some(&b';') => {
                // A block comment; they nest.
                let start = i;
                let mut depth = 0usize;
                while i < s.len() {
                    if s[i] == b'(' && s.get(i + 1) == Some(&b';') {
                        depth += 1;
                        i += 2;
                    } else if s[i] == b';' && s.get(i + 1) == Some(&b')') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.extend_from_slice(&s[start..i.min(s.len())]);
                continue;
            }
            b'(' => {
                let kw = keyword(s, i + 1);
                let in_try = matches!(stack.last(), Some(Open::Try(_)));
                match kw {
                    b"try" => {
                        stack.push(Open::Try(false));
                        out.push(b' ');
                    }
                    b"do" if in_try => {
                        stack.push(Open::Clause);
                        out.extend_from_slice(b"   ");
                        i += 3;
                        continue;
                    }
                    b"catch" | b"catch_all" if in_try => {
                        stack.push(Open::Clause);
                        out.push(b' ');
                    }
                    b"delegate" if in_try => {
                        if let Some(Open::Try(delegated)) = stack.last_mut() {
                            *delegated = true;
                        }
                        stack.push(Open::Clause);
                        out.push(b' ');
                    }
                    _ => {
                        stack.push(Open::Plain);
                        out.push(b'(');
                    }
                }
            }
            b')' => match stack.pop() {
                Some(Open::Try(false)) => out.extend_from_slice(b" end "),
                Some(Open::Try(true)) | Some(Open::Clause) => out.push(b' '),
                Some(Open::Plain) | None => out.push(b')'),
            },
            _ => out.push(c),
        }
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII bytes, so the text is still UTF-8.
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| source.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_try_becomes_flat() {
        let t = unfold_try(
            "(func (try $l (result i32) (do (i32.const 1)) (catch $e (i32.const 2)) (catch_all\n\
             (i32.const 3))) (try (do) (delegate 0)) \"(try\" ;; (try\n)",
        );
        let flat: Vec<&str> = t.split_whitespace().collect();
        assert_eq!(
            flat.join(" "),
            "(func try $l (result i32) (i32.const 1) catch $e (i32.const 2) catch_all \
             (i32.const 3) end try delegate 0 \"(try\" ;; (try )"
        );
        assert_eq!(t.lines().count(), 3, "line breaks are kept");
    }
}
