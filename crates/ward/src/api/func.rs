//! [`Func`]: function handles, host functions with dynamic signatures, and the generic call
//! driver that runs wasm code and services its host calls.

use super::call::call_raw;
use super::caller::Caller;
use super::context::{AsContext, AsContextMut};
use super::into_func::IntoFunc;
use super::store::{HostFunc, HostImpl, Store};
use super::subtyping::val_matches;
use super::val::Val;
use crate::error::{Error, Result};
use crate::runtime::StoreInner;
use crate::types::{FuncType, ValType};
use std::sync::Arc;

/// A function in a store: defined by a wasm instance or by the host.
///
/// A `Func` is a small `Copy` handle. Using it with a store other than the one that created it
/// panics with `object used with the wrong store`.
///
/// ```
/// use ward::{Engine, Func, Store, Val};
/// let mut store = Store::new(&Engine::default(), ());
/// let add = Func::wrap(&mut store, |a: i32, b: i32| a.wrapping_add(b));
/// let mut out = [Val::I32(0)];
/// add.call(&mut store, &[Val::I32(2), Val::I32(3)], &mut out)?;
/// assert_eq!(out[0], Val::I32(5));
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
    /// The function's reference value (the address of its record in the store).
    pub(crate) raw: u64,
}

impl Func {
    /// The handle of store function `index`.
    pub(crate) fn of(store: &crate::runtime::StoreInner, index: u32) -> Func {
        Func { store_id: store.id, index, raw: store.funcref_raw(index) }
    }

    /// The handle of the function whose (non-null) reference value is `raw`, in store
    /// `store_id`.
    ///
    /// `raw` must come from a slot, global, table or segment of that store (so it is the
    /// address of one of its records).
    pub(crate) fn from_raw(store_id: u64, raw: u64) -> Func {
        // SAFETY: the caller's contract (a reference value of a live store).
        let index = unsafe { crate::runtime::VMFuncRef::func_index_of(raw) };
        Func { store_id, index, raw }
    }

