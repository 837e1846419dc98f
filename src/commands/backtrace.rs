//! The CLI's report of a trap: the message, then the wasm backtrace with demangled Rust and C++
//! names and, when the module carries DWARF line tables, the source file and line of each frame
//! (both from the library: `FrameInfo::demangled_name`, `FrameInfo::source_location`, which
//! reads the debug sections only when asked, so running a module costs nothing extra). Every
//! name is escaped and cut ([`diag::escape`]); at most [`MAX_FRAMES`] frames are shown.

use super::diag;

/// Frames shown; the rest are counted.
pub const MAX_FRAMES: usize = 32;

/// The trap's message and its backtrace, ready to print (after `error: `).
pub fn report(trap: &ward::Trap) -> String {
    let mut text = diag::escape_lines(trap.message());
    let frames = trap.backtrace();
    if frames.is_empty() {
        return text;
    }
    text.push_str("\nwasm backtrace:");
    for (i, frame) in frames.iter().enumerate().take(MAX_FRAMES) {
        text.push_str(&format!("\n  {i:>3}: "));
        if let Some(offset) = frame.offset {
            text.push_str(&format!("{offset:#x} - "));
        }
        if let Some(m) = &frame.module_name {
            text.push_str(&diag::escape(m, diag::MAX_NAME_CHARS));
            text.push('!');
        }
        match frame.demangled_name() {
            Some(name) => text.push_str(&diag::escape(&name, diag::MAX_NAME_CHARS)),
            None => text.push_str(&format!("<wasm function {}>", frame.func_index)),
        }
        if let Some(place) = frame.source_location() {
            text.push_str("\n         at ");
            text.push_str(&diag::escape(&place.to_string(), diag::MAX_NAME_CHARS * 2));
        }
    }
    if frames.len() > MAX_FRAMES {
        text.push_str(&format!("\n  ... {} more frames", frames.len() - MAX_FRAMES));
    }
    text
}

#[cfg(test)]
mod tests {
    use ward::demangle;

    #[test]
    fn rust_and_cpp_names_are_demangled() {
        assert_eq!(
            demangle("_RNvNtCsdHhIpgkcIfN_4core9panicking9panic_fmt"),
            "core::panicking::panic_fmt"
        );
        assert_eq!(
            demangle("_ZN4core9panicking5panic17h0123456789abcdefE"),
            "core::panicking::panic"
        );
        assert_eq!(demangle("_Z3addii"), "add(int, int)");
        assert_eq!(demangle("main"), "main");
        assert_eq!(demangle("_Znot a symbol"), "_Znot a symbol");
    }
}
