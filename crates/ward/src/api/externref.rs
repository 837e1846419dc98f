//! Host references ([`ExternRef`]) and exception references ([`ExnRef`]).

use super::context::{AsContext, AsContextMut, StoreContext, StoreContextMut};
use super::tag::Tag;
use super::val::Val;
use std::any::Any;

/// A reference to a host value, passed to and from wasm as an `externref`.
///
/// The value lives as long as the store. Handles are `Copy`; using one with another store panics
/// with `object used with the wrong store`.
///
/// ```
/// use ward::{Engine, ExternRef, Store};
/// let mut store = Store::new(&Engine::default(), ());
/// let r = ExternRef::new(&mut store, String::from("hello"));
/// assert_eq!(r.data(&store).downcast_ref::<String>().unwrap(), "hello");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef {
    pub(crate) store_id: u64,
    /// The reference value (see `runtime::gc::refs`): a host object's `index + 1`, or an
    /// internal reference (i31, struct, array) the guest externalized.
    pub(crate) raw: u64,
}

impl ExternRef {
    /// Moves `value` into the store and returns a reference to it.
    ///
    /// ```
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let r = ward::ExternRef::new(&mut store, 42u64);
    /// assert_eq!(r.data(&store).downcast_ref::<u64>(), Some(&42));
    /// ```
    pub fn new(mut store: impl AsContextMut, value: impl Any + Send + Sync) -> ExternRef {
        let store = store.as_context_mut().0;
        let index = u32::try_from(store.inner.externrefs.len()).expect("too many externrefs");
        store.inner.externrefs.push(Box::new(value));
        ExternRef { store_id: store.id(), raw: u64::from(index) + 1 }
    }

    /// The same reference viewed as an `anyref`, as `any.convert_extern` makes it.
    ///
    /// ```
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let r = ward::ExternRef::new(&mut store, 5u32);
    /// assert_eq!(r.to_any().to_extern(), r);
    /// ```
    pub fn to_any(self) -> super::anyref::AnyRef {
        super::anyref::AnyRef { store_id: self.store_id, raw: self.raw }
    }

    /// The index of the host object, if this is one (not an externalized internal reference).
    fn host_index(&self) -> Option<usize> {
        match crate::runtime::gc::refs::classify(self.raw) {
            crate::runtime::gc::refs::AnyKind::Host => Some((self.raw - 1) as usize),
            _ => None,
        }
    }

    /// The host value. A reference the guest made by `extern.convert_any` of an i31, struct
    /// or array has no host value: it reads as `()`.
    ///
    /// ```
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let r = ward::ExternRef::new(&mut store, 1u8);
    /// assert!(r.data(&store).is::<u8>());
    /// ```
    pub fn data<'a, T: 'a>(
        &self,
        store: impl Into<StoreContext<'a, T>>,
    ) -> &'a (dyn Any + Send + Sync) {
        let store = store.into().0;
        store.check(self.store_id);
        match self.host_index() {
            Some(i) => &*store.inner.externrefs[i],
            None => &(),
        }
    }

    /// The host value, mutably (`()` for an externalized internal reference, as for
    /// [`ExternRef::data`]).
    ///
    /// ```
    /// let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let r = ward::ExternRef::new(&mut store, 1u8);
    /// *r.data_mut(&mut store).downcast_mut::<u8>().unwrap() = 2;
    /// assert_eq!(r.data(&store).downcast_ref::<u8>(), Some(&2));
    /// ```
    pub fn data_mut<'a, T: 'a>(
        &self,
        store: impl Into<StoreContextMut<'a, T>>,
    ) -> &'a mut (dyn Any + Send + Sync) {
        let store = store.into().0;
        store.check(self.store_id);
        match self.host_index() {
            Some(i) => &mut *store.inner.externrefs[i],
            // A zero-sized box allocates nothing: leaking it costs nothing.
            None => Box::leak(Box::new(())),
        }
    }
}