    /// A host function with a signature known only at run time. `f` receives the parameters
    /// and must fill `results` (pre-filled with zeros or nulls of the result types) with values
    /// of the result types; a value of another type fails the call with [`Error::Usage`].
    ///
    /// A signature that mentions a concrete (module-defined) type, such as `(ref $t)`, cannot
    /// be expressed outside its module: such a function can be called but cannot satisfy an
    /// import.
    ///
    /// ```
    /// use ward::{Engine, Func, FuncType, Store, Val, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let ty = FuncType::new([ValType::I64], [ValType::I64, ValType::I64]);
    /// let dup = Func::new(&mut store, ty, |_caller, params, results| {
    ///     results[0] = params[0];
    ///     results[1] = params[0];
    ///     Ok(())
    /// });
    /// let mut out = [Val::I64(0), Val::I64(0)];
    /// dup.call(&mut store, &[Val::I64(9)], &mut out)?;
    /// assert_eq!(out, [Val::I64(9), Val::I64(9)]);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        let store = store.as_context_mut().0;
        let (type_id, ty) = store.func_type_id(ty);
        let host = dynamic_host_func(ty.clone(), f);
        let index = store.push_host_func(type_id, ty, HostImpl::Sync(host));
        Func::of(&store.inner, index)
    }

    /// A host function from a Rust closure; the signature comes from the closure's types.
    ///
    /// Parameters and results may be `i32`, `u32`, `i64`, `u64`, `f32`, `f64`, `Option<Func>`
    /// (`funcref`) and `Option<ExternRef>` (`externref`); up to 16 parameters. The closure may
    /// take a [`Caller`] first. It may return nothing, one value, a tuple of values, or a
    /// [`Result`](crate::Result) of those: an `Err` ends the wasm computation with that error.
    ///
    /// ```
    /// use ward::{Caller, Engine, Func, Store, Trap};
    /// let mut store = Store::new(&Engine::default(), 10u64);
    /// let f = Func::wrap(&mut store, |caller: Caller<'_, u64>, x: u64| -> ward::Result<(u64, u64)> {
    ///     if x == 0 {
    ///         return Err(Trap::host("zero").into());
    ///     }
    ///     Ok((x, *caller.data() / x))
    /// });
    /// let typed = f.typed::<u64, (u64, u64)>(&store)?;
    /// assert_eq!(typed.call(&mut store, 5)?, (5, 2));
    /// assert!(typed.call(&mut store, 0).unwrap_err().to_string().contains("zero"));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let store = store.as_context_mut().0;
        let (ty, host) = f.into_func();
        let (type_id, ty) = store.func_type_id(ty);
        let index = store.push_host_func(type_id, ty, HostImpl::Sync(host));
        Func::of(&store.inner, index)
    }

    /// The function's type.
    ///
    /// ```
    /// use ward::{Engine, Func, Store, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let f = Func::wrap(&mut store, |x: f64| x as i64);
    /// let ty = f.ty(&store);
    /// assert_eq!(ty.params(), &[ValType::F64]);
    /// assert_eq!(ty.results(), &[ValType::I64]);
    /// ```
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let store = store.as_context().0;
        store.check(self.store_id);
        FuncType::clone(&store.inner.funcs[self.index as usize].ty)
    }

    /// Which tier runs the function when it is called from the host ([`Func::call`],
    /// [`TypedFunc::call`](crate::TypedFunc::call)): [`Tier::Native`](crate::Tier::Native) if
    /// its module was compiled natively. Meant for tests and diagnostics.
    #[doc(hidden)]
    pub fn tier(&self, store: impl AsContext) -> crate::Tier {
        let store = store.as_context().0;
        store.check(self.store_id);
        crate::native::func_tier(&store.inner, self.index)
    }

    /// Calls the function with dynamically typed arguments, writing its results to `results`.
    ///
    /// The number and types of `params` must match the function's parameters, and `results`
    /// must have one slot per result; otherwise the call fails with [`Error::Usage`] naming the
    /// problem (`expected 2 arguments, got 1`, `argument 0: expected i32, got i64`). A trap
    /// ends the call with [`Error::Trap`].
    ///
    /// ```
    /// use ward::{Engine, Func, Store, Val};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let f = Func::wrap(&mut store, |a: i32, b: i32| a - b);
    /// let mut out = [Val::I32(0)];
    /// let err = f.call(&mut store, &[Val::I32(1)], &mut out).unwrap_err();
    /// assert_eq!(err.to_string(), "expected 2 arguments, got 1");
    /// let err = f.call(&mut store, &[Val::I64(1), Val::I32(2)], &mut out).unwrap_err();
    /// assert_eq!(err.to_string(), "argument 0: expected i32, got i64");
    /// f.call(&mut store, &[Val::I32(5), Val::I32(2)], &mut out)?;
    /// assert_eq!(out[0].i32(), Some(3));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn call(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        let ty = store.inner.funcs[self.index as usize].ty.clone();
        let args = self.encode_params(store, &ty, params, results)?;
        let mut out = vec![0u64; ty.result_slots() as usize];
        call_raw(store, self.index, &args, &mut out)?;
        read_vals(ty.results(), &out, &store.inner, results);
        Ok(())
    }

    /// Checks `params` and the length of `results` against `ty` (this function's type) and
    /// encodes the parameters as slots.
    pub(crate) fn encode_params<T>(
        &self,
        store: &Store<T>,
        ty: &FuncType,
        params: &[Val],
        results: &[Val],
    ) -> Result<Vec<u64>> {
        check_count("argument", ty.params().len(), params.len())?;
        let args = encode_vals(store, "argument", ty.params(), params)?;
        if results.len() != ty.results().len() {
            return Err(Error::usage(format!(
                "expected a results buffer of length {}, got {}",
                ty.results().len(),
                results.len()
            )));
        }
        Ok(args)
    }
}

