//! Component functions: `canon lift`ed core functions and host functions, the call path
//! between them (`Store.lift` / `canon_lift` / `canon_lower` of the spec, synchronous), and the
//! core functions made by `canon lower` and the `resource.*` built-ins.

use crate::abi::{
    core_bits, core_type, core_val, trap, Lifter, Lowerer, Options, Side, MAX_FLAT_PARAMS,
    MAX_FLAT_RESULTS,
};
use crate::concurrent::{call_sync_lowered, LowerShape, SyncLower};
use crate::error::Error;
use crate::resources::{next_id, Handle, InstanceState, ResourceType};
use crate::types::{flatten_all, Flat, FuncType, Type};
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
    /// The flat shape of `ty`, computed with it (shared by every function of that type, see
    /// [`Sig`]).
    plan: Option<Arc<Plan>>,
    kind: FuncKind,
}

#[derive(Clone)]
enum FuncKind {
    Lifted(Lifted),
    /// An `Arc<HostFn<T>>` for the store's `T`.
    Host(Arc<dyn Any + Send + Sync>),
    /// A host function with Rust parameter and result types.
    TypedHost(Arc<TypedHost>),
}

/// A host function defined with Rust types ([`Linker::func_wrap`](crate::Linker::func_wrap)):
/// it lifts its parameters straight out of the caller's memory and lowers its result straight
/// into it.
pub(crate) struct TypedHost {
    /// An `Arc<TypedHostFn<T>>` for the store's `T`.
    pub(crate) f: Arc<dyn Any + Send + Sync>,
    /// Checks the Rust types against the type the function is imported at.
    pub(crate) check: fn(&FuncType) -> Result<(), String>,
}

/// The entry of a typed host function: the caller's store, the lowering's options and plan,
/// the core arguments (raw bits) and the core results to write.
pub(crate) type TypedHostFn<T> = dyn Fn(&mut StoreContextMut<'_, T>, &HostCall<'_>, &[u64], &mut [ward::Val]) -> ward::Result<()>
    + Send
    + Sync;

/// What a typed host function is called with, besides the store and the core values.
pub(crate) struct HostCall<'a> {
    pub(crate) opts: &'a Options,
    pub(crate) inst: &'a Arc<InstanceState>,
    pub(crate) plan: &'a Plan,
    /// The core result types of the `canon lower`ed function (empty when results spill).
    pub(crate) core_results: &'a [Flat],
}

/// A `canon lift`ed core function and what calling it needs.
#[derive(Clone)]
pub(crate) struct Lifted {
    core: ward::Func,
    opts: Options,
    inst: Arc<InstanceState>,
}

/// A function type together with its flat shape: what a function needs to be given a type.
/// Cheap to clone; a component's instantiations share them (`sig_cache.rs`).
#[derive(Clone)]
pub(crate) struct Sig {
    pub(crate) ty: FuncType,
    pub(crate) plan: Arc<Plan>,
}

impl Sig {
    pub(crate) fn new(ty: FuncType) -> Sig {
        Sig { plan: Arc::new(Plan::new(&ty)), ty }
    }
}

/// The flat shape of a function type (`flatten_functype` of the spec): what a call needs,
/// computed once when the function gets its type.
pub(crate) struct Plan {
    pub(crate) params: Box<[Type]>,
    pub(crate) results: Box<[Type]>,
    /// Core types of the parameters: flattened, or one pointer when they do not fit.
    pub(crate) core_params: Box<[Flat]>,
    pub(crate) params_spilled: bool,
    /// Core types of a lifted function's results: flattened, or one pointer.
    pub(crate) core_results: Box<[Flat]>,
    pub(crate) results_spilled: bool,
    /// Whether a parameter holds a `borrow`: only then does a call lend handles it must check
    /// at its end.
    pub(crate) borrows: bool,
    /// The function type is `async`.
    pub(crate) is_async: bool,
}

