//! Borrowed views of a store ([`StoreContext`], [`StoreContextMut`]) and the traits that let
//! API functions accept a `Store`, a reference to one, or a [`Caller`](crate::Caller) alike.

use super::store::Store;
use crate::engine::Engine;

/// A shared borrow of a [`Store`].
///
/// ```
/// use ward::{AsContext, Store, Engine};
/// let store = Store::new(&Engine::default(), 5);
/// let ctx = store.as_context();
/// assert_eq!(*ctx.data(), 5);
/// ```
pub struct StoreContext<'a, T>(pub(crate) &'a Store<T>);

/// An exclusive borrow of a [`Store`].
///
/// ```
/// use ward::{AsContextMut, Store, Engine};
/// let mut store = Store::new(&Engine::default(), 5);
/// let mut ctx = store.as_context_mut();
/// *ctx.data_mut() += 1;
/// assert_eq!(*store.data(), 6);
/// ```
pub struct StoreContextMut<'a, T>(pub(crate) &'a mut Store<T>);

impl<'a, T> StoreContext<'a, T> {
    /// The embedder's data.
    ///
    /// ```
    /// # use ward::AsContext;
    /// let store = ward::Store::new(&ward::Engine::default(), 'x');
    /// assert_eq!(*store.as_context().data(), 'x');
    /// ```
    pub fn data(&self) -> &'a T {
        self.0.data()
    }

    /// The store's engine.
    ///
    /// ```
    /// # use ward::AsContext;
    /// let store = ward::Store::new(&ward::Engine::default(), ());
    /// let _engine = store.as_context().engine();
    /// ```
    pub fn engine(&self) -> &'a Engine {
        self.0.engine()
    }
}

impl<T> StoreContextMut<'_, T> {
    /// The embedder's data.
    ///
    /// ```
    /// # use ward::AsContextMut;
    /// let mut store = ward::Store::new(&ward::Engine::default(), 'x');
    /// assert_eq!(*store.as_context_mut().data(), 'x');
    /// ```
    pub fn data(&self) -> &T {
        self.0.data()
    }

    /// The embedder's data, mutably.
    ///
    /// ```
    /// # use ward::AsContextMut;
    /// let mut store = ward::Store::new(&ward::Engine::default(), 1);
    /// *store.as_context_mut().data_mut() = 2;
    /// assert_eq!(*store.data(), 2);
    /// ```
    pub fn data_mut(&mut self) -> &mut T {
        self.0.data_mut()
    }

    /// The store's engine.
    ///
    /// ```
    /// # use ward::AsContextMut;
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let _engine = store.as_context_mut().engine().clone();
    /// ```
    pub fn engine(&self) -> &Engine {
        self.0.engine()
    }

    /// A handle that interrupts wasm running in this store; see [`Store::interrupt_handle`].
    /// A host function that waits (for a socket, a timer) checks it to end the wait.
    ///
    /// ```
    /// # use ward::AsContextMut;
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// assert!(!store.as_context_mut().interrupt_handle().is_interrupted());
    /// ```
    pub fn interrupt_handle(&self) -> crate::InterruptHandle {
        self.0.interrupt_handle()
    }

    /// Sets the fuel left; see [`Store::set_fuel`].
    ///
    /// ```
    /// # use ward::AsContextMut;
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// assert!(store.as_context_mut().set_fuel(1).is_err()); // fuel not enabled
    /// ```
    pub fn set_fuel(&mut self, fuel: u64) -> crate::Result<()> {
        self.0.set_fuel(fuel)
    }

    /// The fuel left; see [`Store::get_fuel`].
    ///
    /// ```
    /// # use ward::AsContextMut;
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// assert!(store.as_context_mut().get_fuel().is_err()); // fuel not enabled
    /// ```
    pub fn get_fuel(&self) -> crate::Result<u64> {
        self.0.get_fuel()
    }
}

/// Something that gives shared access to a store: a [`Store`], a [`Caller`](crate::Caller), a
/// [`StoreContext`] or [`StoreContextMut`], or a reference to any of these.
///
/// ```
/// use ward::{AsContext, Engine, Store};
/// fn count<C: AsContext<Data = u32>>(c: C) -> u32 { *c.as_context().data() }
/// let mut store = Store::new(&Engine::default(), 3u32);
/// assert_eq!(count(&store), 3);
/// assert_eq!(count(&mut store), 3);
/// ```
pub trait AsContext {
    /// The store's data type `T`.
    type Data;

    /// A shared borrow of the store.
    ///
    /// ```
    /// use ward::AsContext;
    /// let store = ward::Store::new(&ward::Engine::default(), 1u8);
    /// assert_eq!(*store.as_context().data(), 1);
    /// ```
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Something that gives exclusive access to a store; see [`AsContext`].
///
/// ```
/// use ward::{AsContextMut, Engine, Store};
/// fn bump<C: AsContextMut<Data = u32>>(mut c: C) { *c.as_context_mut().data_mut() += 1 }
/// let mut store = Store::new(&Engine::default(), 3u32);
/// bump(&mut store);
/// assert_eq!(*store.data(), 4);
/// ```
pub trait AsContextMut: AsContext {
    /// An exclusive borrow of the store.
    ///
    /// ```
    /// use ward::AsContextMut;
    /// let mut store = ward::Store::new(&ward::Engine::default(), 1u8);
    /// *store.as_context_mut().data_mut() = 2;
    /// assert_eq!(*store.data(), 2);
    /// ```
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self)
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self)
    }
}

impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}

impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

impl<'a, T> From<&'a Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a Store<T>) -> Self {
        StoreContext(s)
    }
}

impl<'a, T> From<&'a mut Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContext(s)
    }
}

impl<'a, T> From<&'a mut Store<T>> for StoreContextMut<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContextMut(s)
    }
}

impl<'a, T> From<StoreContextMut<'a, T>> for StoreContext<'a, T> {
    fn from(s: StoreContextMut<'a, T>) -> Self {
        StoreContext(s.0)
    }
}

impl<'a, T> From<&'a StoreContext<'_, T>> for StoreContext<'a, T> {
    fn from(s: &'a StoreContext<'_, T>) -> Self {
        StoreContext(s.0)
    }
}

impl<'a, T> From<&'a StoreContextMut<'_, T>> for StoreContext<'a, T> {
    fn from(s: &'a StoreContextMut<'_, T>) -> Self {
        StoreContext(s.0)
    }
}

impl<'a, T> From<&'a mut StoreContextMut<'_, T>> for StoreContextMut<'a, T> {
    fn from(s: &'a mut StoreContextMut<'_, T>) -> Self {
        StoreContextMut(s.0)
    }
}
