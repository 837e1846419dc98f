//! Writing diagnostics and results safely.
//!
//! Two rules hold for everything the CLI prints:
//!
//! - Text that may come from a guest (module, function, import and export names, host messages
//!   that quote them) goes through [`escape`]: control characters and invisible direction
//!   overrides are shown as `\u{..}`, and the text is cut at a fixed length, so a guest can
//!   neither drive the terminal nor flood it.
//! - A closed or broken stdout/stderr never panics the CLI: [`out`] and [`err`] ignore write
//!   errors (a closed pipe means nobody reads; the exit status still tells what happened), and
//!   [`raw_stderr`] writes without taking Rust's stderr lock, for the watchdog.

use std::io::Write;

/// The longest guest-controlled name printed, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The longest single diagnostic line printed, in characters.
pub const MAX_LINE_CHARS: usize = 2000;

/// `text` with control characters, and the Unicode marks that reorder or hide text, written as
/// `\u{..}`, cut after `max_chars` characters with a note of how much was left out.
///
/// ```text
/// escape("a\u{1b}[2Jb", 200) == r"a\u{1b}[2Jb"
/// ```
pub fn escape(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    for (shown, (i, c)) in text.char_indices().enumerate() {
        if shown == max_chars {
            out.push_str(&format!("... ({} more bytes)", text.len() - i));
            break;
        }
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`] for multi-line text the CLI composed itself (an error and its causes): each line
/// escaped and cut to [`MAX_LINE_CHARS`]; the line breaks themselves are kept.
pub fn escape_lines(text: &str) -> String {
    text.split('\n').map(|line| escape(line, MAX_LINE_CHARS)).collect::<Vec<_>>().join("\n")
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width spaces and joiners, LTR/RTL marks
            | '\u{2028}'..='\u{202e}' // line/paragraph separators, embeddings and overrides
            | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, isolates
            | '\u{feff}')
}

/// Writes `text` and a newline to stdout; a closed stdout is ignored.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// Writes `text` and a newline to stderr; a closed stderr is ignored.
pub fn err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Writes `text` to descriptor 2 with one `write` call, without Rust's stderr lock (which a
/// guest blocked on a full stderr pipe may hold). May block if stderr is a full pipe: call it
/// where a block is harmless (see the watchdog).
pub fn raw_stderr(text: &str) {
    // SAFETY: writes from a valid buffer of the given length to descriptor 2; the result is
    // ignored (there is nothing to do about a failed diagnostic).
    unsafe {
        let _ = libc::write(2, text.as_ptr().cast(), text.len());
    }
}

/// Ends the process now with `code`, without running exit handlers or flushing (and so without
/// waiting for) the standard streams' locks. Everything the CLI writes is already flushed: its
/// stdout writes flush per line and stderr is unbuffered.
pub fn hard_exit(code: i32) -> ! {
    // SAFETY: `_exit` only ends the process.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\u{1b}[2Jb\n", 100), "a\\u{1b}[2Jb\\u{a}");
        assert_eq!(escape("evil\u{202e}txt", 100), "evil\\u{202e}txt");
        assert_eq!(escape("plain name ü", 100), "plain name ü");
    }

    #[test]
    fn long_text_is_cut() {
        let long = "x".repeat(1000);
        let shown = escape(&long, 10);
        assert_eq!(shown, "xxxxxxxxxx... (990 more bytes)");
        assert_eq!(escape_lines(&format!("a\n{long}")).lines().count(), 2);
    }
}
