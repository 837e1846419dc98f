//! # Ward components
//!
//! The WebAssembly [component model] for Ward, built on Ward's public embedding API only:
//! decoding and validation (with `wasmparser`), instantiation of nested components and core
//! instances, the synchronous canonical ABI for every value type, resources with per-instance
//! handle tables, and an embedding API shaped like Ward's own: [`Component`], [`Linker`],
//! [`Instance`], [`Func`], [`Val`], [`ResourceTable`], and typed calls with Rust values
//! ([`TypedFunc`], see [`typed`]) that lower straight into guest memory.
//!
//! ```
//! use ward_component::{Component, Linker, Val};
//!
//! let engine = ward::Engine::default();
//! let component = Component::new(&engine, r#"(component
//!   (import "host:demo/log" (instance $log (export "shout" (func (param "s" string) (result string)))))
//!   (alias export $log "shout" (func $shout))
//!   (core module $libc
//!     (memory (export "mem") 1)
//!     (global $next (mut i32) (i32.const 1024))
//!     (func (export "realloc") (param i32 i32 i32 i32) (result i32)
//!       (local $r i32)
//!       (local.set $r (global.get $next))
//!       (global.set $next (i32.add (global.get $next) (local.get 3)))
//!       (local.get $r)))
//!   (core instance $libc (instantiate $libc))
//!   (core func $shout (canon lower (func $shout)
//!     (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
//!   (core module $main
//!     (import "host" "shout" (func $shout (param i32 i32 i32)))
//!     (func (export "run") (param i32 i32) (result i32)
//!       (call $shout (local.get 0) (local.get 1) (i32.const 16))
//!       (i32.const 16)))
//!   (core instance $main (instantiate $main
//!     (with "host" (instance (export "shout" (func $shout))))))
//!   (func (export "run") (param "s" string) (result string)
//!     (canon lift (core func $main "run")
//!       (memory (core memory $libc "mem")) (realloc (core func $libc "realloc")))))"#)?;
//!
//! let mut linker = Linker::new(&engine);
//! linker.func_new("host:demo/log", "shout", |_store, params, results| {
//!     let Val::String(s) = &params[0] else { unreachable!() };
//!     results[0] = Val::String(s.to_uppercase());
//!     Ok(())
//! })?;
//! let mut store = ward::Store::new(&engine, ());
//! let instance = linker.instantiate(&mut store, &component)?;
//! let mut out = [Val::Bool(false)];
//! instance.get_func("run").unwrap().call(&mut store, &[Val::String("hi".into())], &mut out)?;
//! assert_eq!(out[0], Val::String("HI".into()));
//! # Ok::<(), ward_component::Error>(())
//! ```
//!
//! [component model]: https://github.com/WebAssembly/component-model
//!
//! ## Limits
//!
//! The values lifted out of a component in one call may take at most 256 MiB of host memory
//! (string and byte contents, about `size_of::<Val>()` per other value, copied names): guest
//! memory can describe far more than it holds, e.g. a list of many copies of one long string.
//! Beyond that the call traps. `list<u8>` is lifted as [`Val::Bytes`], one host byte per byte.
//!
//! ## What is not here yet
//!
//! Most of the async ABI is here (see `concurrent.rs`): async and callback lifts, async
//! lowers, `task.return`/`task.cancel`, `context.get/set`, backpressure, waitable sets,
//! subtasks, `thread.yield`/`thread.index`, cooperative threads (`thread.new-indirect`,
//! `thread.suspend`, `thread.yield-then-resume`, `thread.suspend-then-resume`,
//! `thread.resume-later`), streams and futures within and between instances of a component. A
//! task or thread that blocks parks its core call if that call is resumable (an async lift's,
//! an `async`-typed synchronous lift's called by an async lower, a thread's start function) and
//! called the built-in directly; otherwise (other synchronous lifts' plain calls, a built-in
//! reached through a nested plain call) it blocks in place, running the event loop nested, so
//! a wait that needs its own caller to go on first ends in the deadlock trap. Not yet: `thread.suspend-then-promote`/`thread.yield-then-promote` and
//! the shared-everything `thread.spawn-*` (they trap when called), error contexts, component
//! values and start functions, and subtype checks of imports beyond their kind: components
//! using what is missing fail to instantiate with [`Error::Unsupported`] or trap. Typed calls
//! take no resources yet (call such functions with [`Func::call`]).

