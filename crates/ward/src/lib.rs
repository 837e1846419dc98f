//! # Ward
//!
//! A secure-by-default WebAssembly runtime. This crate is the embedding API, the runtime and the
//! interpreter tier.
//!
//! ```
//! use ward::{Engine, Linker, Module, Store};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"
//!     (module
//!       (import "host" "double" (func $double (param i32) (result i32)))
//!       (func (export "run") (param i32) (result i32)
//!         local.get 0
//!         call $double
//!         i32.const 1
//!         i32.add))
//! "#)?;
//! let mut store = Store::new(&engine, ());
//! let mut linker = Linker::new(&engine);
//! linker.func_wrap("host", "double", |x: i32| x * 2)?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
//! assert_eq!(run.call(&mut store, 20)?, 41);
//! # Ok::<(), ward::Error>(())
//! ```

#![warn(missing_docs)]

mod api;
mod engine;
mod error;
mod interp;
mod module;
mod native;
mod runtime;
mod types;

pub use api::*;
pub use engine::{Config, Engine, MemoryStrategy, Tier};
pub use error::{Error, FrameInfo, GuestText, Result, Trap, TrapCode};
pub use module::debuginfo::{demangle, SourceLocation};
pub use module::Module;
pub use runtime::ResourceLimiter;
pub use types::{
    ExternType, FuncType, GlobalType, HeapType, MemoryType, Mutability, RefType, TableType, ValType,
};
