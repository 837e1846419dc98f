//! Component functions: `canon lift`ed core functions and host functions, the call path
//! between them (`Store.lift` / `canon_lift` / `canon_lower` of the spec, synchronous), and the
//! core functions made by `canon lower` and the `resource.*` built-ins.

use crate::abi::{
    core_bits, core_type, core_val, trap, Lifter, Lowerer, Options, Side, MAX_FLAT_PARAMS,
    MAX_FLAT_RESULTS,
};
use crate::error::Error;
use crate::resources::{next_id, Handle, InstanceState, ResourceType};
use crate::types::{flatten_all, Flat, FuncType};
use crate::values::Val;
use std::any::Any;
use std::fmt;
use std::sync::Arc;
use ward::{AsContextMut, StoreContextMut};

/// A host function as the linker keeps it.
pub(crate) type HostFn<T> =
    dyn Fn(StoreContextMut<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync;

/// A component function: exported by a component instance, or defined by the host.
///
/// ```
/// use ward_component::{Component, Linker, Val};
/// let engine = ward::Engine::default();
/// let component = Component::new(&engine, r#"(component
///   (core module $m (func (export "add") (param i32 i32) (result i32)
///     local.get 0 local.get 1 i32.add))
///   (core instance $i (instantiate $m))
///   (func (export "add") (param "a" u32) (param "b" u32) (result u32)
///     (canon lift (core func $i "add"))))"#)?;
/// let mut store = ward::Store::new(&engine, ());
/// let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
/// let add = instance.get_func("add").unwrap();
/// let mut out = [Val::U32(0)];
/// add.call(&mut store, &[Val::U32(2), Val::U32(40)], &mut out)?;
/// assert_eq!(out[0], Val::U32(42));
/// # Ok::<(), ward_component::Error>(())
/// ```
#[derive(Clone)]
pub struct Func(Arc<FuncInner>);

struct FuncInner {
    /// Known for lifted functions, and for host functions once imported at a declared type.
    ty: Option<FuncType>,
    kind: FuncKind,
}

#[derive(Clone)]
enum FuncKind {
    Lifted {
        core: ward::Func,
        opts: Options,
        inst: Arc<InstanceState>,
    },
    /// An `Arc<HostFn<T>>` for the store's `T`.
    Host(Arc<dyn Any + Send + Sync>),
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.kind {
            FuncKind::Lifted { .. } => "lifted",
            FuncKind::Host(_) => "host",
        };
        f.debug_struct("Func").field("kind", &kind).field("ty", &self.0.ty).finish()
    }
}

impl Func {
    pub(crate) fn lifted(
        core: ward::Func,
        opts: Options,
        inst: Arc<InstanceState>,
        ty: FuncType,
    ) -> Func {
        Func(Arc::new(FuncInner { ty: Some(ty), kind: FuncKind::Lifted { core, opts, inst } }))
    }

    pub(crate) fn host<T: 'static>(f: Arc<HostFn<T>>) -> Func {
        Func(Arc::new(FuncInner { ty: None, kind: FuncKind::Host(Arc::new(f)) }))
    }

    /// This function seen at type `ty` (a host function takes the type it is imported at).
    pub(crate) fn at_type(&self, ty: FuncType) -> Func {
        match &self.0.kind {
            FuncKind::Host(_) => {
                Func(Arc::new(FuncInner { ty: Some(ty), kind: self.0.kind.clone() }))
            }
            FuncKind::Lifted { .. } => self.clone(),
        }
    }

    pub(crate) fn is_host(&self) -> bool {
        matches!(self.0.kind, FuncKind::Host(_))
    }

    /// The function's type, if known (a host function not yet imported has none).
    pub fn ty(&self) -> Option<&FuncType> {
        self.0.ty.as_ref()
    }

    /// Calls the function with `params`, writing its results (zero or one) into `results`.
    /// Traps are [`Error::Wasm`]; values of the wrong type are [`Error::Usage`]-like errors.
    /// The function's `post-return`, if any, runs before this returns.
    pub fn call<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        if let Some(ty) = &self.0.ty {
            if params.len() != ty.params.len() {
                return Err(Error::Usage(format!(
                    "expected {} arguments, got {}",
                    ty.params.len(),
                    params.len()
                )));
            }
            let n = ty.result.is_some() as usize;
            if results.len() != n {
                return Err(Error::Usage(format!(
                    "expected a results buffer of length {n}, got {}",
                    results.len()
                )));
            }
        }
        let mut ctx = store.as_context_mut();
        let out = call_func(&mut ctx, self, None, params.to_vec())?;
        if out.len() != results.len() {
            return Err(Error::Usage(format!(
                "the function returned {} results, the buffer holds {}",
                out.len(),
                results.len()
            )));
        }
        for (slot, v) in results.iter_mut().zip(out) {
            *slot = v;
        }
        Ok(())
    }
}

