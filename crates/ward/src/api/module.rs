//! The public constructors of [`Module`]: decoding (in `module/`) and, when the engine asks for
//! it, eager translation by the interpreter tier or compilation by the native tier.

use crate::engine::{Engine, Tier};
use crate::error::Result;
use crate::module::Module;
use std::path::Path;

impl Module {
    /// Compiles a module from its binary or text form.
    ///
    /// Input that starts with a NUL byte (the `\0asm` magic) or is not UTF-8 is decoded as
    /// binary, anything else is parsed as text. Errors name the problem and its byte offset (or
    /// line and column for text).
    ///
    /// ```
    /// let engine = ward::Engine::default();
    /// let err = ward::Module::new(&engine, b"\0asm\x01\0\0\0\x01").unwrap_err();
    /// assert!(err.to_string().contains("offset"));
    /// ```
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let bytes = bytes.as_ref();
        // Anything starting with a NUL byte, or that is not UTF-8, is treated as binary so that a
        // damaged binary gets a binary decoding error ("magic header not detected"), not a text
        // parse error.
        let looks_binary = bytes.first() == Some(&0) || std::str::from_utf8(bytes).is_err();
        let binary: std::borrow::Cow<'_, [u8]> = if looks_binary {
            bytes.into()
        } else {
            wat::parse_bytes(bytes).map_err(|e| crate::Error::Text(e.to_string()))?
        };
        Module::from_binary(engine, &binary)
    }

    /// Compiles a module from its binary form only.
    pub fn from_binary(engine: &Engine, binary: &[u8]) -> Result<Module> {
        let _span = tracing::debug_span!(target: "ward", "compile", bytes = binary.len()).entered();
        let module = Module::decode(engine, binary)?;
        if engine.config().eager_translation {
            for i in 0..module.inner.bodies.len() as u32 {
                crate::interp::compiled_code(
                    &module.inner,
                    i + module.inner.num_imported_funcs,
                    None,
                )?;
            }
        }
        crate::native::prepare(&module.inner);
        Ok(module)
    }

    /// Reads and compiles a module file (`.wasm` or `.wat`). Errors name the file.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| crate::Error::Io {
            context: format!("cannot read `{}`", path.display()),
            source,
        })?;
        Module::new(engine, bytes)
    }

    /// Which tier runs this module's functions: [`Tier::Native`] only if the engine asked for
    /// it and the native tier could compile the whole module. Meant for tests and diagnostics.
    #[doc(hidden)]
    pub fn tier(&self) -> Tier {
        crate::native::module_tier(&self.inner)
    }

    /// Why the module runs in the interpreter although its engine asked for the native tier
    /// (the first thing the native tier does not support). Meant for tests and diagnostics.
    #[doc(hidden)]
    pub fn native_fallback_reason(&self) -> Option<&str> {
        crate::native::fallback_reason(&self.inner)
    }

    /// Checks a module without keeping it.
    ///
    /// ```
    /// let engine = ward::Engine::default();
    /// assert!(ward::Module::validate(&engine, b"(module (func (result i32)))").is_err());
    /// ```
    pub fn validate(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<()> {
        Module::new(engine, bytes).map(|_| ())
    }
}
