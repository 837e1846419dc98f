//! Source positions and readable names for backtraces: the module's DWARF line tables (read
//! only when a trap's frames are asked for them) and demangled Rust and C++ names.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Reader = gimli::EndianArcSlice<gimli::LittleEndian>;

/// Where a wasm instruction came from in the source, from the module's DWARF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    /// The source file, as the compiler recorded it.
    pub file: String,
    /// The line (1-based), if known.
    pub line: Option<u32>,
    /// The column (1-based), if known.
    pub column: Option<u32>,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", crate::error::GuestText(&self.file))?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column.filter(|c| *c > 0) {
                write!(f, ":{c}")?;
            }
        }
        Ok(())
    }
}

/// A module's line tables, parsed on first use and kept with the module.
pub(crate) struct LineTables {
    context: addr2line::Context<Reader>,
    /// DWARF addresses in wasm count from the start of the Code section's contents.
    code_start: usize,
}

impl LineTables {
    /// The line tables of `module` (its binary), if it carries `.debug_line` and `.debug_info`.
    fn read(module: &[u8]) -> Option<LineTables> {
        let mut code_start = None;
        let mut sections: HashMap<String, Arc<[u8]>> = HashMap::new();
        for payload in wasmparser::Parser::new(0).parse_all(module) {
            match payload.ok()? {
                wasmparser::Payload::CodeSectionStart { unchecked_range, .. } => {
                    code_start = usize::try_from(unchecked_range.start).ok();
                }
                wasmparser::Payload::CustomSection(c) if c.name().starts_with(".debug_") => {
                    sections.insert(c.name().to_string(), Arc::from(c.data()));
                }
                _ => {}
            }
        }
        if !sections.contains_key(".debug_line") || !sections.contains_key(".debug_info") {
            return None;
        }
        let empty: Arc<[u8]> = Arc::from(&[][..]);
        let dwarf = gimli::Dwarf::load(|id: gimli::SectionId| {
            let data = sections.get(id.name()).cloned().unwrap_or_else(|| empty.clone());
            Ok::<_, gimli::Error>(gimli::EndianArcSlice::new(data, gimli::LittleEndian))
        })
        .ok()?;
        let context = addr2line::Context::from_dwarf(dwarf).ok()?;
        Some(LineTables { context, code_start: code_start? })
    }

    /// The source position of the instruction at byte `offset` of the binary.
    fn find(&self, offset: usize) -> Option<SourceLocation> {
        let address = offset.checked_sub(self.code_start)? as u64;
        let location = self.context.find_location(address).ok()??;
        Some(SourceLocation {
            file: location.file?.to_string(),
            line: location.line,
            column: location.column,
        })
    }
}

/// The lazily read line tables of one module: `None` inside once read and absent.
#[derive(Default)]
pub(crate) struct LazyLineTables(Mutex<Option<Option<LineTables>>>);

impl LazyLineTables {
    /// The source position of byte `offset` of `module` (whose tables these are).
    pub(crate) fn find(&self, module: &[u8], offset: usize) -> Option<SourceLocation> {
        let mut tables = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tables.get_or_insert_with(|| LineTables::read(module)).as_ref()?.find(offset)
    }
}

/// Mangled names longer than this are left as they are (demangling cost grows with length).
const MAX_DEMANGLE_BYTES: usize = 4096;

/// A Rust (legacy or v0 mangling) or C++ (Itanium) name in readable form; other names as they
/// are.
///
/// ```
/// assert_eq!(ward::demangle("_RNvNtCsdHhIpgkcIfN_4core9panicking9panic_fmt"), "core::panicking::panic_fmt");
/// assert_eq!(ward::demangle("_Z3addii"), "add(int, int)");
/// assert_eq!(ward::demangle("main"), "main");
/// ```
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_and_cpp_names_are_demangled() {
        assert_eq!(
            demangle("_ZN4core9panicking5panic17h0123456789abcdefE"),
            "core::panicking::panic"
        );
        assert_eq!(demangle("_Znot a symbol"), "_Znot a symbol");
        let long = format!("_Z{}", "a".repeat(5000));
        assert_eq!(demangle(&long), long, "very long names are left alone");
    }

    /// A module with DWARF (here from `wat`'s `dwarf` option) gives each trapping frame its
    /// line; a module without gives none.
    #[test]
    fn frames_of_modules_with_dwarf_have_source_lines() {
        use crate::{Engine, Instance, Module, Store};
        let text = "(module\n  (func (export \"f\")\n    nop\n    unreachable))";
        let mut parser = wat::Parser::new();
        parser.generate_dwarf(wat::GenerateDwarf::Lines);
        let path = std::path::Path::new("t.wat");
        let binary = parser.parse_bytes(Some(path), text.as_bytes()).unwrap();
        let engine = Engine::default();
        for (bytes, expect_line) in
            [(binary.to_vec(), Some(4)), (wat::parse_str(text).unwrap(), None)]
        {
            let module = Module::new(&engine, &bytes).unwrap();
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let f = instance.get_typed_func::<(), ()>(&mut store, "f").unwrap();
            let err = f.call(&mut store, ()).unwrap_err();
            let at = err.as_trap().unwrap().backtrace()[0].source_location();
            assert_eq!(at.as_ref().and_then(|a| a.line), expect_line, "{at:?}");
            if let Some(at) = at {
                assert!(at.file.ends_with("t.wat"), "{at}");
                assert!(err.to_string().contains("t.wat:4"), "{err}");
            }
        }
    }
}