#![warn(missing_docs)]

mod abi;
mod concurrent;
mod decode;
mod error;
mod func;
mod instance;
mod macros;
mod resources;
mod sig_cache;
pub mod typed;
mod types;
mod values;
pub mod wast;

pub use concurrent::AsyncEnd;
pub use error::{Error, Result};
pub use func::Func;
pub use resources::{HostDrop, ResourceAny, ResourceTable, ResourceType};
pub use typed::{ComponentType, Lift, Lower, TypedFunc};
pub use types::{FuncType, Type};
pub use values::Val;

use instance::{Closure, Exports, Item, Shared};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use ward::{AsContextMut, StoreContextMut};

/// A validated component, ready to be instantiated in any store of its engine.
///
/// ```
/// let engine = ward::Engine::default();
/// let c = ward_component::Component::new(&engine, "(component)")?;
/// assert_eq!(c.imports().count(), 0);
/// let err = ward_component::Component::new(&engine, "(module)").unwrap_err();
/// assert!(err.to_string().contains("not a component"));
/// # Ok::<(), ward_component::Error>(())
/// ```
#[derive(Clone)]
pub struct Component {
    engine: ward::Engine,
    closure: Closure,
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("imports", &self.imports().collect::<Vec<_>>())
            .field("exports", &self.exports().collect::<Vec<_>>())
            .finish()
    }
}

impl Component {
    /// Compiles a component from its binary or text form. Errors name what is wrong and where.
    pub fn new(engine: &ward::Engine, bytes: impl AsRef<[u8]>) -> Result<Component> {
        let bytes = bytes.as_ref();
        let looks_binary = bytes.first() == Some(&0) || std::str::from_utf8(bytes).is_err();
        let binary: std::borrow::Cow<'_, [u8]> = if looks_binary {
            bytes.into()
        } else {
            wat::parse_bytes(bytes).map_err(|e| Error::Text(e.to_string()))?
        };
        Component::from_binary(engine, &binary)
    }

    /// Compiles a component from its binary form.
    pub fn from_binary(engine: &ward::Engine, binary: &[u8]) -> Result<Component> {
        let decoded = decode::decode(engine, binary)?;
        let shared = Arc::new(Shared {
            types: decoded.types,
            modules: decoded.modules,
            sigs: Default::default(),
        });
        Ok(Component {
            engine: engine.clone(),
            closure: Closure { shared, def: decoded.root, env: None },
        })
    }

    /// Reads and compiles a component file (binary or text). Errors name the file.
    pub fn from_file(engine: &ward::Engine, path: impl AsRef<Path>) -> Result<Component> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| {
            Error::Wasm(ward::Error::Io {
                context: format!("cannot read `{}`", path.display()),
                source,
            })
        })?;
        Component::new(engine, bytes)
    }

    /// The names of the component's imports, in order.
    pub fn imports(&self) -> impl Iterator<Item = &str> + '_ {
        self.closure.def.imports.iter().map(|(n, _)| n.as_str())
    }

    /// The names of the component's exports, in order.
    pub fn exports(&self) -> impl Iterator<Item = &str> + '_ {
        self.closure.def.exports.iter().map(|(n, _)| n.as_str())
    }

    /// The engine the component was compiled for.
    pub fn engine(&self) -> &ward::Engine {
        &self.engine
    }
}

/// An instantiated component: its exports.
#[derive(Clone, Debug)]
pub struct Instance {
    exports: Arc<Exports>,
}

impl Instance {
    /// The exported function `name` (at the top level of the instance).
    pub fn get_func(&self, name: &str) -> Option<Func> {
        match self.exports.get(name)? {
            Item::Func(f) => Some(f.clone()),
            _ => None,
        }
    }

    /// The exported function `name` as a [`TypedFunc`] with Rust parameter types `Params` (a
    /// tuple, one per parameter) and result `Results` (`()` or a one-tuple), checked against
    /// the function's type now: a mismatch is an [`Error::TypeMismatch`] that names the
    /// parameter or result and both types. See [`TypedFunc`] for an example.
    ///
    /// The store is the one the instance lives in (as with Ward's core `get_typed_func`).
    pub fn get_typed_func<Params, Results>(
        &self,
        _store: impl ward::AsContext,
        name: &str,
    ) -> Result<TypedFunc<Params, Results>>
    where
        Params: typed::ComponentParams,
        Results: typed::ComponentResults,
    {
        let f = self
            .get_func(name)
            .ok_or_else(|| Error::Usage(format!("no exported function `{name}`")))?;
        TypedFunc::new(&f, name)
    }

