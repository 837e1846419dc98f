//! The embedding API: the [`Store`] and handles into it ([`Func`], [`Memory`], [`Table`],
//! [`Global`], [`Tag`], [`Instance`], [`ExternRef`], [`ExnRef`]), host functions, typed calls,
//! instantiation and the [`Linker`].
//!
//! Handles are small `Copy` values (a store id and an index). Every operation that takes a
//! handle as `self` checks that the store given is the one that created it and panics with
//! `object used with the wrong store` otherwise; items or values of another store passed as
//! *arguments* (call parameters, imports, table or global values) are refused with
//! [`Error::Usage`](crate::Error::Usage) instead.

mod anyref;
mod artifact;
mod call;
mod caller;
mod canonical;
mod context;
mod externref;
mod externs;
mod func;
mod global;
mod instance;
mod instantiate;
mod into_func;
mod linker;
mod memory;
mod module;
mod shared_memory;
mod store;
mod subtyping;
mod table;
mod tag;
mod typed;
mod val;

#[cfg(test)]
mod tests;

pub use anyref::AnyRef;
pub use call::{CallStatus, HostFuture, ParkedCall, UpdateDeadline};
pub use caller::Caller;
pub use context::{AsContext, AsContextMut, StoreContext, StoreContextMut};
pub use externref::{ExnRef, ExternRef};
pub use externs::Extern;
pub use func::Func;
pub use global::Global;
pub use instance::Instance;
pub use into_func::{IntoFunc, WasmParams, WasmResults, WasmRet, WasmTy};
pub use linker::{InstancePre, Linker};
pub use memory::Memory;
pub use shared_memory::SharedMemory;
pub use store::{InterruptHandle, Store, StoreLimits, StoreLimitsBuilder};
pub use table::Table;
pub use tag::Tag;
pub use typed::TypedFunc;
pub use val::Val;