/// `Err(Usage)` unless `got == expected`, worded like `expected 2 arguments, got 1`.
pub(crate) fn check_count(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        return Ok(());
    }
    let s = if expected == 1 { "" } else { "s" };
    Err(Error::usage(format!("expected {expected} {what}{s}, got {got}")))
}

/// Encodes `vals` as consecutive slots, checking each against its type in `tys` (a mismatch is
/// a usage error naming `what` and the position, e.g. `argument 0: expected i32, got i64`).
pub(crate) fn encode_vals<T>(
    store: &Store<T>,
    what: &str,
    tys: &[ValType],
    vals: &[Val],
) -> Result<Vec<u64>> {
    let id = store.id();
    let mut slots = Vec::with_capacity(tys.iter().map(|t| t.slots() as usize).sum());
    for (i, (v, t)) in vals.iter().zip(tys).enumerate() {
        v.push_slots(id, &mut slots)?;
        if !val_matches(&store.inner, v, *t) {
            return Err(Error::usage(format!("{what} {i}: expected {t}, got {}", v.kind_type())));
        }
    }
    Ok(slots)
}

/// Decodes values of types `tys` from consecutive slots into `out`, for the host (exceptions
/// it receives are pinned).
pub(crate) fn read_vals(tys: &[ValType], slots: &[u64], store: &StoreInner, out: &mut [Val]) {
    let mut s = 0;
    for (t, o) in tys.iter().zip(out) {
        *o = Val::from_slots(*t, &slots[s..], store.id);
        super::externref::pin_handle(store, o);
        s += t.slots() as usize;
    }
}

/// The zero (or null) value of a type.
fn zero_of(t: ValType) -> Val {
    match t {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::V128 => Val::V128(0),
        ValType::Ref(r) => Val::null_of(r),
    }
}

