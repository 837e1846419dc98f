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
        if binary.starts_with(&super::artifact::MAGIC) {
            return Err(crate::Error::Usage(
                "this is a Ward ahead-of-time artifact, not a module binary: load it with \
                 `Module::deserialize`"
                    .into(),
            ));
        }
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

    /// Saves the module as an ahead-of-time artifact, which [`Module::deserialize`] (or
    /// `ward run`) loads without compiling it again. The module must come from an engine with
    /// [`Tier::Native`]; a module the native tier does not cover yet is saved too and runs in
    /// the interpreter when loaded.
    ///
    /// The artifact records the Ward and Cranelift versions, the target, the CPU features the
    /// code may use and the engine settings that shape the code (tier, fuel, interruption,
    /// epoch interruption, call depth, WebAssembly features); it loads only where they all
    /// match, and carries a checksum.
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.tier(ward::Tier::Native);
    /// let engine = ward::Engine::new(&config);
    /// let module = ward::Module::new(&engine, r#"(module (func (export "f") (result i32) i32.const 7))"#)?;
    /// let bytes = module.serialize()?;
    /// // SAFETY: the bytes were just made by `serialize`.
    /// let loaded = unsafe { ward::Module::deserialize(&engine, &bytes)? };
    /// let mut store = ward::Store::new(&engine, ());
    /// let instance = ward::Instance::new(&mut store, &loaded, &[])?;
    /// assert_eq!(instance.get_typed_func::<(), i32>(&mut store, "f")?.call(&mut store, ())?, 7);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn serialize(&self) -> Result<Vec<u8>> {
        super::artifact::serialize(self)
    }

    /// Loads an artifact made by [`Module::serialize`], without validating or compiling the
    /// module again. A foreign, damaged or mismatched artifact is an [`Error::Artifact`]
    /// naming the problem (truncated, checksum mismatch, another Ward or Cranelift version,
    /// target, missing CPU features, different engine settings).
    ///
    /// # Safety
    /// The bytes must come from [`Module::serialize`] of a Ward you trust (the same build, as
    /// the header checks): their machine code is mapped and run as it is, and their function
    /// bodies are not validated. The checksum catches damage, not forgery.
    ///
    /// [`Error::Artifact`]: crate::Error::Artifact
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        // SAFETY: the caller's contract.
        unsafe { super::artifact::deserialize(engine, bytes.as_ref()) }
    }

    /// Loads an artifact file (see [`Module::deserialize`]), mapped into memory rather than
    /// read: the module keeps the mapping for its binary. Errors name the file.
    ///
    /// # Safety
    /// As for [`Module::deserialize`]; moreover, the file must not be changed or truncated
    /// while the module (or anything made from it) lives.
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        // SAFETY: the caller's contract.
        unsafe { super::artifact::deserialize_file(engine, path.as_ref()) }
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