impl Plan {
    pub(crate) fn new(ty: &FuncType) -> Plan {
        let params: Box<[Type]> = ty.param_types().into();
        let results: Box<[Type]> = ty.result_types().into();
        let flat_params = flatten_all(&params, MAX_FLAT_PARAMS);
        let flat_results = flatten_all(&results, MAX_FLAT_RESULTS);
        Plan {
            params_spilled: flat_params.is_none(),
            core_params: flat_params.unwrap_or_else(|| vec![Flat::I32]).into(),
            results_spilled: flat_results.is_none(),
            core_results: flat_results.unwrap_or_else(|| vec![Flat::I32]).into(),
            borrows: params.iter().any(Type::has_borrow),
            is_async: ty.is_async,
            params,
            results,
        }
    }
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.kind {
            FuncKind::Lifted(_) => "lifted",
            FuncKind::Host(_) => "host",
            FuncKind::TypedHost(_) => "typed host",
        };
        f.debug_struct("Func").field("kind", &kind).field("ty", &self.0.ty).finish()
    }
}

impl Func {
    pub(crate) fn lifted(
        core: ward::Func,
        opts: Options,
        inst: Arc<InstanceState>,
        sig: Sig,
    ) -> Func {
        Func(Arc::new(FuncInner {
            plan: Some(sig.plan),
            ty: Some(sig.ty),
            kind: FuncKind::Lifted(Lifted { core, opts, inst }),
        }))
    }

    pub(crate) fn host<T: 'static>(f: Arc<HostFn<T>>) -> Func {
        Func(Arc::new(FuncInner { ty: None, plan: None, kind: FuncKind::Host(Arc::new(f)) }))
    }

    pub(crate) fn typed_host(host: TypedHost) -> Func {
        Func(Arc::new(FuncInner {
            ty: None,
            plan: None,
            kind: FuncKind::TypedHost(Arc::new(host)),
        }))
    }

    /// This function seen at type `ty` (a host function takes the type it is imported at; a
    /// typed one checks its Rust types against it, and the error says what does not match).
    pub(crate) fn at_type(&self, sig: Sig) -> Result<Func, String> {
        match &self.0.kind {
            FuncKind::Host(_) | FuncKind::TypedHost(_) => {
                if let FuncKind::TypedHost(h) = &self.0.kind {
                    (h.check)(&sig.ty)?;
                }
                Ok(Func(Arc::new(FuncInner {
                    plan: Some(sig.plan),
                    ty: Some(sig.ty),
                    kind: self.0.kind.clone(),
                })))
            }
            FuncKind::Lifted(_) => Ok(self.clone()),
        }
    }

    /// The scheduler of the instance a lifted function belongs to.
    pub(crate) fn sched(&self) -> Option<Arc<crate::concurrent::Sched>> {
        self.lifted_inst().map(|i| i.sched.clone())
    }

    /// A lifted function's core function, options and plan.
    pub(crate) fn lifted_parts(&self) -> Option<(ward::Func, &Options, &Plan)> {
        match (&self.0.kind, &self.0.plan) {
            (FuncKind::Lifted(l), Some(plan)) => Some((l.core, &l.opts, &**plan)),
            _ => None,
        }
    }

    /// A lifted function's options.
    pub(crate) fn lifted_opts(&self) -> Option<&Options> {
        match &self.0.kind {
            FuncKind::Lifted(l) => Some(&l.opts),
            _ => None,
        }
    }

    /// The instance a lifted function belongs to.
    pub(crate) fn lifted_inst(&self) -> Option<Arc<InstanceState>> {
        match &self.0.kind {
            FuncKind::Lifted(l) => Some(l.inst.clone()),
            _ => None,
        }
    }

    pub(crate) fn is_host(&self) -> bool {
        matches!(self.0.kind, FuncKind::Host(_) | FuncKind::TypedHost(_))
    }

    /// The function's type, if known (a host function not yet imported has none).
    pub fn ty(&self) -> Option<&FuncType> {
        self.0.ty.as_ref()
    }

    /// The function's flat shape, if it has a type.
    #[cfg(test)]
    pub(crate) fn plan(&self) -> Option<&Arc<Plan>> {
        self.0.plan.as_ref()
    }

    /// The lifted function and its plan, for typed calls.
    pub(crate) fn as_lifted(&self) -> Option<(&Lifted, &Plan)> {
        match (&self.0.kind, &self.0.plan) {
            (FuncKind::Lifted(l), Some(plan)) => Some((l, &**plan)),
            _ => None,
        }
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
        let out = call_func(&mut ctx, self, None, params)?;
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

/// Marks the instances a call enters (the callee and its ancestors, less the caller's) and
/// restores them when the call ends. Walks the parent chains rather than collecting them, so
/// entering allocates nothing.
pub(crate) struct Entered<'a> {
    callee: &'a Arc<InstanceState>,
    caller: Option<&'a Arc<InstanceState>>,
}

