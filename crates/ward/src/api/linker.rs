//! [`Linker`]: imports by name, and [`InstancePre`]: a module whose imports were resolved once.

use super::call::HostFuture;
use super::caller::Caller;
use super::canonical::canonical_func_type_id;
use super::context::{AsContext, AsContextMut};
use super::externs::Extern;
use super::func::{dynamic_host_func, Func};
use super::instance::Instance;
use super::instantiate::instantiate;
use super::into_func::IntoFunc;
use super::into_func::{WasmParams, WasmResults};
use super::store::{AsyncHostFunc, HostImpl, Store};
use super::val::{cross_store, Val};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::module::{ImportKind, Module};
use crate::types::FuncType;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A host function defined in a linker, not yet part of any store.
struct HostDef<T> {
    /// Unique among all host definitions of the process: the key of a store's cache of the
    /// functions it has made from linker definitions.
    id: u64,
    type_id: u32,
    ty: Arc<FuncType>,
    func: HostImpl<T>,
}

static NEXT_HOST_DEF: AtomicU64 = AtomicU64::new(1);

/// What a name is bound to in a linker.
enum Definition<T> {
    /// An item of a store.
    Extern(Extern),
    /// A host function, made into a [`Func`] of each store it is instantiated in (once per store).
    Host(Arc<HostDef<T>>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::Host(h) => Definition::Host(h.clone()),
        }
    }
}

impl<T> Definition<T> {
    /// The item this definition stands for in `store`.
    fn to_extern(&self, store: &mut Store<T>) -> Extern {
        match self {
            Definition::Extern(e) => *e,
            Definition::Host(h) => {
                let index = match store.linker_funcs.iter().find(|(id, _)| *id == h.id) {
                    Some(&(_, index)) => index,
                    None => {
                        let index = store.push_host_func(h.type_id, h.ty.clone(), h.func.clone());
                        store.linker_funcs.push((h.id, index));
                        index
                    }
                };
                Extern::Func(Func::of(&store.inner, index))
            }
        }
    }
}

/// Resolves a module's imports by name: host functions, items of a store, and the exports of
/// other instances. One linker can instantiate modules in many stores (items defined with
/// [`define`](Linker::define) belong to one store, host functions to none).
///
/// ```
/// use ward::{Engine, Linker, Module, Store};
/// let engine = Engine::default();
/// let mut linker = Linker::new(&engine);
/// linker.func_wrap("env", "log", |x: i32| println!("log: {x}"))?;
///
/// let module = Module::new(&engine, r#"(module
///     (import "env" "log" (func $log (param i32)))
///     (func (export "main") (call $log (i32.const 1))))"#)?;
/// let mut store = Store::new(&engine, ());
/// let instance = linker.instantiate(&mut store, &module)?;
/// instance.get_typed_func::<(), ()>(&mut store, "main")?.call(&mut store, ())?;
///
/// let missing = Module::new(&engine, r#"(module (import "env" "exit" (func)))"#)?;
/// let err = linker.instantiate(&mut store, &missing).unwrap_err();
/// assert!(err.to_string().contains("unknown import"));
/// # Ok::<(), ward::Error>(())
/// ```
pub struct Linker<T> {
    engine: Engine,
    defs: HashMap<String, HashMap<String, Definition<T>>>,
    allow_shadowing: bool,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            defs: self.defs.clone(),
            allow_shadowing: self.allow_shadowing,
        }
    }
}

