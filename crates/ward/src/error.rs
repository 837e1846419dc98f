//! Errors and traps.
//!
//! Every fallible operation of the embedding API returns [`Error`]. A [`Trap`] is a value: it
//! carries a [`TrapCode`] whose message matches the wording of the WebAssembly spec test suite,
//! and a wasm backtrace.

use std::fmt;

/// The result type of the embedding API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a WebAssembly computation stopped abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable,
    /// A memory access was out of bounds.
    MemoryOutOfBounds,
    /// A table access was out of bounds.
    TableOutOfBounds,
    /// An element segment access (`table.init`) was out of bounds.
    ElementOutOfBounds,
    /// `call_indirect` found a null entry.
    UninitializedElement,
    /// `call_indirect` with an index past the end of the table.
    UndefinedElement,
    /// `call_indirect` or `call_ref` found a function of the wrong type.
    IndirectCallTypeMismatch,
    /// Integer division by zero.
    IntegerDivideByZero,
    /// Integer overflow (`i32.div_s` of `MIN / -1`, or a float-to-int truncation out of range).
    IntegerOverflow,
    /// Conversion of NaN to an integer.
    InvalidConversionToInteger,
    /// The wasm call stack was exhausted.
    StackOverflow,
    /// `ref.as_non_null` of a null reference.
    NullReference,
    /// `call_ref` of a null function reference.
    NullFunctionReference,
    /// `throw_ref` of a null exception reference.
    NullExceptionReference,
    /// The store ran out of fuel.
    OutOfFuel,
    /// Execution was interrupted because its deadline passed.
    Interrupted,
    /// A wasm exception was thrown and not caught.
    UncaughtException,
    /// A host function reported a failure.
    HostError,
    /// An atomic memory access at an address that is not a multiple of its size.
    UnalignedAtomic,
    /// `memory.atomic.wait32`/`wait64` on a memory that is not shared.
    ExpectedSharedMemory,
    /// An array access (`array.get`, `array.copy`, `array.new_data`, ...) out of bounds.
    ArrayOutOfBounds,
    /// `ref.cast` of a reference that is not of the target type.
    CastFailure,
    /// A struct or array allocation would take the store past its GC heap limit (or its
    /// total memory limit), even after a collection.
    GcHeapExhausted,
}

impl TrapCode {
    /// The message for this trap, in the words of the WebAssembly spec test suite.
    ///
    /// ```
    /// assert_eq!(ward::TrapCode::IntegerDivideByZero.message(), "integer divide by zero");
    /// ```
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::ElementOutOfBounds => "out of bounds table access",
            TrapCode::UninitializedElement => "uninitialized element",
            TrapCode::UndefinedElement => "undefined element",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::IntegerDivideByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::InvalidConversionToInteger => "invalid conversion to integer",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::NullReference => "null reference",
            TrapCode::NullFunctionReference => "null function reference",
            TrapCode::NullExceptionReference => "null exception reference",
            TrapCode::OutOfFuel => "all fuel consumed",
            TrapCode::Interrupted => "interrupted: deadline reached",
            TrapCode::UncaughtException => "uncaught exception",
            TrapCode::HostError => "host function failed",
            TrapCode::UnalignedAtomic => "unaligned atomic",
            TrapCode::ExpectedSharedMemory => "expected shared memory",
            TrapCode::ArrayOutOfBounds => "out of bounds array access",
            TrapCode::CastFailure => "cast failure",
            TrapCode::GcHeapExhausted => "out of memory: GC heap limit reached",
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Text that comes from a guest (a module, function, import or export name), shown safely:
/// control characters and bidirectional-text overrides are escaped as `\u{..}` so they cannot
/// drive a terminal, and text longer than [`GuestText::MAX_CHARS`] characters is cut with `…`.
///
/// ```
/// let shown = ward::GuestText("evil\x1b[2Jname").to_string();
/// assert_eq!(shown, "evil\\u{1b}[2Jname");
/// let long = "x".repeat(1000);
/// assert_eq!(ward::GuestText(&long).to_string().chars().count(), ward::GuestText::MAX_CHARS + 1);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GuestText<'a>(pub &'a str);

impl GuestText<'_> {
    /// How many characters are shown before the text is cut.
    pub const MAX_CHARS: usize = 200;
}