    /// The exported instance `name`, e.g. an interface `a:b/c`.
    pub fn get_instance(&self, name: &str) -> Option<Instance> {
        match self.exports.get(name)? {
            Item::Instance(e) => Some(Instance { exports: e.clone() }),
            _ => None,
        }
    }

    /// The exported resource type `name`, if it is one.
    pub fn get_resource(&self, name: &str) -> Option<ResourceType> {
        match self.exports.get(name)? {
            Item::Type(t) => t.clone(),
            _ => None,
        }
    }

    /// The names of all exports, in order.
    pub fn export_names(&self) -> Vec<String> {
        self.exports.items.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// What a name is bound to in a [`Linker`].
#[derive(Clone)]
enum Definition {
    Item(Item),
    /// An instance whose members are defined one by one, and the instance they make, built at
    /// its first import and shared by every instantiation until a member is added.
    Instance(HashMap<String, Item>, std::sync::OnceLock<Arc<Exports>>),
}

/// Resolves a component's imports by name: host functions and resource types inside named
/// instances (interfaces such as `a:b/c`), and the exports of other component instances.
///
/// ```
/// use ward_component::{Component, Linker, Val};
/// let engine = ward::Engine::default();
/// let mut linker = Linker::<u32>::new(&engine);
/// linker.func_new("a:b/c", "next", |mut store, _params, results| {
///     *store.data_mut() += 1;
///     results[0] = Val::U32(*store.data());
///     Ok(())
/// })?;
/// let missing = Component::new(&engine, r#"(component (import "x" (func)))"#)?;
/// let mut store = ward::Store::new(&engine, 0u32);
/// let err = linker.instantiate(&mut store, &missing).unwrap_err();
/// assert!(err.to_string().contains("unknown import: `x`"));
/// # Ok::<(), ward_component::Error>(())
/// ```
pub struct Linker<T> {
    engine: ward::Engine,
    defs: HashMap<String, Definition>,
    /// The defined names that carry a version (`a:b/c@0.2.6`), by the name before the `@`,
    /// with their parsed versions: an import at another version is resolved from this list
    /// instead of by parsing every defined name again.
    versions: HashMap<String, Vec<(Version, String)>>,
    _data: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            defs: self.defs.clone(),
            versions: self.versions.clone(),
            _data: self._data,
        }
    }
}