impl<T> fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = self
            .defs
            .iter()
            .flat_map(|(m, items)| items.keys().map(move |n| format!("{m}::{n}")))
            .collect();
        names.sort();
        f.debug_struct("Linker").field("definitions", &names).finish_non_exhaustive()
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker for `engine`.
    ///
    /// ```
    /// let linker = ward::Linker::<()>::new(&ward::Engine::default());
    /// # let _ = linker;
    /// ```
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker { engine: engine.clone(), defs: HashMap::new(), allow_shadowing: false }
    }

    /// Whether a later definition of a name may replace an earlier one. Off by default: defining
    /// a name twice is an error.
    ///
    /// ```
    /// let mut linker = ward::Linker::<()>::new(&ward::Engine::default());
    /// linker.func_wrap("m", "f", || 1i32)?;
    /// assert!(linker.func_wrap("m", "f", || 2i32).is_err());
    /// linker.allow_shadowing(true);
    /// linker.func_wrap("m", "f", || 2i32)?;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<&mut Self> {
        let items = self.defs.entry(module.to_string()).or_default();
        if !self.allow_shadowing && items.contains_key(name) {
            return Err(Error::usage(format!("import of `{module}::{name}` defined twice")));
        }
        items.insert(name.to_string(), def);
        Ok(self)
    }

    fn insert_host(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        func: HostImpl<T>,
    ) -> Result<&mut Self> {
        let type_id = canonical_func_type_id(&self.engine, &ty);
        let id = NEXT_HOST_DEF.fetch_add(1, Ordering::Relaxed);
        let def = HostDef { id, type_id, ty: Arc::new(ty), func };
        self.insert(module, name, Definition::Host(Arc::new(def)))
    }

    /// Defines `module::name` as a host function made from a closure; see [`Func::wrap`] for the
    /// closures accepted.
    ///
    /// ```
    /// use ward::{Caller, Engine, Linker};
    /// let mut linker = Linker::<u32>::new(&Engine::default());
    /// linker.func_wrap("env", "add", |a: i32, b: i32| a + b)?
    ///       .func_wrap("env", "count", |mut c: Caller<'_, u32>| *c.data_mut() += 1)?;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let (ty, func) = f.into_func();
        self.insert_host(module, name, ty, HostImpl::Sync(func))
    }

    /// Defines `module::name` as an async host function: `f` takes the [`Caller`] and the
    /// parameters (a [`WasmParams`](crate::WasmParams) tuple) and returns a boxed future of the
    /// results. It runs only in async calls ([`Func::call_async`],
    /// [`TypedFunc::call_async`](crate::TypedFunc::call_async)), which await the future: the
    /// guest waits without blocking the executor's thread. A plain call that reaches it fails.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Waker};
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = Context::from_waker(Waker::noop());
    /// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use ward::{Caller, Config, Engine, Linker, Module, Store};
    /// let mut config = Config::new();
    /// config.async_support(true);
    /// let engine = Engine::new(&config);
    /// let mut linker = Linker::<u32>::new(&engine);
    /// linker.func_wrap_async("host", "fetch", |caller: Caller<'_, u32>, (key,): (i32,)| {
    ///     Box::pin(async move {
    ///         // e.g. `tokio::time::sleep(..).await` or a database query
    ///         Ok(key + *caller.data() as i32)
    ///     })
    /// })?;
    /// let module = Module::new(&engine, r#"(module
    ///     (import "host" "fetch" (func $fetch (param i32) (result i32)))
    ///     (func (export "run") (result i32) (call $fetch (i32.const 40))))"#)?;
    /// let mut store = Store::new(&engine, 2);
    /// let instance = linker.instantiate(&mut store, &module)?;
    /// let run = instance.get_typed_func::<(), i32>(&mut store, "run")?;
    /// assert_eq!(block_on(run.call_async(&mut store, ()))?, 42);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn func_wrap_async<P, R, F>(&mut self, module: &str, name: &str, f: F) -> Result<&mut Self>
    where
        P: WasmParams + 'static,
        R: WasmResults + 'static,
        F: for<'a> Fn(Caller<'a, T>, P) -> HostFuture<'a, R> + Send + Sync + 'static,
        T: 'static,
    {
        if !self.engine.config().async_support {
            return Err(Error::usage(
                "async host functions need an engine with `Config::async_support(true)`",
            ));
        }
        let ty = FuncType::new(P::valtypes(), R::valtypes());
        let func: AsyncHostFunc<T> = Arc::new(move |caller: Caller<'_, T>, slots: &mut [u64]| {
            let id = caller.store.id();
            let params = P::from_slots(slots, id);
            let work = f(caller, params);
            Box::pin(async move { work.await?.into_slots(id, slots) })
        });
        self.insert_host(module, name, ty, HostImpl::Async(func))
    }

    /// Defines `module::name` as a host function with a signature known at run time; see
    /// [`Func::new`].
    ///
    /// ```
    /// use ward::{Engine, FuncType, Linker, Val, ValType};
    /// let mut linker = Linker::<()>::new(&Engine::default());
    /// let ty = FuncType::new([ValType::I32], [ValType::I32]);
    /// linker.func_new("env", "neg", ty, |_caller, params, results| {
    ///     results[0] = Val::I32(-params[0].unwrap_i32());
    ///     Ok(())
    /// })?;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let func = dynamic_host_func(Arc::new(ty.clone()), f);
        self.insert_host(module, name, ty, HostImpl::Sync(func))
    }

    /// Defines `module::name` as an item of `store`.
    ///
    /// ```
    /// use ward::{Engine, Global, GlobalType, Linker, Mutability, Store, Val, ValType};
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, ());
    /// let g = Global::new(&mut store, GlobalType::new(ValType::I32, Mutability::Const), Val::I32(3))?;
    /// let mut linker = Linker::new(&engine);
    /// linker.define(&store, "env", "three", g)?;
    /// assert_eq!(linker.get(&mut store, "env", "three").unwrap().into_global(), Some(g));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn define(
        &mut self,
        store: impl AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        let item = item.into();
        let store = store.as_context().0;
        self.check_engine(store)?;
        if item.store_id() != store.id() {
            return Err(cross_store());
        }
        self.insert(module, name, Definition::Extern(item))
    }

    /// Defines every export of `instance` under the module name `module_name`.
    ///
    /// ```
    /// use ward::{Engine, Linker, Module, Store};
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, ());
    /// let mut linker = Linker::new(&engine);
    /// let lib = Module::new(&engine, r#"(module (func (export "seven") (result i32) i32.const 7))"#)?;
    /// let lib = linker.instantiate(&mut store, &lib)?;
    /// linker.instance(&mut store, "lib", lib)?;
    /// let app = Module::new(&engine, r#"(module
    ///     (import "lib" "seven" (func $seven (result i32)))
    ///     (func (export "run") (result i32) (i32.mul (call $seven) (i32.const 6))))"#)?;
    /// let app = linker.instantiate(&mut store, &app)?;
    /// assert_eq!(app.get_typed_func::<(), i32>(&mut store, "run")?.call(&mut store, ())?, 42);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn instance(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        module_name: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        let store = store.as_context_mut().0;
        self.check_engine(store)?;
        for (name, item) in instance.exports(&*store) {
            self.insert(module_name, &name, Definition::Extern(item))?;
        }
        Ok(self)
    }

    /// Instantiates `module` in `store` and defines its exports under the name `name`.
    ///
    /// ```
    /// use ward::{Engine, Linker, Module, Store};
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, ());
    /// let mut linker = Linker::new(&engine);
    /// let lib = Module::new(&engine, r#"(module (memory (export "mem") 1))"#)?;
    /// linker.module(&mut store, "lib", &lib)?;
    /// assert!(linker.get(&mut store, "lib", "mem").is_some());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn module(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        name: &str,
        module: &Module,
    ) -> Result<&mut Self> {
        let instance = self.instantiate(&mut store, module)?;
        self.instance(store, name, instance)
    }

    /// The item defined as `module::name`, if any. A host function becomes a [`Func`] of
    /// `store` (the same one each time for a given store).
    ///
    /// ```
    /// use ward::{Engine, Linker, Store};
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, ());
    /// let mut linker = Linker::new(&engine);
    /// linker.func_wrap("env", "one", || 1i32)?;
    /// let f = linker.get(&mut store, "env", "one").unwrap().into_func().unwrap();
    /// assert_eq!(f.typed::<(), i32>(&store)?.call(&mut store, ())?, 1);
    /// assert!(linker.get(&mut store, "env", "two").is_none());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
    ) -> Option<Extern> {
        let store = store.as_context_mut().0;
        let def = self.defs.get(module)?.get(name)?;
        Some(def.to_extern(store))
    }

    /// Instantiates `module` in `store`, taking each import from this linker's definitions.
    ///
    /// A missing definition fails with [`Error::UnknownImport`], one of the wrong kind or type
    /// with [`Error::IncompatibleImport`]; see [`Instance::new`] for the rest.
    ///
    /// ```
    /// use ward::{Engine, Linker, Module, Store};
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, ());
    /// let mut linker = Linker::new(&engine);
    /// linker.func_wrap("env", "f", |x: i64| x)?;
    /// let module = Module::new(&engine, r#"(module (import "env" "f" (func (param i32))))"#)?;
    /// let err = linker.instantiate(&mut store, &module).unwrap_err();
    /// assert!(matches!(err, ward::Error::IncompatibleImport { .. }));
    /// assert!(err.to_string().contains("incompatible import type"));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn instantiate(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        let store = store.as_context_mut().0;
        self.check_engine(store)?;
        let defs = self.resolve(module)?;
        instantiate_with(store, module, &defs)
    }

    /// Resolves `module`'s imports once, for many cheap instantiations afterwards (in any store).
    ///
    /// Missing imports fail here with [`Error::UnknownImport`], and host functions of the wrong
    /// type with [`Error::IncompatibleImport`].
    ///
    /// ```
    /// use ward::{Engine, Linker, Module, Store};
    /// let engine = Engine::default();
    /// let mut linker = Linker::new(&engine);
    /// linker.func_wrap("env", "id", |x: i32| x)?;
    /// let module = Module::new(&engine, r#"(module
    ///     (import "env" "id" (func $id (param i32) (result i32)))
    ///     (func (export "run") (result i32) (call $id (i32.const 5))))"#)?;
    /// let pre = linker.instantiate_pre(&module)?;
    /// for _ in 0..3 {
    ///     let mut store = Store::new(&engine, ());
    ///     let instance = pre.instantiate(&mut store)?;
    ///     assert_eq!(instance.get_typed_func::<(), i32>(&mut store, "run")?.call(&mut store, ())?, 5);
    /// }
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>> {
        if !Engine::same(&self.engine, module.engine()) {
            return Err(Error::usage("the module and the linker belong to different engines"));
        }
        let defs = self.resolve(module)?;
        Ok(InstancePre { module: module.clone(), defs: defs.into(), engine: self.engine.clone() })
    }

    /// The definition of each import of `module`, checking what can be checked without a store.
    fn resolve(&self, module: &Module) -> Result<Vec<Definition<T>>> {
        let m = &module.inner;
        m.imports
            .iter()
            .map(|imp| {
                let def =
                    self.defs.get(&imp.module).and_then(|items| items.get(&imp.name)).ok_or_else(
                        || Error::UnknownImport {
                            module: imp.module.clone(),
                            name: imp.name.clone(),
                        },
                    )?;
                if let Definition::Host(h) = def {
                    let reason = match &imp.kind {
                        ImportKind::Func(t) if h.type_id == m.types[*t as usize].id => None,
                        ImportKind::Func(t) => Some(super::instantiate::signature_mismatch(
                            "func",
                            m.func_type_of_type(*t),
                            &h.ty,
                        )),
                        ImportKind::Table(_) => Some("expected table, found func".to_string()),
                        ImportKind::Memory(_) => Some("expected memory, found func".to_string()),
                        ImportKind::Global(_) => Some("expected global, found func".to_string()),
                        ImportKind::Tag(_) => Some("expected tag, found func".to_string()),
                    };
                    if let Some(reason) = reason {
                        return Err(Error::IncompatibleImport {
                            module: imp.module.clone(),
                            name: imp.name.clone(),
                            reason,
                        });
                    }
                }
                Ok(def.clone())
            })
            .collect()
    }

    fn check_engine(&self, store: &Store<T>) -> Result<()> {
        if Engine::same(&self.engine, store.engine()) {
            Ok(())
        } else {
            Err(Error::usage("the linker and the store belong to different engines"))
        }
    }
}