impl<'a> Entered<'a> {
    pub(crate) fn enter(
        callee: &'a Arc<InstanceState>,
        caller: Option<&'a Arc<InstanceState>>,
    ) -> ward::Result<Entered<'a>> {
        let entered = Entered { callee, caller };
        let mut blocked = false;
        entered.each(|i| blocked |= !i.may_enter());
        if blocked {
            return Err(trap("cannot enter component instance"));
        }
        entered.each(|i| i.set_may_enter(false));
        Ok(entered)
    }

    /// Enters `callee` for a call of one of its functions from `caller`: as [`enter`], and a
    /// component may call its siblings (and their children), never its own ancestors or
    /// descendants, whose instances are already on the stack.
    ///
    /// [`enter`]: Entered::enter
    pub(crate) fn enter_call(
        callee: &'a Arc<InstanceState>,
        caller: Option<&'a Arc<InstanceState>>,
    ) -> ward::Result<Entered<'a>> {
        if let Some(c) = caller {
            if c.is_self_or_ancestor(callee.id) || callee.is_self_or_ancestor(c.id) {
                return Err(trap("cannot enter component instance"));
            }
        }
        Entered::enter(callee, caller)
    }

    /// A trap leaves the instances it unwound through unenterable (the spec's trap poisons
    /// them): their `may_enter` stays cleared.
    pub(crate) fn poison(self) {
        std::mem::forget(self);
    }

    /// Runs `f` on every instance the call enters.
    fn each(&self, mut f: impl FnMut(&InstanceState)) {
        let mut cur = Some(&**self.callee);
        while let Some(i) = cur {
            if !self.caller.is_some_and(|c| c.is_self_or_ancestor(i.id)) {
                f(i);
            }
            cur = i.parent.as_deref();
        }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.each(|i| i.set_may_enter(true));
    }
}

/// The flat core values (raw bits: `i32` and `f32` zero-extended) a call's parameters are
/// lowered into, as [`Lower::lower`](crate::Lower::lower) appends them: at most 16.
pub struct FlatValues {
    vals: [u64; MAX_FLAT_PARAMS],
    len: usize,
}

impl FlatValues {
    pub(crate) fn new() -> FlatValues {
        FlatValues { vals: [0; MAX_FLAT_PARAMS], len: 0 }
    }

    /// Appends a value; beyond the capacity values are counted but dropped (the call then
    /// fails).
    pub fn push(&mut self, v: u64) {
        if let Some(slot) = self.vals.get_mut(self.len) {
            *slot = v;
        }
        self.len += 1;
    }

    /// Appends zeros up to `len` values (a variant's unused payload slots).
    pub fn pad_to(&mut self, len: usize) {
        while self.len < len {
            self.push(0);
        }
    }

    /// How many values have been appended.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value has been appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn values(&self) -> ward::Result<&[u64]> {
        self.vals
            .get(..self.len)
            .ok_or_else(|| ward::Error::Usage("too many flat values for a call".into()))
    }
}