impl<T> fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.defs.keys().collect();
        names.sort();
        f.debug_struct("Linker").field("names", &names).finish()
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &ward::Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            defs: HashMap::new(),
            versions: HashMap::new(),
            _data: std::marker::PhantomData,
        }
    }

    /// Records a newly defined name's version, if it has one (see [`Linker::find`]).
    fn note_version(&mut self, name: &str) {
        if let Some((base, version)) = name.rsplit_once('@') {
            if let Some(v) = parse_version(version) {
                self.versions.entry(base.to_string()).or_default().push((v, name.to_string()));
            }
        }
    }

    fn member(&mut self, instance: &str, name: &str, item: Item) -> Result<()> {
        if instance.is_empty() {
            return self.define(name, item);
        }
        if !self.defs.contains_key(instance) {
            self.note_version(instance);
        }
        match self
            .defs
            .entry(instance.to_string())
            .or_insert_with(|| Definition::Instance(HashMap::new(), Default::default()))
        {
            Definition::Instance(members, built) => {
                if members.insert(name.to_string(), item).is_some() {
                    return Err(Error::Usage(format!("`{instance}` `{name}` is already defined")));
                }
                *built = Default::default();
                Ok(())
            }
            Definition::Item(_) => {
                Err(Error::Usage(format!("`{instance}` is already defined as a whole instance")))
            }
        }
    }

    fn define(&mut self, name: &str, item: Item) -> Result<()> {
        if self.defs.insert(name.to_string(), Definition::Item(item)).is_some() {
            return Err(Error::Usage(format!("`{name}` is already defined")));
        }
        self.note_version(name);
        Ok(())
    }

    /// Defines host function `name` in instance `instance` (an interface name such as
    /// `wasi:cli/stdout`; the empty string defines a top-level function). Its parameters and
    /// result are checked against the type of the import it satisfies when it is called.
    pub fn func_new(
        &mut self,
        instance: &str,
        name: &str,
        f: impl Fn(StoreContextMut<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<()> {
        self.member(instance, name, Item::Func(Func::host::<T>(Arc::new(f))))
    }

    /// Defines resource type `name` in instance `instance` (empty: top level).
    pub fn resource(&mut self, instance: &str, name: &str, ty: ResourceType) -> Result<()> {
        self.member(instance, name, Item::Type(Some(ty)))
    }

    /// Defines `name` as the exports of a component instance (to link components together).
    pub fn instance(&mut self, name: &str, instance: &Instance) -> Result<()> {
        self.define(name, Item::Instance(instance.exports.clone()))
    }

    /// Defines top-level function `name` as a function of a component instance.
    pub fn func(&mut self, name: &str, func: &Func) -> Result<()> {
        self.define(name, Item::Func(func.clone()))
    }

    /// The definition of `name`, or else of the same interface at the highest
    /// semver-compatible version (see [`Linker::instantiate`]).
    fn find(&self, name: &str) -> Option<&Definition> {
        if let Some(d) = self.defs.get(name) {
            return Some(d);
        }
        let (base, version) = name.rsplit_once('@')?;
        let want = compatible_key(parse_version(version)?);
        let (_, key) = self
            .versions
            .get(base)?
            .iter()
            .filter(|(v, _)| compatible_key(*v) == want)
            .max_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)))?;
        self.defs.get(key)
    }

    fn lookup(&self, name: &str) -> Option<Item> {
        Some(match self.find(name)? {
            Definition::Item(item) => item.clone(),
            Definition::Instance(members, built) => Item::Instance(
                built
                    .get_or_init(|| {
                        let mut e = Exports::default();
                        let mut names: Vec<&String> = members.keys().collect();
                        names.sort();
                        for n in names {
                            e.items.push((n.clone(), members[n].clone()));
                        }
                        Arc::new(e)
                    })
                    .clone(),
            ),
        })
    }

    /// Instantiates `component`, resolving its imports by name.
    ///
    /// An import at a versioned name such as `wasi:io/streams@0.2.3` is resolved by that exact
    /// name if it is defined, and otherwise by the same name at the highest semver-compatible
    /// version defined (same major version; for `0.x`, same minor; `0.0.x` only exactly), as
    /// other runtimes do, so a host defining `@0.2.6` serves components built against any
    /// `0.2.x`.
    ///
    /// ```
    /// use ward_component::{Component, Linker};
    /// let engine = ward::Engine::default();
    /// let mut linker = Linker::<u32>::new(&engine);
    /// linker.func_new("a:b/c@0.2.6", "f", |mut store, _, _| {
    ///     *store.data_mut() += 1;
    ///     Ok(())
    /// })?;
    /// let c = Component::new(&engine, r#"(component
    ///   (import "a:b/c@0.2.1" (instance $i (export "f" (func))))
    ///   (alias export $i "f" (func $f))
    ///   (export "f" (func $f)))"#)?;
    /// let mut store = ward::Store::new(&engine, 0u32);
    /// let instance = linker.instantiate(&mut store, &c)?;
    /// instance.get_func("f").unwrap().call(&mut store, &[], &mut [])?;
    /// assert_eq!(*store.data(), 1);
    /// # Ok::<(), ward_component::Error>(())
    /// ```
    pub fn instantiate(
        &self,
        store: impl AsContextMut<Data = T>,
        component: &Component,
    ) -> Result<Instance> {
        self.instantiate_pre(component)?.instantiate(store)
    }

    /// Resolves `component`'s imports once, for many instantiations: the result instantiates
    /// without looking names up or checking the definitions' types again (what a server
    /// making an instance per request wants). Imports are resolved as
    /// [`Linker::instantiate`] resolves them; an import that cannot be satisfied is an error
    /// here. Later changes to the linker are not seen by the result.
    ///
    /// ```
    /// use ward_component::{Component, Linker, Val};
    /// let engine = ward::Engine::default();
    /// let mut linker = Linker::<u32>::new(&engine);
    /// linker.func_new("a:b/c", "tick", |mut store, _, _| {
    ///     *store.data_mut() += 1;
    ///     Ok(())
    /// })?;
    /// let c = Component::new(&engine, r#"(component
    ///   (import "a:b/c" (instance $i (export "tick" (func))))
    ///   (alias export $i "tick" (func $f))
    ///   (export "tick" (func $f)))"#)?;
    /// let pre = linker.instantiate_pre(&c)?;
    /// for _ in 0..3 {
    ///     let mut store = ward::Store::new(&engine, 0u32);
    ///     let instance = pre.instantiate(&mut store)?;
    ///     instance.get_func("tick").unwrap().call(&mut store, &[], &mut [])?;
    ///     assert_eq!(*store.data(), 1);
    /// }
    /// # Ok::<(), ward_component::Error>(())
    /// ```
    pub fn instantiate_pre(&self, component: &Component) -> Result<InstancePre<T>> {
        if !ward::Engine::same(&self.engine, &component.engine) {
            return Err(Error::Usage("the component was compiled for another engine".into()));
        }
        // Instances linked together share one scheduler: a call into an instance of another
        // may leave a task there that a wait here must be able to run.
        let sched =
            component.closure.def.imports.iter().find_map(|(name, _)| self.lookup(name)?.sched());
        let imports = instance::pre_resolve(&component.closure, &mut |name| self.lookup(name))?;
        Ok(InstancePre {
            component: component.clone(),
            imports: imports.into(),
            sched,
            linker: self.clone(),
        })
    }
}