/// Turns resolved definitions into items of `store` and instantiates.
fn instantiate_with<T>(
    store: &mut Store<T>,
    module: &Module,
    defs: &[Definition<T>],
) -> Result<Instance> {
    // Room, in one allocation each, for the host functions this store does not have yet and
    // for the module's own functions (a store per nanoprocess makes this the common case).
    let new_hosts = defs
        .iter()
        .filter(|d| match d {
            Definition::Host(h) => !store.linker_funcs.iter().any(|(id, _)| *id == h.id),
            Definition::Extern(_) => false,
        })
        .count();
    store.reserve_host_funcs(new_hosts);
    let m = &module.inner;
    store.inner.funcs.reserve(new_hosts + m.funcs.len() - m.num_imported_funcs as usize);
    let imports: Vec<Extern> = defs.iter().map(|d| d.to_extern(store)).collect();
    instantiate(store, module, &imports)
}

/// A module whose imports a [`Linker`] has resolved, ready to be instantiated quickly in any
/// store of the engine (see [`Linker::instantiate_pre`]).
///
/// ```
/// use ward::{Engine, Linker, Module, Store};
/// let engine = Engine::default();
/// let linker = Linker::<()>::new(&engine);
/// let pre = linker.instantiate_pre(&Module::new(&engine, "(module)")?)?;
/// let mut store = Store::new(&engine, ());
/// pre.instantiate(&mut store)?;
/// # Ok::<(), ward::Error>(())
/// ```
pub struct InstancePre<T> {
    module: Module,
    defs: Arc<[Definition<T>]>,
    engine: Engine,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            module: self.module.clone(),
            defs: self.defs.clone(),
            engine: self.engine.clone(),
        }
    }
}

impl<T> fmt::Debug for InstancePre<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstancePre").field("module", &self.module).finish_non_exhaustive()
    }
}

impl<T> InstancePre<T> {
    /// Instantiates the module in `store`. Items defined with [`Linker::define`] belong to one
    /// store; using them from another fails with [`Error::Usage`].
    ///
    /// ```
    /// use ward::{Engine, Linker, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (func (export "f") (result i32) i32.const 1))"#)?;
    /// let pre = Linker::<()>::new(&engine).instantiate_pre(&module)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = pre.instantiate(&mut store)?;
    /// assert!(instance.get_func(&store, "f").is_some());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance> {
        let store = store.as_context_mut().0;
        if !Engine::same(&self.engine, store.engine()) {
            return Err(Error::usage("the store belongs to a different engine"));
        }
        instantiate_with(store, &self.module, &self.defs)
    }

    /// The module.
    ///
    /// ```
    /// use ward::{Engine, Linker, Module};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, "(module $m)")?;
    /// let pre = Linker::<()>::new(&engine).instantiate_pre(&module)?;
    /// assert_eq!(pre.module().name(), Some("m"));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn module(&self) -> &Module {
        &self.module
    }
}