/// Marks the instances a call enters and restores them when the call ends.
struct Entered(Vec<Arc<InstanceState>>);

impl Entered {
    fn enter(
        callee: &Arc<InstanceState>,
        caller: Option<&Arc<InstanceState>>,
    ) -> ward::Result<Entered> {
        let set = callee.entering_set(caller);
        if set.iter().any(|i| !i.may_enter()) {
            return Err(trap("cannot enter component instance"));
        }
        for i in &set {
            i.set_may_enter(false);
        }
        Ok(Entered(set))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        for i in &self.0 {
            i.set_may_enter(true);
        }
    }
}

/// The core types of the flat form of `tys`, or one pointer if they do not fit `max`.
fn flat_or_pointer(tys: &[crate::Type], max: usize) -> Vec<Flat> {
    flatten_all(tys, max).unwrap_or_else(|| vec![Flat::I32])
}

/// Calls `f` from `caller` (None: the host) with lifted arguments; returns its results.
pub(crate) fn call_func<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    f: &Func,
    caller: Option<&Arc<InstanceState>>,
    args: Vec<Val>,
) -> Result<Vec<Val>, Error> {
    match &f.0.kind {
        FuncKind::Host(any) => {
            let host = any.downcast_ref::<Arc<HostFn<T>>>().ok_or_else(|| {
                Error::Usage("host function used with a store of another data type".into())
            })?;
            let n = f.0.ty.as_ref().map_or(0, |t| t.result.is_some() as usize);
            let mut results: Vec<Val> = match f.0.ty.as_ref().and_then(|t| t.result.as_ref()) {
                Some(t) => vec![Val::placeholder(t)],
                None => Vec::with_capacity(n),
            };
            host(ctx.as_context_mut(), &args, &mut results)?;
            Ok(results)
        }
        FuncKind::Lifted { core, opts, inst } => {
            let ty = f.0.ty.as_ref().ok_or_else(|| Error::Usage("untyped function".into()))?;
            let _entered = Entered::enter(inst, caller)?;
            call_lifted(ctx, *core, opts, inst, ty, caller.is_none(), args).map_err(Error::Wasm)
        }
    }
}

/// `canon_lift`, synchronous: lower the arguments into the callee, call, lift the results,
/// check the borrows are gone, run `post-return`.
fn call_lifted<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    core: ward::Func,
    opts: &Options,
    inst: &Arc<InstanceState>,
    ty: &FuncType,
    from_host: bool,
    args: Vec<Val>,
) -> ward::Result<Vec<Val>> {
    let side = if from_host { Side::Host } else { Side::Guest };
    let task = next_id();
    let params = ty.param_types();
    let flat_args = {
        let mut lw = Lowerer { store: &mut *ctx, opts, inst, task, side };
        lw.lower_values(MAX_FLAT_PARAMS, &args, &params, None)?
    };
    let param_flat = flat_or_pointer(&params, MAX_FLAT_PARAMS);
    let core_args: Vec<ward::Val> =
        flat_args.iter().zip(&param_flat).map(|(b, t)| core_val(*t, *b)).collect();
    let core_ty = core.ty(&*ctx);
    let mut core_results: Vec<ward::Val> = core_ty
        .results()
        .iter()
        .map(|t| match t {
            ward::ValType::I64 => ward::Val::I64(0),
            ward::ValType::F32 => ward::Val::F32(0),
            ward::ValType::F64 => ward::Val::F64(0),
            _ => ward::Val::I32(0),
        })
        .collect();
    core.call(&mut *ctx, &core_args, &mut core_results)?;
    let results = ty.result_types();
    let flat: Vec<u64> = core_results.iter().map(core_bits).collect();
    let values = {
        let mem: &[u8] = match opts.memory {
            Some(m) => m.data(&*ctx),
            None => &[],
        };
        let mut lifter = Lifter { opts, inst, mem, side, lenders: Vec::new(), lifted: 0 };
        lifter.lift_values(MAX_FLAT_RESULTS, &flat, &results)?.0
    };
    inst.end_task(task)?;
    if let Some(post) = opts.post_return {
        inst.set_may_leave(false);
        let r = post.call(&mut *ctx, &core_results, &mut []);
        inst.set_may_leave(true);
        r?;
    }
    Ok(values)
}