impl fmt::Display for GuestText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for (i, c) in self.0.chars().enumerate() {
            if i == GuestText::MAX_CHARS {
                return f.write_char('…');
            }
            let unsafe_char = c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if unsafe_char {
                write!(f, "\\u{{{:x}}}", c as u32)?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Keeps at most `max` bytes of `s` (at a character boundary), so that a guest-chosen name
/// stored in a diagnostic stays small.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// One frame of a wasm backtrace.
#[derive(Clone)]
pub struct FrameInfo {
    /// The function index within its module.
    pub func_index: u32,
    /// The function's name from the name section, if any (as the module spells it: mangled
    /// names stay mangled; see [`FrameInfo::demangled_name`]).
    pub func_name: Option<String>,
    /// The module's name (from the name section), if any.
    pub module_name: Option<String>,
    /// Byte offset of the instruction in the module binary, if known.
    pub offset: Option<usize>,
    /// The module, for its debug information.
    pub(crate) module: Option<std::sync::Arc<crate::module::ModuleInner>>,
}

impl FrameInfo {
    /// The function's name with Rust and C++ mangling undone (see [`crate::demangle`]).
    ///
    /// ```
    /// # use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module
    ///     (func $_ZN4demo5crash17h0123456789abcdefE (export "f") unreachable))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let f = Instance::new(&mut store, &module, &[])?.get_typed_func::<(), ()>(&mut store, "f")?;
    /// let err = f.call(&mut store, ()).unwrap_err();
    /// let frame = &err.as_trap().unwrap().backtrace()[0];
    /// assert_eq!(frame.demangled_name().unwrap(), "demo::crash");
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn demangled_name(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.func_name.as_deref().map(crate::module::debuginfo::demangle)
    }

    /// Where the instruction came from in the source, when the module carries DWARF line
    /// tables (`.debug_line`). The tables are read the first time a frame of the module asks,
    /// then kept with the module.
    pub fn source_location(&self) -> Option<crate::module::debuginfo::SourceLocation> {
        let module = self.module.as_ref()?;
        module.line_tables.find(&module.bytes, self.offset?)
    }
}

impl PartialEq for FrameInfo {
    fn eq(&self, other: &FrameInfo) -> bool {
        (self.func_index, &self.func_name, &self.module_name, self.offset)
            == (other.func_index, &other.func_name, &other.module_name, other.offset)
    }
}

impl Eq for FrameInfo {}

impl fmt::Debug for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameInfo")
            .field("func_index", &self.func_index)
            .field("func_name", &self.func_name)
            .field("module_name", &self.module_name)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// A trap: the abnormal end of a WebAssembly computation.
#[derive(Clone, Debug)]
pub struct Trap {
    code: TrapCode,
    message: Option<String>,
    backtrace: Vec<FrameInfo>,
    /// With [`TrapCode::UncaughtException`] from native code: the exception's reference value,
    /// so that native code that called out (and may catch it) can go on unwinding with it.
    exception: Option<u64>,
}

impl Trap {
    /// A trap with the given code and no extra message.
    pub fn new(code: TrapCode) -> Trap {
        Trap { code, message: None, backtrace: Vec::new(), exception: None }
    }

    /// A trap raised by a host function with a message of its own.
    ///
    /// ```
    /// let t = ward::Trap::host("bad fd");
    /// assert_eq!(t.code(), ward::TrapCode::HostError);
    /// assert!(t.to_string().contains("bad fd"));
    /// ```
    pub fn host(message: impl Into<String>) -> Trap {
        Trap {
            code: TrapCode::HostError,
            message: Some(message.into()),
            backtrace: Vec::new(),
            exception: None,
        }
    }

    /// The trap code.
    pub fn code(&self) -> TrapCode {
        self.code
    }

    /// The message without the backtrace: the host's own message for a host trap, otherwise
    /// the trap code's message.
    ///
    /// ```
    /// assert_eq!(ward::Trap::host("bad fd").message(), "bad fd");
    /// assert_eq!(ward::Trap::new(ward::TrapCode::Unreachable).message(), "unreachable");
    /// ```
    pub fn message(&self) -> &str {
        self.message.as_deref().unwrap_or(self.code.message())
    }

    /// The wasm backtrace, innermost frame first.
    pub fn backtrace(&self) -> &[FrameInfo] {
        &self.backtrace
    }

    /// An uncaught exception that still carries its reference value (see `exception`).
    pub(crate) fn uncaught(exn: u64) -> Trap {
        Trap { exception: Some(exn), ..Trap::new(TrapCode::UncaughtException) }
    }

    /// The reference value of the exception this trap carries, if any.
    pub(crate) fn exception(&self) -> Option<u64> {
        self.exception
    }

    /// The same trap without the exception's reference (its object was freed or handed on).
    pub(crate) fn without_exception(self) -> Trap {
        Trap { exception: None, ..self }
    }

    pub(crate) fn with_backtrace(mut self, bt: Vec<FrameInfo>) -> Trap {
        if self.backtrace.is_empty() {
            self.backtrace = bt;
        }
        self
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message())?;
        if !self.backtrace.is_empty() {
            write!(f, "\nwasm backtrace:")?;
            const SHOWN: usize = 32;
            for (i, fr) in self.backtrace.iter().enumerate().take(SHOWN) {
                write!(f, "\n  {i:>3}: ")?;
                if let Some(off) = fr.offset {
                    write!(f, "{off:#x} - ")?;
                }
                if let Some(m) = &fr.module_name {
                    write!(f, "{}!", GuestText(m))?;
                }
                match fr.demangled_name() {
                    Some(n) => write!(f, "{}", GuestText(&n))?,
                    None => write!(f, "<wasm function {}>", fr.func_index)?,
                }
                if let Some(at) = fr.source_location() {
                    write!(f, "\n         at {at}")?;
                }
            }
            if self.backtrace.len() > SHOWN {
                write!(f, "\n  ... {} more frames", self.backtrace.len() - SHOWN)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

/// An error from the embedding API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input could not be decoded or is not a valid module. `offset` is the byte offset of the
    /// problem in the binary (for text input: in the binary the text was translated to).
    #[error("invalid module: {message} (at offset {offset:#x})")]
    Invalid {
        /// What is wrong.
        message: String,
        /// Byte offset of the problem in the binary.
        offset: usize,
    },
    /// The text format could not be parsed.
    #[error("{0}")]
    Text(String),
    /// An import could not be satisfied.
    #[error("unknown import: `{}::{}` has not been defined", GuestText(module), GuestText(name))]
    UnknownImport {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
    },
    /// An import was satisfied by an item of the wrong type.
    #[error("incompatible import type for `{}::{}`: {reason}", GuestText(module), GuestText(name))]
    IncompatibleImport {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
        /// Expected versus found.
        reason: String,
    },
    /// Execution trapped.
    #[error("{0}")]
    Trap(#[from] Trap),
    /// A WASI program exited through `proc_exit`.
    #[error("exited with code {0}")]
    Exit(i32),
    /// A resource limit (memory, table, instances) was exceeded.
    #[error("resource limit exceeded: {0}")]
    Limit(String),
    /// An I/O error, with the path or operation it concerns.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A call or operation was given arguments of the wrong type or number.
    #[error("{0}")]
    Usage(String),
    /// Returned by a host function to *park* the call that reached it: see
    /// [`Func::call_resumable`](crate::Func::call_resumable). A call that cannot park fails with
    /// a usage error instead.
    #[error("the call was parked by a host function")]
    Park,
    /// The feature is not supported by this version of Ward.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An ahead-of-time artifact cannot be loaded: it is not one, it is damaged, or it was
    /// made for another Ward, target, CPU or configuration (the message says which).
    #[error("{0}")]
    Artifact(String),
}

impl Error {
    /// The trap, if this error is one.
    ///
    /// ```
    /// let e = ward::Error::from(ward::Trap::new(ward::TrapCode::Unreachable));
    /// assert_eq!(e.as_trap().unwrap().code(), ward::TrapCode::Unreachable);
    /// ```
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }

    pub(crate) fn invalid(e: &wasmparser::BinaryReaderError) -> Error {
        Error::Invalid { message: e.message().to_string(), offset: e.offset() as usize }
    }
}

impl From<TrapCode> for Error {
    fn from(c: TrapCode) -> Error {
        Error::Trap(Trap::new(c))
    }
}