/// A reference to a caught or thrown wasm exception (`exnref`): its tag and payload.
///
/// ```
/// use ward::{Engine, Module, Instance, Store, Val};
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"
///     (module
///       (tag $e (export "e") (param i32))
///       (func (export "catch") (result exnref)
///         (block $h (result exnref)
///           (try_table (catch_all_ref $h) (throw $e (i32.const 42)))
///           (ref.null exn))))
/// "#)?;
/// let mut store = Store::new(&engine, ());
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let mut out = [Val::ExnRef(None)];
/// instance.get_func(&mut store, "catch").unwrap().call(&mut store, &[], &mut out)?;
/// let exn = out[0].exnref().unwrap().unwrap();
/// assert_eq!(exn.fields(&store), vec![Val::I32(42)]);
/// assert_eq!(exn.tag(&store), instance.get_tag(&mut store, "e").unwrap());
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExnRef {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl ExnRef {
    /// The exception's tag.
    ///
    /// ```
    /// # use ward::{Engine, Module, Instance, Store, Val};
    /// # let engine = Engine::default();
    /// # let module = Module::new(&engine, r#"
    /// #     (module (tag $e (export "e") (param i64 f32))
    /// #       (func (export "catch") (result exnref)
    /// #         (block $h (result exnref)
    /// #           (try_table (catch_all_ref $h) (throw $e (i64.const 7) (f32.const 1.5)))
    /// #           (ref.null exn))))"#)?;
    /// # let mut store = Store::new(&engine, ());
    /// # let instance = Instance::new(&mut store, &module, &[])?;
    /// # let mut out = [Val::ExnRef(None)];
    /// # instance.get_func(&mut store, "catch").unwrap().call(&mut store, &[], &mut out)?;
    /// let exn = out[0].exnref().unwrap().unwrap();
    /// assert_eq!(exn.tag(&store), instance.get_tag(&mut store, "e").unwrap());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn tag(&self, store: impl AsContext) -> Tag {
        let store = store.as_context().0;
        store.check(self.store_id);
        Tag { store_id: self.store_id, index: store.inner.exns.get(u64::from(self.index) + 1).tag }
    }

    /// The exception's payload values, typed by its tag's parameters.
    ///
    /// ```
    /// # use ward::{Engine, Module, Instance, Store, Val};
    /// # let engine = Engine::default();
    /// # let module = Module::new(&engine, r#"
    /// #     (module (tag $e (export "e") (param i64 f32))
    /// #       (func (export "catch") (result exnref)
    /// #         (block $h (result exnref)
    /// #           (try_table (catch_all_ref $h) (throw $e (i64.const 7) (f32.const 1.5)))
    /// #           (ref.null exn))))"#)?;
    /// # let mut store = Store::new(&engine, ());
    /// # let instance = Instance::new(&mut store, &module, &[])?;
    /// # let mut out = [Val::ExnRef(None)];
    /// # instance.get_func(&mut store, "catch").unwrap().call(&mut store, &[], &mut out)?;
    /// let exn = out[0].exnref().unwrap().unwrap();
    /// assert_eq!(exn.fields(&store), vec![Val::I64(7), Val::from(1.5f32)]);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn fields(&self, store: impl AsContext) -> Vec<Val> {
        let store = store.as_context().0;
        store.check(self.store_id);
        let exn = store.inner.exns.get(u64::from(self.index) + 1);
        let ty = &store.inner.tags[exn.tag as usize].ty;
        let mut out = Vec::with_capacity(ty.params().len());
        let mut slot = 0;
        for t in ty.params() {
            let n = t.slots() as usize;
            out.push(Val::from_slots(*t, &exn.values[slot..slot + n], self.store_id));
            slot += n;
        }
        out
    }
}

/// Pins the exception or GC object behind `v`, if it is one: the host now holds a handle to it,
/// which the collectors cannot see.
pub(crate) fn pin_handle(store: &crate::runtime::StoreInner, v: &Val) {
    match v {
        Val::ExnRef(Some(e)) => store.exns.pin(u64::from(e.index) + 1),
        Val::AnyRef(Some(r)) => store.gc.pin(r.raw),
        Val::ExternRef(Some(r)) => store.gc.pin(r.raw),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Store};

    #[test]
    #[should_panic(expected = "object used with the wrong store")]
    fn externref_wrong_store_panics() {
        let mut a = Store::new(&Engine::default(), ());
        let b = Store::new(&Engine::default(), ());
        let r = ExternRef::new(&mut a, 1u32);
        let _ = r.data(&b);
    }

    #[test]
    fn externrefs_are_distinct() {
        let mut s = Store::new(&Engine::default(), ());
        let a = ExternRef::new(&mut s, 1u32);
        let b = ExternRef::new(&mut s, 1u32);
        assert_ne!(a, b);
        assert_eq!(a.data(&s).downcast_ref::<u32>(), Some(&1));
    }
}