/// Wraps a closure over `Val`s as a slot-level host function of type `ty`.
pub(crate) fn dynamic_host_func<T: 'static>(
    ty: Arc<FuncType>,
    f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
) -> HostFunc<T> {
    Arc::new(move |caller: Caller<'_, T>, slots: &mut [u64]| {
        let Caller { store, instance, can_park } = caller;
        let mut params = vec![Val::I32(0); ty.params().len()];
        read_vals(ty.params(), slots, &store.inner, &mut params);
        let mut results: Vec<Val> = ty.results().iter().map(|t| zero_of(*t)).collect();
        f(Caller { store: &mut *store, instance, can_park }, &params, &mut results)?;
        let out = encode_vals(store, "host function result", ty.results(), &results)?;
        slots[..out.len()].copy_from_slice(&out);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, ExternRef, Trap, TrapCode};

    #[test]
    fn call_checks_arguments() {
        let mut store = Store::new(&Engine::default(), ());
        let f = Func::wrap(&mut store, |a: i32, _b: i64| a);
        let mut out = [Val::I32(0)];
        let e = f.call(&mut store, &[], &mut out).unwrap_err();
        assert_eq!(e.to_string(), "expected 2 arguments, got 0");
        let e = f.call(&mut store, &[Val::I32(1), Val::I32(2)], &mut out).unwrap_err();
        assert_eq!(e.to_string(), "argument 1: expected i64, got i32");
        let e = f.call(&mut store, &[Val::I32(1), Val::I64(2)], &mut []).unwrap_err();
        assert!(e.to_string().contains("results buffer"), "{e}");
        f.call(&mut store, &[Val::I32(1), Val::I64(2)], &mut out).unwrap();
        assert_eq!(out[0], Val::I32(1));
        let g = Func::wrap(&mut store, |_: f32| {});
        let e = g.call(&mut store, &[], &mut []).unwrap_err();
        assert_eq!(e.to_string(), "expected 1 argument, got 0");
    }

    #[test]
    fn dynamic_host_funcs_check_results() {
        let mut store = Store::new(&Engine::default(), ());
        let ty = FuncType::new([], [ValType::I32]);
        let bad = Func::new(&mut store, ty.clone(), |_, _, r| {
            r[0] = Val::F64(0);
            Ok(())
        });
        let e = bad.call(&mut store, &[], &mut [Val::I32(0)]).unwrap_err();
        assert_eq!(e.to_string(), "host function result 0: expected i32, got f64");
        let zero = Func::new(&mut store, ty, |_, _, _| Ok(()));
        let mut out = [Val::I64(5)];
        zero.call(&mut store, &[], &mut out).unwrap();
        assert_eq!(out[0], Val::I32(0));
    }

    #[test]
    fn reference_arguments_are_type_checked() {
        let mut store = Store::new(&Engine::default(), ());
        let f = Func::wrap(&mut store, |r: Option<ExternRef>| r.is_some() as i32);
        let r = ExternRef::new(&mut store, ());
        let mut out = [Val::I32(0)];
        f.call(&mut store, &[Val::ExternRef(Some(r))], &mut out).unwrap();
        assert_eq!(out[0], Val::I32(1));
        f.call(&mut store, &[Val::ExternRef(None)], &mut out).unwrap();
        assert_eq!(out[0], Val::I32(0));
        let e = f.call(&mut store, &[Val::FuncRef(None)], &mut out).unwrap_err();
        assert!(e.to_string().starts_with("argument 0: expected (ref null extern)"), "{e}");
        // A reference from another store is refused, not misread.
        let mut other = Store::new(&Engine::default(), ());
        let foreign = ExternRef::new(&mut other, ());
        let e = f.call(&mut store, &[Val::ExternRef(Some(foreign))], &mut out).unwrap_err();
        assert!(e.to_string().contains("different store"), "{e}");
    }

    #[test]
    fn host_errors_propagate() {
        let mut store = Store::new(&Engine::default(), ());
        let f = Func::wrap(&mut store, || -> Result<()> { Err(Trap::host("nope").into()) });
        let e = f.call(&mut store, &[], &mut []).unwrap_err();
        assert_eq!(e.as_trap().unwrap().code(), TrapCode::HostError);
        let g = Func::wrap(&mut store, || -> Result<i32> { Err(Error::Exit(3)) });
        assert!(matches!(g.call(&mut store, &[], &mut [Val::I32(0)]), Err(Error::Exit(3))));
    }

    #[test]
    fn funcref_round_trip_through_host() {
        let mut store = Store::new(&Engine::default(), ());
        let id = Func::wrap(&mut store, |f: Option<Func>| f);
        let target = Func::wrap(&mut store, || 1i32);
        let mut out = [Val::FuncRef(None)];
        id.call(&mut store, &[Val::FuncRef(Some(target))], &mut out).unwrap();
        assert_eq!(out[0], Val::FuncRef(Some(target)));
    }

    #[test]
    #[should_panic(expected = "object used with the wrong store")]
    fn wrong_store_panics() {
        let mut a = Store::new(&Engine::default(), ());
        let mut b = Store::new(&Engine::default(), ());
        let f = Func::wrap(&mut a, || {});
        let _ = f.call(&mut b, &[], &mut []);
    }

    #[test]
    fn many_results_through_large_slot_buffer() {
        let mut store = Store::new(&Engine::default(), ());
        let ty = FuncType::new([], vec![ValType::V128; 9]);
        let f = Func::new(&mut store, ty, |_, _, r| {
            for (i, v) in r.iter_mut().enumerate() {
                *v = Val::V128(u128::MAX - i as u128);
            }
            Ok(())
        });
        let mut out = [Val::V128(0); 9];
        f.call(&mut store, &[], &mut out).unwrap();
        assert_eq!(out[8], Val::V128(u128::MAX - 8));
    }
}