/// `canon_lift`, synchronous, for a call from `caller` (None: the host): enters the instance,
/// lowers the arguments with `lower` (into flat values, or memory it allocates), calls the core
/// function, lifts the results with `lift`, checks the call's borrows are gone, runs
/// `post-return`. The dynamic and typed calls share it.
pub(crate) fn call_lifted<T: 'static, R>(
    ctx: &mut StoreContextMut<'_, T>,
    lifted: &Lifted,
    plan: &Plan,
    caller: Option<&Arc<InstanceState>>,
    lower: impl FnOnce(&mut Lowerer<'_, '_, T>, &mut FlatValues) -> ward::Result<()>,
    lift: impl FnOnce(&mut Lifter<'_>, &[u64]) -> ward::Result<R>,
) -> ward::Result<R> {
    let entered = Entered::enter_call(&lifted.inst, caller)?;
    let r = call_entered(ctx, lifted, plan, caller, lower, lift);
    if matches!(r, Err(ward::Error::Trap(_))) {
        entered.poison();
    }
    r
}

/// [`call_lifted`] once the instance is entered.
fn call_entered<T: 'static, R>(
    ctx: &mut StoreContextMut<'_, T>,
    lifted: &Lifted,
    plan: &Plan,
    caller: Option<&Arc<InstanceState>>,
    lower: impl FnOnce(&mut Lowerer<'_, '_, T>, &mut FlatValues) -> ward::Result<()>,
    lift: impl FnOnce(&mut Lifter<'_>, &[u64]) -> ward::Result<R>,
) -> ward::Result<R> {
    let Lifted { core, opts, inst } = lifted;
    let side = if caller.is_none() { Side::Host } else { Side::Guest };
    let task = if plan.borrows { next_id() } else { 0 };
    let current = crate::concurrent::Task::sync(inst, plan.is_async, task);
    let _current = crate::concurrent::Current::enter(&current);
    let mut flat = FlatValues::new();
    {
        let mut lw = Lowerer::new(&mut *ctx, opts, inst, task, side);
        lower(&mut lw, &mut flat)?;
    }
    let args = flat.values()?;
    if args.len() != plan.core_params.len() {
        return Err(ward::Error::Usage(format!(
            "lowered {} core values, the core function takes {}",
            args.len(),
            plan.core_params.len()
        )));
    }
    let mut core_args = [ward::Val::I32(0); MAX_FLAT_PARAMS];
    for ((slot, t), bits) in core_args.iter_mut().zip(plan.core_params.iter()).zip(args) {
        *slot = core_val(*t, *bits);
    }
    let mut core_results = [ward::Val::I32(0); MAX_FLAT_RESULTS];
    let n_results = plan.core_results.len().min(MAX_FLAT_RESULTS);
    core.call(&mut *ctx, &core_args[..args.len()], &mut core_results[..n_results])?;
    let mut flat_results = [0u64; MAX_FLAT_RESULTS];
    for (bits, v) in flat_results.iter_mut().zip(&core_results[..n_results]) {
        *bits = core_bits(v);
    }
    let values = {
        let mem: &[u8] = match opts.memory {
            Some(m) => m.data(&*ctx),
            None => &[],
        };
        let mut lifter = Lifter { opts, inst, mem, side, lenders: Vec::new(), lifted: 0 };
        lift(&mut lifter, &flat_results[..n_results])?
    };
    if plan.borrows {
        inst.end_task(task)?;
    }
    if let Some(post) = opts.post_return {
        inst.set_may_leave(false);
        let r = post.call(&mut *ctx, &core_results[..n_results], &mut []);
        inst.set_may_leave(true);
        r?;
    }
    current.release_thread();
    Ok(values)
}

/// Calls `f` from `caller` (None: the host) with lifted arguments; returns its results.
pub(crate) fn call_func<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    f: &Func,
    caller: Option<&Arc<InstanceState>>,
    args: &[Val],
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
            host(ctx.as_context_mut(), args, &mut results)?;
            Ok(results)
        }
        FuncKind::TypedHost(_) => Err(Error::Unsupported(
            "calling a host function defined with `func_wrap` with dynamic values; \
             components call it through their imports"
                .into(),
        )),
        FuncKind::Lifted(lifted) if lifted.opts.is_async => {
            crate::concurrent::call_sync(ctx, f, caller, args.to_vec()).map_err(Error::Wasm)
        }
        FuncKind::Lifted(lifted) => {
            let plan = f.0.plan.as_ref().ok_or_else(|| Error::Usage("untyped function".into()))?;
            let lower = |lw: &mut Lowerer<'_, '_, T>, out: &mut FlatValues| {
                for bits in lw.lower_values(plan.params_spilled, args, &plan.params, None)? {
                    out.push(bits);
                }
                Ok(())
            };
            let lift = |lf: &mut Lifter<'_>, flat: &[u64]| {
                Ok(lf.lift_values(plan.results_spilled, flat, &plan.results)?.0)
            };
            call_lifted(ctx, lifted, plan, caller, lower, lift).map_err(Error::Wasm)
        }
    }
}

