//! The CLI's report of a trap: the message, then the wasm backtrace with demangled Rust and C++
//! names and, when the module carries DWARF line tables, the source file and line of each frame.
//!
//! The debug sections are read only here, when a trap is reported, so running a module costs
//! nothing extra. Every name is escaped and cut ([`diag::escape`]); at most [`MAX_FRAMES`]
//! frames are shown.

use std::borrow::Cow;
use std::collections::HashMap;

use addr2line::gimli;

use super::diag;

/// Frames shown; the rest are counted.
pub const MAX_FRAMES: usize = 32;

/// Mangled names longer than this are shown as they are (demangling cost grows with length).
const MAX_DEMANGLE_BYTES: usize = 4096;

/// The trap's message and its backtrace, ready to print (after `error: `). `module` is the
/// module's binary, when it can be had, for its debug information.
pub fn report(trap: &ward::Trap, module: Option<&[u8]>) -> String {
    let mut text = match trap.code() {
        // A host function's own message is only in the Display text, before the library's
        // rendering of the backtrace.
        ward::TrapCode::HostError => {
            let full = trap.to_string();
            let message = full.split("\nwasm backtrace:").next().unwrap_or_default().to_string();
            diag::escape_lines(&message)
        }
        code => code.message().to_string(),
    };
    let frames = trap.backtrace();
    if frames.is_empty() {
        return text;
    }
    let debug = module.and_then(DebugSections::read);
    let lines = debug.as_ref().and_then(DebugSections::line_table);
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
        match &frame.func_name {
            Some(name) => text.push_str(&diag::escape(&demangle(name), diag::MAX_NAME_CHARS)),
            None => text.push_str(&format!("<wasm function {}>", frame.func_index)),
        }
        if let (Some(lines), Some(offset)) = (&lines, frame.offset) {
            if let Some(place) = lines.find(offset) {
                text.push_str("\n         at ");
                text.push_str(&diag::escape(&place, diag::MAX_NAME_CHARS * 2));
            }
        }
    }
    if frames.len() > MAX_FRAMES {
        text.push_str(&format!("\n  ... {} more frames", frames.len() - MAX_FRAMES));
    }
    text
}

/// A Rust (legacy or v0 mangling) or C++ (Itanium) name in readable form; other names as they
/// are.
pub fn demangle(name: &str) -> Cow<'_, str> {
    if name.len() > MAX_DEMANGLE_BYTES {
        return Cow::Borrowed(name);
    }
    if let Ok(d) = rustc_demangle::try_demangle(name) {
        // `{:#}` leaves out the hash suffix of legacy symbols.
        return Cow::Owned(format!("{d:#}"));
    }
    if name.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(name) {
            if let Ok(d) = sym.demangle(&cpp_demangle::DemangleOptions::new()) {
                return Cow::Owned(d);
            }
        }
    }
    Cow::Borrowed(name)
}

/// The DWARF sections of a module, and where its Code section's contents start: DWARF addresses
/// in wasm count from there, trap offsets from the start of the binary.
struct DebugSections {
    sections: HashMap<String, Vec<u8>>,
    code_start: usize,
}

impl DebugSections {
    /// The debug sections of `module`, if it has `.debug_line` and `.debug_info`.
    fn read(module: &[u8]) -> Option<DebugSections> {
        let mut code_start = None;
        let mut sections = HashMap::new();
        for payload in wasmparser::Parser::new(0).parse_all(module) {
            match payload.ok()? {
                wasmparser::Payload::CodeSectionStart { unchecked_range, .. } => {
                    code_start = usize::try_from(unchecked_range.start).ok();
                }
                wasmparser::Payload::CustomSection(c) if c.name().starts_with(".debug_") => {
                    sections.insert(c.name().to_string(), c.data().to_vec());
                }
                _ => {}
            }
        }
        if !sections.contains_key(".debug_line") || !sections.contains_key(".debug_info") {
            return None;
        }
        Some(DebugSections { sections, code_start: code_start? })
    }

    /// The line table over these sections, if they parse.
    fn line_table(&self) -> Option<LineTable<'_>> {
        let dwarf = gimli::Dwarf::load(|id: gimli::SectionId| {
            let data = self.sections.get(id.name()).map_or(&[][..], Vec::as_slice);
            Ok::<_, gimli::Error>(gimli::EndianSlice::new(data, gimli::LittleEndian))
        })
        .ok()?;
        let context = addr2line::Context::from_dwarf(dwarf).ok()?;
        Some(LineTable { context, code_start: self.code_start })
    }
}

/// Source positions by code offset.
struct LineTable<'a> {
    context: addr2line::Context<gimli::EndianSlice<'a, gimli::LittleEndian>>,
    code_start: usize,
}

impl LineTable<'_> {
    /// `file:line[:column]` of the instruction at `offset` in the binary.
    fn find(&self, offset: usize) -> Option<String> {
        let address = offset.checked_sub(self.code_start)? as u64;
        let location = self.context.find_location(address).ok()??;
        let file = location.file?;
        Some(match (location.line, location.column) {
            (Some(l), Some(c)) if c > 0 => format!("{file}:{l}:{c}"),
            (Some(l), _) => format!("{file}:{l}"),
            _ => file.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
