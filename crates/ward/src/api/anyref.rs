//! [`AnyRef`]: a reference of the internal (`any`) hierarchy of garbage collection, as the host
//! sees it.

use super::context::AsContext;
use super::externref::ExternRef;
use crate::runtime::gc::refs::{self, AnyKind};

/// A non-null `anyref`: an i31, a struct, an array, or a host reference the guest internalized
/// (`any.convert_extern`).
///
/// A handle to a struct or array keeps it alive for the life of the store (the collector cannot
/// see the host's handles), counted toward the store's GC heap limit. Handles are `Copy`; using
/// one with another store panics with `object used with the wrong store`.
///
/// ```
/// use ward::{AnyRef, Engine, Store};
/// let store = Store::new(&Engine::default(), ());
/// let r = AnyRef::from_i31(&store, -5);
/// assert_eq!(r.i31_s(), Some(-5));
/// assert_eq!(r.i31_u(), Some(0x7fff_fffb));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnyRef {
    pub(crate) store_id: u64,
    /// The reference value (see `runtime::gc::refs`).
    pub(crate) raw: u64,
}

impl AnyRef {
    /// The i31 reference of the low 31 bits of `value` (`ref.i31`).
    pub fn from_i31(store: impl AsContext, value: i32) -> AnyRef {
        AnyRef { store_id: store.as_context().0.id(), raw: refs::i31(value as u32) }
    }

    /// The value of an i31 reference, sign-extended (`i31.get_s`); `None` for other references.
    pub fn i31_s(&self) -> Option<i32> {
        self.is_i31().then(|| refs::i31_get_s(self.raw))
    }

    /// The value of an i31 reference, zero-extended (`i31.get_u`); `None` for other references.
    pub fn i31_u(&self) -> Option<u32> {
        self.is_i31().then(|| refs::i31_get_u(self.raw))
    }

    /// Whether this is an i31 reference.
    pub fn is_i31(&self) -> bool {
        refs::classify(self.raw) == AnyKind::I31
    }

    /// Whether this is a struct.
    pub fn is_struct(&self, store: impl AsContext) -> bool {
        let store = store.as_context().0;
        store.check(self.store_id);
        store.inner.gc.get(self.raw).is_some_and(|o| o.ty.is_struct())
    }

    /// Whether this is an array.
    pub fn is_array(&self, store: impl AsContext) -> bool {
        let store = store.as_context().0;
        store.check(self.store_id);
        store.inner.gc.get(self.raw).is_some_and(|o| !o.ty.is_struct())
    }

    /// The same reference viewed as an `externref`, as `extern.convert_any` makes it.
    pub fn to_extern(self) -> ExternRef {
        ExternRef { store_id: self.store_id, raw: self.raw }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Instance, Module, Store, Val};

    #[test]
    fn structs_arrays_and_host_references_cross_the_boundary() {
        let engine = Engine::default();
        let module = Module::new(
            &engine,
            r#"(module
                (type $s (struct (field i32)))
                (type $a (array i8))
                (func (export "s") (result anyref) (struct.new $s (i32.const 7)))
                (func (export "a") (result anyref) (array.new_default $a (i32.const 3)))
                (func (export "id") (param anyref) (result anyref) (local.get 0))
                (func (export "ext") (param anyref) (result externref)
                  (extern.convert_any (local.get 0))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &module, &[]).unwrap();
        let mut out = [Val::AnyRef(None)];
        i.get_func(&mut store, "s").unwrap().call(&mut store, &[], &mut out).unwrap();
        let s = out[0].anyref().unwrap().unwrap();
        assert!(s.is_struct(&store) && !s.is_array(&store) && !s.is_i31());
        i.get_func(&mut store, "a").unwrap().call(&mut store, &[], &mut out).unwrap();
        let a = out[0].anyref().unwrap().unwrap();
        assert!(a.is_array(&store));
        // Identity is kept through the host and through externalization.
        let id = i.get_func(&mut store, "id").unwrap();
        id.call(&mut store, &[Val::AnyRef(Some(s))], &mut out).unwrap();
        assert_eq!(out[0], Val::AnyRef(Some(s)));
        let host = ExternRef::new(&mut store, "host".to_string());
        id.call(&mut store, &[Val::AnyRef(Some(host.to_any()))], &mut out).unwrap();
        assert_eq!(out[0].anyref().unwrap().unwrap().to_extern(), host);
        let mut ext = [Val::ExternRef(None)];
        let f = i.get_func(&mut store, "ext").unwrap();
        f.call(&mut store, &[Val::AnyRef(Some(s))], &mut ext).unwrap();
        let e = ext[0].externref().unwrap().unwrap();
        assert_eq!(e.to_any(), s);
        assert!(e.data(&store).is::<()>(), "an externalized struct has no host value");
        // An anyref parameter must be an anyref.
        let wrong = id.call(&mut store, &[Val::I32(1)], &mut out);
        assert!(wrong.is_err());
    }
}