/// `canon lower`: a core function that lifts its arguments out of `inst`, calls `callee`, and
/// lowers the results back. A typed host function lifts and lowers them itself.
pub(crate) fn lower<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    callee: Func,
    sig: Sig,
    opts: Options,
    inst: Arc<InstanceState>,
) -> Result<ward::Func, String> {
    if opts.is_async {
        return crate::concurrent::lower_async(ctx, callee, sig, opts, inst);
    }
    let plan = sig.plan.clone();
    let mut core_params = plan.core_params.to_vec();
    let core_results = if plan.results_spilled {
        core_params.push(Flat::I32);
        Vec::new()
    } else {
        plan.core_results.to_vec()
    };
    let core_ty = ward::FuncType::new(
        core_params.iter().map(|t| core_type(*t)),
        core_results.iter().map(|t| core_type(*t)),
    );
    let ty_is_async = sig.ty.is_async;
    let callee = callee.at_type(sig)?;
    let typed_host = match &callee.0.kind {
        FuncKind::TypedHost(h) => Some(h.f.clone()),
        _ => None,
    };
    let callee_async = ty_is_async;
    let async_lift = callee.lifted_opts().is_some_and(|o| o.is_async);
    let shape = Arc::new(LowerShape {
        opts: opts.clone(),
        results: plan.results.clone(),
        spilled: plan.results_spilled,
        core_results: core_results.clone(),
    });
    Ok(ward::Func::new(ctx.as_context_mut(), core_ty, move |mut caller, args, out| {
        inst.check_may_leave()?;
        if callee_async {
            crate::concurrent::check_block(&inst)?;
        }
        let can_park = caller.can_park();
        let mut ctx = caller.as_context_mut();
        if let Some(f) = &typed_host {
            let f = f
                .downcast_ref::<Arc<TypedHostFn<T>>>()
                .ok_or_else(|| trap("host function used with a store of another data type"))?;
            let mut flat = [0u64; MAX_FLAT_PARAMS + 1];
            for (bits, v) in flat.iter_mut().zip(args) {
                *bits = core_bits(v);
            }
            let n = args.len().min(flat.len());
            let call =
                HostCall { opts: &opts, inst: &inst, plan: &plan, core_results: &core_results };
            return f(&mut ctx, &call, &flat[..n], out);
        }
        let flat: Vec<u64> = args.iter().map(core_bits).collect();
        let (vals, used, lenders) = {
            let mem: &[u8] = match opts.memory {
                Some(m) => m.data(&ctx),
                None => &[],
            };
            Lifter::lift_guest_args(&opts, &inst, mem, plan.params_spilled, &flat, &plan.params)?
        };
        let out_ptr = if plan.results_spilled { flat.get(used).map(|p| *p as u32) } else { None };
        let core = if async_lift {
            // The callee may not return at once: the caller's task then blocks (parks).
            let lower = SyncLower { shape: shape.clone(), out_ptr, lenders };
            call_sync_lowered(&mut ctx, &callee, &inst, vals, lower, can_park)?
        } else {
            let called = call_func(&mut ctx, &callee, Some(&inst), &vals);
            lenders.iter().for_each(|i| inst.unlend(*i));
            let vals = called.map_err(Error::into_wasm)?;
            let lower = SyncLower { shape: shape.clone(), out_ptr, lenders: Vec::new() };
            lower.finish(&mut ctx, &inst, &vals)?
        };
        for (slot, v) in out.iter_mut().zip(core) {
            *slot = v;
        }
        Ok(())
    }))
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
