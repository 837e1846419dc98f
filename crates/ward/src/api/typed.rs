//! [`TypedFunc`]: a function whose signature was checked once, called without `Val` boxing.

use super::call::{call_raw, call_raw_async};
use super::context::{AsContext, AsContextMut};
use super::func::Func;
use super::into_func::{WasmParams, WasmResults};
use super::subtyping::val_subtype;
use crate::error::{Error, Result};
use crate::types::FuncType;
use std::fmt;
use std::marker::PhantomData;

/// A [`Func`] with a statically known signature: `Params` and `Results` are a [`WasmTy`] or a
/// tuple of them (see [`WasmParams`], [`WasmResults`]).
///
/// [`WasmTy`]: crate::WasmTy
///
/// ```
/// use ward::{Engine, Instance, Module, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"(module
///     (func (export "swap") (param i32 i64) (result i64 i32) local.get 1 local.get 0))"#)?;
/// let mut store = Store::new(&engine, ());
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let swap = instance.get_typed_func::<(i32, i64), (i64, i32)>(&mut store, "swap")?;
/// assert_eq!(swap.call(&mut store, (1, 2))?, (2, 1));
/// # Ok::<(), ward::Error>(())
/// ```
pub struct TypedFunc<Params, Results> {
    func: Func,
    _signature: PhantomData<fn(Params) -> Results>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P, R> fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TypedFunc").field(&self.func).finish()
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Calls the function. A trap ends the call with [`Error::Trap`].
    ///
    /// Panics with `object used with the wrong store` if `store` did not create the function.
    ///
    /// ```
    /// use ward::{Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let f = Func::wrap(&mut store, |x: i64| x * x).typed::<i64, i64>(&store)?;
    /// assert_eq!(f.call(&mut store, 12)?, 144);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R> {
        let store = store.as_context_mut().0;
        store.check(self.func.store_id);
        let id = store.id();
        let mut args = [0u64; 16];
        params.into_slots(id, &mut args[..P::SLOTS])?;
        let mut out = [0u64; 16];
        call_raw(store, self.func.index, &args[..P::SLOTS], &mut out[..R::SLOTS])?;
        Ok(R::from_slots(&out, id))
    }

    /// Calls the function as a future; see [`Func::call_async`].
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Waker};
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = Context::from_waker(Waker::noop());
    /// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use ward::{Config, Engine, Func, Store};
    /// let mut config = Config::new();
    /// config.async_support(true);
    /// let mut store = Store::new(&Engine::new(&config), ());
    /// let f = Func::wrap(&mut store, |x: i64| x + 1).typed::<i64, i64>(&store)?;
    /// assert_eq!(block_on(f.call_async(&mut store, 41))?, 42);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub async fn call_async<T: Send>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        params: P,
    ) -> Result<R> {
        let store = store.as_context_mut().0;
        store.check(self.func.store_id);
        let id = store.id();
        let mut args = [0u64; 16];
        params.into_slots(id, &mut args[..P::SLOTS])?;
        let mut out = [0u64; 16];
        call_raw_async(store, self.func.index, &args[..P::SLOTS], &mut out[..R::SLOTS]).await?;
        Ok(R::from_slots(&out, id))
    }

    /// The untyped function.
    ///
    /// ```
    /// use ward::{Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let f = Func::wrap(&mut store, || 1i32);
    /// assert_eq!(*f.typed::<(), i32>(&store)?.func(), f);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn func(&self) -> &Func {
        &self.func
    }
}

impl Func {
    /// This function as a [`TypedFunc`], after checking that its signature accepts `Params` and
    /// produces `Results` (each parameter type of `Params` must be a subtype of the function's,
    /// each result type of the function a subtype of `Results`').
    ///
    /// ```
    /// use ward::{Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let f = Func::wrap(&mut store, |x: i32| x);
    /// assert!(f.typed::<i32, i32>(&store).is_ok());
    /// let err = f.typed::<i64, i32>(&store).unwrap_err();
    /// assert!(err.to_string().contains("type mismatch"));
    /// ```
    pub fn typed<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
    ) -> Result<TypedFunc<P, R>> {
        let store = store.as_context().0;
        store.check(self.store_id);
        let ty = &store.inner.funcs[self.index as usize].ty;
        let (params, results) = (P::valtypes(), R::valtypes());
        let ok = params.len() == ty.params().len()
            && results.len() == ty.results().len()
            && params.iter().zip(ty.params()).all(|(p, d)| val_subtype(*p, *d, None))
            && ty.results().iter().zip(&results).all(|(d, r)| val_subtype(*d, *r, None));
        if !ok {
            return Err(Error::usage(format!(
                "type mismatch: the function has type {ty}, the typed function was asked for {}",
                FuncType::new(params, results)
            )));
        }
        Ok(TypedFunc { func: *self, _signature: PhantomData })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, Func, FuncType, Store, Val, ValType};

    #[test]
    fn typed_checks_both_directions() {
        let mut store = Store::new(&Engine::default(), ());
        let f = Func::wrap(&mut store, |x: i32, y: f32| (x, y));
        assert!(f.typed::<(i32, f32), (i32, f32)>(&store).is_ok());
        assert!(f.typed::<(i32, f32), i32>(&store).is_err());
        assert!(f.typed::<i32, (i32, f32)>(&store).is_err());
        assert!(f.typed::<(f32, i32), (i32, f32)>(&store).is_err());
        let e = f.typed::<(), ()>(&store).unwrap_err();
        assert_eq!(
            e.to_string(),
            "type mismatch: the function has type (func (param i32 f32) (result i32 f32)), \
             the typed function was asked for (func)"
        );
    }

    #[test]
    fn non_null_results_may_be_read_as_nullable() {
        use crate::{HeapType, RefType};
        let mut store = Store::new(&Engine::default(), ());
        let nn = ValType::Ref(RefType { nullable: false, heap: HeapType::Func });
        let f = Func::new(&mut store, FuncType::new([], [nn]), |_, _, r| {
            r[0] = Val::FuncRef(None); // wrong on purpose: caught at call time
            Ok(())
        });
        let typed = f.typed::<(), Option<Func>>(&store).unwrap();
        let e = typed.call(&mut store, ()).unwrap_err();
        assert!(e.to_string().contains("result 0"), "{e}");
    }

    #[test]
    #[should_panic(expected = "object used with the wrong store")]
    fn typed_call_with_wrong_store_panics() {
        let mut a = Store::new(&Engine::default(), ());
        let mut b = Store::new(&Engine::default(), ());
        let f = Func::wrap(&mut a, || {}).typed::<(), ()>(&a).unwrap();
        let _ = f.call(&mut b, ());
    }
}
