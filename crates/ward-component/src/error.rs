//! Errors of the component layer.

use thiserror::Error as ThisError;

/// An error from decoding, validating, linking, instantiating or calling a component.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a valid component; `offset` is the byte offset of the problem.
    #[error("invalid component: {message} (at offset {offset:#x})")]
    Invalid {
        /// What is wrong.
        message: String,
        /// Byte offset of the problem in the binary.
        offset: usize,
    },
    /// The text format could not be parsed.
    #[error("{0}")]
    Text(String),
    /// The input is a core module, not a component.
    #[error("this is a core WebAssembly module, not a component (use `ward::Module`)")]
    NotAComponent,
    /// An import the linker does not define.
    #[error("unknown import: `{0}` has not been defined")]
    UnknownImport(String),
    /// An import defined with an item of the wrong kind or type.
    #[error("incompatible import type for `{name}`: {reason}")]
    IncompatibleImport {
        /// The import's name.
        name: String,
        /// Expected versus found.
        reason: String,
    },
    /// A feature of the component model this version does not implement yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Wrong arguments to the API (value types, counts, names).
    #[error("{0}")]
    Usage(String),
    /// A typed function's Rust types do not match the component function's type: which
    /// parameter or result, where inside it, and both types.
    #[error("type mismatch {0}")]
    TypeMismatch(String),
    /// An error from the core runtime, including traps.
    #[error(transparent)]
    Wasm(#[from] ward::Error),
}

impl Error {
    /// The trap, if this error is one.
    ///
    /// ```
    /// let e = ward_component::Error::from(ward::Error::from(ward::TrapCode::Unreachable));
    /// assert!(e.as_trap().is_some());
    /// ```
    pub fn as_trap(&self) -> Option<&ward::Trap> {
        match self {
            Error::Wasm(e) => e.as_trap(),
            _ => None,
        }
    }

    pub(crate) fn invalid(e: &wasmparser::BinaryReaderError) -> Error {
        Error::Invalid { message: e.message().to_string(), offset: e.offset() as usize }
    }

    /// This error as a core error, to cross a core host-function boundary.
    pub(crate) fn into_wasm(self) -> ward::Error {
        match self {
            Error::Wasm(e) => e,
            other => ward::Error::Trap(ward::Trap::host(other.to_string())),
        }
    }
}

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
