//! [`Table`]: handles to tables of references.

use super::context::{AsContext, AsContextMut};
use super::store::Store;
use super::subtyping::val_matches;
use super::val::Val;
use crate::error::{Error, Result};
use crate::runtime::instantiate::new_table_instance;
use crate::runtime::TABLE_ELEM_BYTES;
use crate::types::TableType;
use crate::TrapCode;

/// A table of references in a store, created by the host or exported by an instance.
///
/// A `Table` is a small `Copy` handle. Using it with a store other than the one that created it
/// panics with `object used with the wrong store`.
///
/// ```
/// use ward::{Engine, Func, RefType, Store, Table, TableType, Val};
/// let mut store = Store::new(&Engine::default(), ());
/// let table = Table::new(&mut store, TableType::new(RefType::FUNCREF, 2, None), Val::FuncRef(None))?;
/// let f = Func::wrap(&mut store, || 7i32);
/// table.set(&mut store, 1, Val::FuncRef(Some(f)))?;
/// assert_eq!(table.get(&store, 1), Some(Val::FuncRef(Some(f))));
/// assert_eq!(table.get(&store, 2), None);
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Table {
    /// A new table of `ty.minimum()` elements, each set to `init`.
    ///
    /// Fails with [`Error::Usage`] if `init` is not a value of the element type or the minimum
    /// exceeds the maximum, and with [`Error::Limit`] past the store's
    /// [table limit](crate::StoreLimitsBuilder::table_elements).
    ///
    /// ```
    /// use ward::{Engine, RefType, Store, Table, TableType, Val};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let ty = TableType::new(RefType::EXTERNREF, 1, None);
    /// assert!(Table::new(&mut store, ty, Val::FuncRef(None)).is_err());
    /// assert!(Table::new(&mut store, ty, Val::ExternRef(None)).is_ok());
    /// ```
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        let store = store.as_context_mut().0;
        if ty.max.is_some_and(|max| ty.min > max) {
            return Err(Error::usage(format!(
                "table minimum ({}) exceeds its maximum ({})",
                ty.min,
                ty.max.unwrap_or_default()
            )));
        }
        let raw = element_raw(store, ty, init)?;
        store.inner.admit_table(&ty)?;
        let table = new_table_instance(&store.inner.limits, ty, raw)
            .inspect_err(|_| store.inner.refund(ty.min.saturating_mul(TABLE_ELEM_BYTES)))?;
        let index = u32::try_from(store.inner.tables.len()).expect("too many tables");
        store.inner.tables.push(Box::new(table));
        Ok(Table { store_id: store.id(), index })
    }

    /// The table's type, with its current size as the minimum.
    ///
    /// ```
    /// use ward::{Engine, RefType, Store, Table, TableType, Val};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let t = Table::new(&mut store, TableType::new(RefType::FUNCREF, 1, Some(5)), Val::FuncRef(None))?;
    /// t.grow(&mut store, 2, Val::FuncRef(None))?;
    /// assert_eq!(t.ty(&store), TableType::new(RefType::FUNCREF, 3, Some(5)));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn ty(&self, store: impl AsContext) -> TableType {
        let store = store.as_context().0;
        store.check(self.store_id);
        let t = &store.inner.tables[self.index as usize];
        TableType { min: t.elems.len() as u64, ..t.ty }
    }

    /// The current number of elements.
    ///
    /// ```
    /// use ward::{Engine, RefType, Store, Table, TableType, Val};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let t = Table::new(&mut store, TableType::new(RefType::FUNCREF, 4, None), Val::FuncRef(None))?;
    /// assert_eq!(t.size(&store), 4);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn size(&self, store: impl AsContext) -> u64 {
        let store = store.as_context().0;
        store.check(self.store_id);
        store.inner.tables[self.index as usize].elems.len() as u64
    }

    /// The element at `index`, or `None` if out of bounds.
    ///
    /// ```
    /// use ward::{Engine, RefType, Store, Table, TableType, Val};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let t = Table::new(&mut store, TableType::new(RefType::FUNCREF, 1, None), Val::FuncRef(None))?;
    /// assert_eq!(t.get(&store, 0), Some(Val::FuncRef(None)));
    /// assert_eq!(t.get(&store, 1), None);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get(&self, store: impl AsContext, index: u64) -> Option<Val> {
        let store = store.as_context().0;
        store.check(self.store_id);
        let t = &store.inner.tables[self.index as usize];
        let raw = *t.elems.get(usize::try_from(index).ok()?)?;
        let v = Val::from_raw_ref(t.ty.element, raw, self.store_id);
        super::externref::pin_handle(&store.inner, &v);
        Some(v)
    }

    /// Sets the element at `index`. Fails with an `out of bounds table access` trap if `index`
    /// is out of bounds, and with [`Error::Usage`] if `val` is not of the element type.
    ///
    /// ```
    /// use ward::{Engine, ExternRef, RefType, Store, Table, TableType, Val};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let t = Table::new(&mut store, TableType::new(RefType::EXTERNREF, 1, None), Val::ExternRef(None))?;
    /// let r = ExternRef::new(&mut store, "x");
    /// t.set(&mut store, 0, Val::ExternRef(Some(r)))?;
    /// assert!(t.set(&mut store, 1, Val::ExternRef(None)).is_err());
    /// assert!(t.set(&mut store, 0, Val::I32(0)).is_err());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn set(&self, mut store: impl AsContextMut, index: u64, val: Val) -> Result<()> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        let ty = store.inner.tables[self.index as usize].ty;
        let raw = element_raw(store, ty, val)?;
        let t = &mut store.inner.tables[self.index as usize];
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| t.elems.get_mut(i))
            .ok_or_else(|| Error::from(TrapCode::TableOutOfBounds))?;
        *slot = raw;
        Ok(())
    }

    /// Grows the table by `delta` elements set to `init`, returning the old size.
    ///
    /// Fails with [`Error::Limit`] past the table's maximum or the store's limit (the table is
    /// then unchanged), and with [`Error::Usage`] if `init` is not of the element type.
    ///
    /// ```
    /// use ward::{Engine, RefType, Store, Table, TableType, Val};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let t = Table::new(&mut store, TableType::new(RefType::FUNCREF, 0, Some(2)), Val::FuncRef(None))?;
    /// assert_eq!(t.grow(&mut store, 2, Val::FuncRef(None))?, 0);
    /// assert!(t.grow(&mut store, 1, Val::FuncRef(None)).is_err());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64, init: Val) -> Result<u64> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        let ty = store.inner.tables[self.index as usize].ty;
        let raw = element_raw(store, ty, init)?;
        store.inner.grow_table(self.index as usize, delta, raw).ok_or_else(|| {
            Error::Limit(format!(
                "cannot grow table of {} elements by {delta} elements",
                store.inner.tables[self.index as usize].elems.len()
            ))
        })
    }
}