/// `canon lower`: a core function that lifts its arguments out of `inst`, calls `callee`, and
/// lowers the results back.
pub(crate) fn lower<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    callee: Func,
    ty: FuncType,
    opts: Options,
    inst: Arc<InstanceState>,
) -> ward::Func {
    let params = ty.param_types();
    let results = ty.result_types();
    let mut core_params = flat_or_pointer(&params, MAX_FLAT_PARAMS);
    let core_results = match flatten_all(&results, MAX_FLAT_RESULTS) {
        Some(flat) => flat,
        None => {
            core_params.push(Flat::I32);
            Vec::new()
        }
    };
    let core_ty = ward::FuncType::new(
        core_params.iter().map(|t| core_type(*t)),
        core_results.iter().map(|t| core_type(*t)),
    );
    let callee = callee.at_type(ty);
    ward::Func::new(ctx.as_context_mut(), core_ty, move |mut caller, args, out| {
        inst.check_may_leave()?;
        let mut ctx = caller.as_context_mut();
        let flat: Vec<u64> = args.iter().map(core_bits).collect();
        let (vals, used, lenders) = {
            let mem: &[u8] = match opts.memory {
                Some(m) => m.data(&ctx),
                None => &[],
            };
            let mut lifter = Lifter {
                opts: &opts,
                inst: &inst,
                mem,
                side: Side::Guest,
                lenders: Vec::new(),
                lifted: 0,
            };
            let lifted = lifter.lift_values(MAX_FLAT_PARAMS, &flat, &params);
            let lenders = std::mem::take(&mut lifter.lenders);
            match lifted {
                Ok((vals, used)) => (vals, used, lenders),
                Err(e) => {
                    lenders.iter().for_each(|i| inst.unlend(*i));
                    return Err(e);
                }
            }
        };
        let out_param = core_results.is_empty() && !results.is_empty();
        let out_ptr = if out_param { flat.get(used).map(|p| *p as u32) } else { None };
        let called = call_func(&mut ctx, &callee, Some(&inst), vals);
        lenders.iter().for_each(|i| inst.unlend(*i));
        let vals = called.map_err(Error::into_wasm)?;
        let mut lw =
            Lowerer { store: &mut ctx, opts: &opts, inst: &inst, task: 0, side: Side::Guest };
        let flat_out = lw.lower_values(MAX_FLAT_RESULTS, &vals, &results, out_ptr)?;
        for ((slot, bits), t) in out.iter_mut().zip(flat_out).zip(&core_results) {
            *slot = core_val(*t, bits);
        }
        Ok(())
    })
}

fn i32_arg(args: &[ward::Val]) -> u32 {
    args.first().map_or(0, |v| core_bits(v) as u32)
}

/// A core function `(param i32) (result i32)` computed by `f`.
fn unary<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    f: impl Fn(u32) -> ward::Result<u32> + Send + Sync + 'static,
) -> ward::Func {
    let ty = ward::FuncType::new([ward::ValType::I32], [ward::ValType::I32]);
    ward::Func::new(ctx.as_context_mut(), ty, move |_, args, out| {
        out[0] = ward::Val::I32(f(i32_arg(args))? as i32);
        Ok(())
    })
}

/// `canon resource.new`.
pub(crate) fn resource_new<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    rt: ResourceType,
    inst: Arc<InstanceState>,
) -> ward::Func {
    unary(ctx, move |rep| {
        inst.check_may_leave()?;
        inst.add(Handle { ty: rt.clone(), rep, own: true, lends: 0, scope: None })
    })
}

/// `canon resource.rep`.
pub(crate) fn resource_rep<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    rt: ResourceType,
    inst: Arc<InstanceState>,
) -> ward::Func {
    unary(ctx, move |i| inst.rep(i, &rt))
}

/// `canon resource.drop`: removes the handle; dropping an owned guest resource runs its
/// destructor as a call into the implementing instance.
pub(crate) fn resource_drop<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    rt: ResourceType,
    inst: Arc<InstanceState>,
) -> ward::Func {
    let ty = ward::FuncType::new([ward::ValType::I32], []);
    ward::Func::new(ctx.as_context_mut(), ty, move |mut caller, args, _| {
        inst.check_may_leave()?;
        let h = inst.remove(i32_arg(args), &rt)?;
        if !h.own {
            return Ok(());
        }
        if let Some(drop) = rt.host_drop::<T>() {
            return drop(caller.as_context_mut(), h.rep).map_err(Error::into_wasm);
        }
        let Some(guest) = rt.guest_info() else { return Ok(()) };
        let (Some(dtor), Some(owner)) = (guest.dtor, guest.instance.upgrade()) else {
            return Ok(());
        };
        let _entered = Entered::enter(&owner, Some(&inst))?;
        dtor.call(&mut caller, &[ward::Val::I32(h.rep as i32)], &mut [])
    })
}
