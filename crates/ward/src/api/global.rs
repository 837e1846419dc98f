//! [`Global`]: handles to global variables.

use super::context::{AsContext, AsContextMut};
use super::store::Store;
use super::subtyping::val_matches;
use super::val::Val;
use crate::error::{Error, Result};
use crate::runtime::GlobalCell;
use crate::types::{GlobalType, Mutability, ValType};

/// A global variable in a store, created by the host or exported by an instance.
///
/// A `Global` is a small `Copy` handle. Using it with a store other than the one that created it
/// panics with `object used with the wrong store`.
///
/// ```
/// use ward::{Engine, Global, GlobalType, Mutability, Store, Val, ValType};
/// let mut store = Store::new(&Engine::default(), ());
/// let g = Global::new(&mut store, GlobalType::new(ValType::I64, Mutability::Var), Val::I64(1))?;
/// g.set(&mut store, Val::I64(2))?;
/// assert_eq!(g.get(&store), Val::I64(2));
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Global {
    /// A new global of type `ty` holding `val`. Fails with [`Error::Usage`] if `val` is not a
    /// value of `ty`'s content type.
    ///
    /// ```
    /// use ward::{Engine, Global, GlobalType, Mutability, Store, Val, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let ty = GlobalType::new(ValType::F32, Mutability::Const);
    /// assert!(Global::new(&mut store, ty, Val::I32(0)).is_err());
    /// let g = Global::new(&mut store, ty, Val::from(1.5f32))?;
    /// assert_eq!(g.get(&store).f32(), Some(1.5));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, val: Val) -> Result<Global> {
        let store = store.as_context_mut().0;
        let value = checked_bits(store, ty.content, val)?;
        let index = u32::try_from(store.inner.globals.len()).expect("too many globals");
        store.inner.globals.push(Box::new(GlobalCell { value, ty }));
        Ok(Global { store_id: store.id(), index })
    }

    /// The global's type.
    ///
    /// ```
    /// use ward::{Engine, Global, GlobalType, Mutability, Store, Val, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let ty = GlobalType::new(ValType::I32, Mutability::Var);
    /// let g = Global::new(&mut store, ty, Val::I32(0))?;
    /// assert_eq!(g.ty(&store), ty);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        let store = store.as_context().0;
        store.check(self.store_id);
        store.inner.globals[self.index as usize].ty
    }

    /// The current value.
    ///
    /// ```
    /// use ward::{Engine, Global, GlobalType, Mutability, Store, Val, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let g = Global::new(&mut store, GlobalType::new(ValType::V128, Mutability::Const), Val::V128(9))?;
    /// assert_eq!(g.get(&store), Val::V128(9));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get(&self, store: impl AsContext) -> Val {
        let store = store.as_context().0;
        store.check(self.store_id);
        let cell = &store.inner.globals[self.index as usize];
        let v = Val::from_bits(cell.ty.content, cell.value, self.store_id);
        super::externref::pin_handle(&store.inner, &v);
        v
    }

    /// Sets the value. Fails with [`Error::Usage`] if the global is immutable or `val` is not a
    /// value of its type.
    ///
    /// ```
    /// use ward::{Engine, Global, GlobalType, Mutability, Store, Val, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let c = Global::new(&mut store, GlobalType::new(ValType::I32, Mutability::Const), Val::I32(1))?;
    /// assert!(c.set(&mut store, Val::I32(2)).is_err());
    /// let v = Global::new(&mut store, GlobalType::new(ValType::I32, Mutability::Var), Val::I32(1))?;
    /// assert!(v.set(&mut store, Val::I64(2)).is_err());
    /// v.set(&mut store, Val::I32(2))?;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn set(&self, mut store: impl AsContextMut, val: Val) -> Result<()> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        let ty = store.inner.globals[self.index as usize].ty;
        if ty.mutability == Mutability::Const {
            return Err(Error::usage("cannot set an immutable global"));
        }
        let value = checked_bits(store, ty.content, val)?;
        store.inner.globals[self.index as usize].value = value;
        Ok(())
    }
}

/// The cell encoding of `val` after checking its store and that it is a value of type `ty`.
fn checked_bits<T>(store: &Store<T>, ty: ValType, val: Val) -> Result<u128> {
    let bits = val.to_bits(store.id())?;
    if !val_matches(&store.inner, &val, ty) {
        return Err(Error::usage(format!(
            "global type mismatch: expected {ty}, got {}",
            val.kind_type()
        )));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, ExternRef, Func};

    #[test]
    fn reference_globals() {
        let mut store = Store::new(&Engine::default(), ());
        let ty = GlobalType::new(ValType::FUNCREF, Mutability::Var);
        let g = Global::new(&mut store, ty, Val::FuncRef(None)).unwrap();
        let f = Func::wrap(&mut store, || {});
        g.set(&mut store, Val::FuncRef(Some(f))).unwrap();
        assert_eq!(g.get(&store), Val::FuncRef(Some(f)));
        let r = ExternRef::new(&mut store, 5u8);
        assert!(g.set(&mut store, Val::ExternRef(Some(r))).is_err());
    }

    #[test]
    #[should_panic(expected = "object used with the wrong store")]
    fn wrong_store_panics() {
        let mut a = Store::new(&Engine::default(), ());
        let b = Store::new(&Engine::default(), ());
        let ty = GlobalType::new(ValType::I32, Mutability::Const);
        let g = Global::new(&mut a, ty, Val::I32(0)).unwrap();
        let _ = g.get(&b);
    }
}
