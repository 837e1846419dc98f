//! [`Tag`]: handles to exception tags.

use super::context::{AsContext, AsContextMut};
use crate::runtime::TagEntry;
use crate::types::FuncType;
use std::sync::Arc;

/// An exception tag in a store, created by the host or exported by an instance. A tag's identity
/// is its handle: two tags of the same type are different tags.
///
/// A `Tag` is a small `Copy` handle. Using it with a store other than the one that created it
/// panics with `object used with the wrong store`.
///
/// ```
/// use ward::{Engine, FuncType, Store, Tag, ValType};
/// let mut store = Store::new(&Engine::default(), ());
/// let ty = FuncType::new([ValType::I32], []);
/// let a = Tag::new(&mut store, &ty);
/// let b = Tag::new(&mut store, &ty);
/// assert_ne!(a, b);
/// assert_eq!(a.ty(&store), ty);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Tag {
    /// A new tag whose exceptions carry values of `ty`'s parameter types (`ty` should have no
    /// results).
    ///
    /// ```
    /// use ward::{Engine, FuncType, Store, Tag};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let tag = Tag::new(&mut store, &FuncType::new([], []));
    /// assert!(tag.ty(&store).params().is_empty());
    /// ```
    pub fn new(mut store: impl AsContextMut, ty: &FuncType) -> Tag {
        let store = store.as_context_mut().0;
        let (type_id, ty) = store.func_type_id(ty.clone());
        let index = u32::try_from(store.inner.tags.len()).expect("too many tags");
        store.inner.tags.push(TagEntry { type_id, ty });
        Tag { store_id: store.id(), index }
    }

    /// The tag's type: its parameters are the exception's payload.
    ///
    /// ```
    /// use ward::{Engine, FuncType, Store, Tag, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let tag = Tag::new(&mut store, &FuncType::new([ValType::F64], []));
    /// assert_eq!(tag.ty(&store).params(), &[ValType::F64]);
    /// ```
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let store = store.as_context().0;
        store.check(self.store_id);
        FuncType::clone(&store.inner.tags[self.index as usize].ty)
    }

    /// The tag's canonical type id and signature.
    pub(crate) fn entry_type(&self, store: &crate::runtime::StoreInner) -> (u32, Arc<FuncType>) {
        let e = &store.tags[self.index as usize];
        (e.type_id, e.ty.clone())
    }
}