/// The raw encoding of `val` as an element of a table of type `ty`, after checking its store and
/// type.
fn element_raw<T>(store: &Store<T>, ty: TableType, val: Val) -> Result<u64> {
    let raw = val.to_bits(store.id())? as u64;
    let elem = crate::types::ValType::Ref(ty.element);
    if !val_matches(&store.inner, &val, elem) {
        return Err(Error::usage(format!(
            "table element type mismatch: expected {elem}, got {}",
            val.kind_type()
        )));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, RefType, StoreLimitsBuilder};

    #[test]
    fn table_limits() {
        let mut store = Store::new(&Engine::default(), ());
        store.limiter(StoreLimitsBuilder::new().table_elements(10).build());
        let ty = TableType::new(RefType::FUNCREF, 11, None);
        let e = Table::new(&mut store, ty, Val::FuncRef(None)).unwrap_err();
        assert!(matches!(e, Error::Limit(_)), "{e}");
        let ty = TableType::new(RefType::FUNCREF, 10, None);
        let t = Table::new(&mut store, ty, Val::FuncRef(None)).unwrap();
        assert!(matches!(t.grow(&mut store, 1, Val::FuncRef(None)), Err(Error::Limit(_))));
        let ty = TableType::new(RefType::FUNCREF, 3, Some(2));
        assert!(matches!(Table::new(&mut store, ty, Val::FuncRef(None)), Err(Error::Usage(_))));
    }

    #[test]
    fn set_checks_bounds_and_store() {
        let mut store = Store::new(&Engine::default(), ());
        let ty = TableType::new(RefType::FUNCREF, 1, None);
        let t = Table::new(&mut store, ty, Val::FuncRef(None)).unwrap();
        let e = t.set(&mut store, u64::MAX, Val::FuncRef(None)).unwrap_err();
        assert_eq!(e.as_trap().unwrap().code(), TrapCode::TableOutOfBounds);
        let mut other = Store::new(&Engine::default(), ());
        let f = crate::Func::wrap(&mut other, || {});
        let e = t.set(&mut store, 0, Val::FuncRef(Some(f))).unwrap_err();
        assert!(e.to_string().contains("different store"), "{e}");
    }
}
