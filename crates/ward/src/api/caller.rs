//! [`Caller`]: what a host function sees of the store and of the instance that called it.

use super::context::{AsContext, AsContextMut, StoreContext, StoreContextMut};
use super::externs::Extern;
use super::instance::Instance;
use super::store::Store;
use crate::engine::Engine;

/// The context of a host function call: exclusive access to the store and the instance whose
/// wasm code made the call (none when the host function is called directly by the embedder).
///
/// A host function that takes a `Caller` as its first parameter can read and write the caller's
/// exported memory, which is how WASI-style functions exchange buffers with a guest:
///
/// ```
/// use ward::{Caller, Engine, Linker, Module, Store};
///
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"
///     (module
///       (import "host" "sum" (func $sum (param i32 i32) (result i32)))
///       (memory (export "memory") 1)
///       (data (i32.const 8) "\01\02\03\04")
///       (func (export "run") (result i32) (call $sum (i32.const 8) (i32.const 4))))
/// "#)?;
/// let mut store = Store::new(&engine, 0u32);
/// let mut linker = Linker::new(&engine);
/// linker.func_wrap("host", "sum", |mut caller: Caller<'_, u32>, ptr: i32, len: i32| {
///     let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
///     let bytes = &memory.data(&caller)[ptr as usize..][..len as usize];
///     let sum: u32 = bytes.iter().map(|b| *b as u32).sum();
///     *caller.data_mut() += 1;
///     sum as i32
/// })?;
/// let instance = linker.instantiate(&mut store, &module)?;
/// let run = instance.get_typed_func::<(), i32>(&mut store, "run")?;
/// assert_eq!(run.call(&mut store, ())?, 10);
/// assert_eq!(*store.data(), 1);
/// # Ok::<(), ward::Error>(())
/// ```
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut Store<T>,
    pub(crate) instance: Option<Instance>,
    /// Whether the call that reached this host function parks when it returns
    /// [`Error::Park`](crate::Error::Park) (see [`Caller::can_park`]).
    pub(crate) can_park: bool,
}

impl<'a, T> Caller<'a, T> {
    /// A handle that interrupts wasm running in the caller's store (see
    /// [`Store::interrupt_handle`]).
    pub fn interrupt_handle(&self) -> super::store::InterruptHandle {
        self.store.interrupt_handle()
    }

    pub(crate) fn new(store: &'a mut Store<T>, instance: Option<u32>) -> Caller<'a, T> {
        let store_id = store.id();
        Caller {
            store,
            instance: instance.map(|index| Instance { store_id, index }),
            can_park: false,
        }
    }

    /// Whether returning [`Error::Park`](crate::Error::Park) from this host function parks the
    /// call that reached it: the host function was called directly by the wasm code of a
    /// resumable call ([`Func::call_resumable`](crate::Func::call_resumable) or
    /// [`ParkedCall::resume`](crate::ParkedCall::resume)). Elsewhere parking fails the call.
    ///
    /// ```
    /// use ward::{CallStatus, Caller, Engine, Error, Func, FuncType, Store, Val, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let ty = FuncType::new([], [ValType::I32]);
    /// let f = Func::new(&mut store, ty, |caller: Caller<'_, ()>, _, out| {
    ///     out[0] = Val::I32(caller.can_park() as i32);
    ///     Ok(())
    /// });
    /// let mut out = [Val::I32(-1)];
    /// f.call(&mut store, &[], &mut out)?;
    /// assert_eq!(out[0], Val::I32(0)); // the embedder called it: nothing to park
    /// # Ok::<(), Error>(())
    /// ```
    pub fn can_park(&self) -> bool {
        self.can_park
    }

    /// The embedder's data.
    ///
    /// ```
    /// use ward::{Caller, Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), 7);
    /// let f = Func::wrap(&mut store, |caller: Caller<'_, i32>| *caller.data());
    /// assert_eq!(f.typed::<(), i32>(&store)?.call(&mut store, ())?, 7);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The embedder's data, mutably.
    ///
    /// ```
    /// use ward::{Caller, Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), 0);
    /// let f = Func::wrap(&mut store, |mut caller: Caller<'_, i32>, x: i32| *caller.data_mut() += x);
    /// f.typed::<i32, ()>(&store)?.call(&mut store, 5)?;
    /// assert_eq!(*store.data(), 5);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The export `name` of the calling instance, or `None` if there is no such export or the
    /// host function was not called from wasm.
    ///
    /// ```
    /// use ward::{Caller, Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// // Called directly by the embedder: there is no calling instance.
    /// let f = Func::wrap(&mut store, |mut caller: Caller<'_, ()>| caller.get_export("memory").is_none() as i32);
    /// assert_eq!(f.typed::<(), i32>(&store)?.call(&mut store, ())?, 1);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.instance?;
        instance.get_export(&*self.store, name)
    }

    /// The store's engine.
    ///
    /// ```
    /// use ward::{Caller, Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let f = Func::wrap(&mut store, |caller: Caller<'_, ()>| { let _ = caller.engine(); });
    /// f.call(&mut store, &[], &mut [])?;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn engine(&self) -> &Engine {
        self.store.engine()
    }

    /// The fuel left; see [`Store::get_fuel`].
    ///
    /// ```
    /// use ward::{Caller, Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let f = Func::wrap(&mut store, |caller: Caller<'_, ()>| caller.get_fuel().is_err() as i32);
    /// assert_eq!(f.typed::<(), i32>(&store)?.call(&mut store, ())?, 1);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_fuel(&self) -> crate::Result<u64> {
        self.store.get_fuel()
    }

    /// Sets the fuel left; see [`Store::set_fuel`].
    ///
    /// ```
    /// use ward::{Caller, Config, Engine, Func, Store};
    /// let mut config = Config::new();
    /// config.consume_fuel(true);
    /// let mut store = Store::new(&Engine::new(&config), ());
    /// let f = Func::wrap(&mut store, |mut caller: Caller<'_, ()>| caller.set_fuel(9));
    /// f.call(&mut store, &[], &mut [])?;
    /// assert_eq!(store.get_fuel()?, 9);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn set_fuel(&mut self, fuel: u64) -> crate::Result<()> {
        self.store.set_fuel(fuel)
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.store)
    }
}

impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.store)
    }
}

impl<'a, T> From<&'a Caller<'_, T>> for StoreContext<'a, T> {
    fn from(c: &'a Caller<'_, T>) -> Self {
        StoreContext(c.store)
    }
}

impl<'a, T> From<&'a mut Caller<'_, T>> for StoreContext<'a, T> {
    fn from(c: &'a mut Caller<'_, T>) -> Self {
        StoreContext(c.store)
    }
}

impl<'a, T> From<&'a mut Caller<'_, T>> for StoreContextMut<'a, T> {
    fn from(c: &'a mut Caller<'_, T>) -> Self {
        StoreContextMut(c.store)
    }
}