/// A component whose imports a [`Linker`] has resolved ([`Linker::instantiate_pre`]), ready
/// to be instantiated in any number of stores.
pub struct InstancePre<T> {
    component: Component,
    imports: Arc<[Option<instance::ResolvedImport>]>,
    /// The scheduler of the component instances the imports come from, if any.
    sched: Option<Arc<concurrent::Sched>>,
    /// For the imports not resolved ahead (those after a resource definition).
    linker: Linker<T>,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            component: self.component.clone(),
            imports: self.imports.clone(),
            sched: self.sched.clone(),
            linker: self.linker.clone(),
        }
    }
}

impl<T> fmt::Debug for InstancePre<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstancePre").field("component", &self.component).finish()
    }
}

impl<T: 'static> InstancePre<T> {
    /// The component this instantiates.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// A new instance of the component in `store`.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance> {
        let mut ctx = store.as_context_mut();
        if !ward::Engine::same(ctx.engine(), &self.component.engine) {
            return Err(Error::Usage("the store belongs to another engine".into()));
        }
        let mut import = |name: &str| self.linker.lookup(name);
        let (exports, _) = instance::instantiate(
            &mut ctx,
            &self.component.closure,
            &mut import,
            None,
            self.sched.clone().unwrap_or_default(),
            Some(&self.imports),
        )?;
        Ok(Instance { exports })
    }
}

/// A version's `(MAJOR, MINOR, PATCH)`.
type Version = (u64, u64, u64);

/// `MAJOR.MINOR.PATCH` of a version (pre-release and build suffixes ignored).
fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// The part of a version that must match for two versions to be semver-compatible.
fn compatible_key((major, minor, patch): (u64, u64, u64)) -> (u64, Option<u64>, Option<u64>) {
    match (major, minor) {
        (0, 0) => (0, Some(0), Some(patch)),
        (0, m) => (0, Some(m), None),
        (m, _) => (m, None, None),
    }
}

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("0.2.6"), Some((0, 2, 6)));
        assert_eq!(parse_version("0.2.0-rc-2023-12-05"), Some((0, 2, 0)));
        assert_eq!(parse_version("0.2"), None);
        assert_eq!(compatible_key((0, 2, 1)), compatible_key((0, 2, 6)));
        assert_ne!(compatible_key((0, 2, 1)), compatible_key((0, 3, 1)));
        assert_ne!(compatible_key((0, 0, 1)), compatible_key((0, 0, 2)));
        assert_eq!(compatible_key((1, 0, 1)), compatible_key((1, 4, 2)));
    }
}
