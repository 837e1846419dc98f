//! Whole-module compilation (every defined function, then one array-call trampoline per
//! signature), linking into executable memory, and filling instances' records.

use super::catch::{CatchTable, Entry, Site};
use super::code::CodeMemory;
use super::signals::{self, CodeInfo, Registration};
use super::translate::{self, ModuleCx, Unsupported, FUNC_NAMESPACE, LIBCALL_NAMESPACE};
use super::{libcalls, LibcallReloc, NativeImage};
use crate::engine::MemoryStrategy;
use crate::module::ModuleInner;
use crate::runtime::vmctx::{VMContextBox, VMCounts, VMOffsets};
use crate::types::FuncType;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::ExternalName;
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{
    Context, ExceptionContextLoc, FinalizedMachExceptionHandler, FinalizedRelocTarget,
};
use cranelift_frontend::FunctionBuilderContext;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The largest native frame a module may have (bytes); a function with a larger one makes the
/// module fall back. Native calls keep room for the largest frame of the store's code below
/// their stack limit (`stack::reserve`), so this bounds what they keep.
pub(super) const MAX_FRAME: u32 = 1 << 20;

/// A module's native code.
pub(super) struct CompiledModule {
    /// The code's entry in the fault handler's registry (`None` without unchecked accesses);
    /// declared before `code`, so it is removed before the code is unmapped.
    _registration: Option<Registration>,
    code: CodeMemory,
    /// Length of the linked image at the start of `code`.
    len: usize,
    /// Offset of each defined function's entry in `code`.
    funcs: Box<[u32]>,
    /// Offset of the array-call trampoline of each defined function's signature.
    trampolines: Box<[u32]>,
    /// Where the code holds the address of a runtime call (written when it was mapped).
    relocs: Box<[LibcallReloc]>,
    /// Offsets of the unchecked memory accesses, sorted (see `signals`).
    trap_sites: Box<[u32]>,
    /// Where the handlers of calls inside `try_table`s are (see `unwind`).
    catches: CatchTable,
    /// Offset of the first trampoline: code before it is the module's functions'.
    functions_end: u32,
    /// The largest frame of the code (bytes).
    max_frame: u32,
}

impl CompiledModule {
    /// Maps a linked image (with its runtime call addresses left out) as code, after checking
    /// that every offset in it lies inside the image.
    pub(super) fn load(
        image: NativeImage<'_>,
        functions: usize,
        tags: usize,
    ) -> Result<Self, String> {
        let len = image.code.len();
        if image.funcs.len() != functions || image.trampolines.len() != functions {
            return Err(format!(
                "it has native code for {} functions and {} trampolines; the module defines {functions}",
                image.funcs.len(),
                image.trampolines.len()
            ));
        }
        if let Some(o) = image.funcs.iter().chain(&image.trampolines).find(|o| **o as usize >= len)
        {
            return Err(format!("a function entry at {o:#x} lies outside its {len} bytes of code"));
        }
        for r in &image.relocs {
            if r.offset as usize + 8 > len || r.libcall as usize >= libcalls::COUNT {
                return Err(format!(
                    "a relocation at {:#x} (runtime call {}) is out of range",
                    r.offset, r.libcall
                ));
            }
        }
        if let Some(o) = image.trap_sites.iter().find(|o| **o as usize >= len) {
            return Err(format!("a trap site at {o:#x} lies outside its {len} bytes of code"));
        }
        if image.max_frame > MAX_FRAME {
            return Err(format!("it claims a native frame of {} bytes", image.max_frame));
        }
        if !image.trap_sites.is_sorted() {
            return Err("its trap sites are not in order".into());
        }
        let catches = CatchTable::decode(&image.catches, len, tags)?;
        let code = CodeMemory::new(&image.code, &image.relocs)?;
        let start = code.at(0) as usize;
        let trap_sites: Box<[u32]> = image.trap_sites.into();
        let functions_end = functions_end(&image.trampolines, len);
        let registration = signals::register(CodeInfo {
            start,
            end: start + len,
            trap_sites: trap_sites.to_vec(),
        });
        Ok(CompiledModule {
            _registration: registration,
            code,
            len,
            funcs: image.funcs.into(),
            trampolines: image.trampolines.into(),
            relocs: image.relocs.into(),
            trap_sites,
            catches,
            functions_end,
            max_frame: image.max_frame,
        })
    }

    /// The largest frame of the code, in bytes.
    pub(super) fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// Tells profilers where `m`'s functions are, if the engine asks for it.
    pub(super) fn announce(&self, m: &ModuleInner) {
        if !m.engine.config().native_perf_map {
            return;
        }
        let module = m.name.as_deref().unwrap_or("wasm");
        let first = m.num_imported_funcs;
        super::perf_map::record(self.code.at(0) as usize, self.len, &self.funcs, |i| {
            let func = first + i as u32;
            match m.func_name(func) {
                Some(name) => format!("{module}!{name}"),
                None => format!("{module}!func[{func}]"),
            }
        });
    }

    /// The defined function (index among the module's defined functions) whose code holds
    /// address `pc`, if this module's code does.
    pub(super) fn func_at(&self, pc: usize) -> Option<u32> {
        let offset = self.offset_of(pc)?;
        let after = self.funcs.partition_point(|f| *f <= offset);
        // Trampolines follow the functions; a PC past the last function's code is in one, which
        // never accesses memory, so the last function is as good an answer as any there.
        (after > 0 && (offset as usize) < self.len).then(|| after as u32 - 1)
    }

    /// The defined function whose code holds return address `pc`, if a wasm function of this
    /// module's does (not a trampoline).
    pub(super) fn wasm_func_at(&self, pc: usize) -> Option<u32> {
        let offset = self.offset_of(pc)?;
        if offset > self.functions_end {
            return None;
        }
        let after = self.funcs.partition_point(|f| *f < offset);
        (after > 0).then(|| after as u32 - 1)
    }

    /// The handlers of the call whose return address is `pc`, if it has any.
    pub(super) fn catch_site(&self, pc: usize) -> Option<&Site> {
        self.catches.site(self.offset_of(pc)?)
    }

    /// The offset in the code of address `pc`, if `pc` is not below the code (nor 4 GiB past).
    fn offset_of(&self, pc: usize) -> Option<u32> {
        u32::try_from(pc.checked_sub(self.code.at(0) as usize)?).ok()
    }

    /// What the catch table's entries stand for.
    pub(super) fn catch_entries(&self) -> &[Entry] {
        &self.catches.entries
    }

    /// The address of offset `at` of the code.
    pub(super) fn address(&self, at: u32) -> usize {
        self.code.at(at) as usize
    }

    /// The linked image as [`CompiledModule::load`] takes it: the runtime call addresses of this
    /// process zeroed, so that the bytes mean the same in any process.
    pub(super) fn image(&self) -> NativeImage<'static> {
        let mut code = self.code.bytes(self.len).to_vec();
        for r in self.relocs.iter() {
            code[r.offset as usize..r.offset as usize + 8].fill(0);
        }
        NativeImage {
            code: code.into(),
            funcs: self.funcs.to_vec(),
            trampolines: self.trampolines.to_vec(),
            relocs: self.relocs.to_vec(),
            trap_sites: self.trap_sites.to_vec(),
            max_frame: self.max_frame,
            catches: self.catches.encode(),
        }
    }

    /// Points the records of the defined functions in `vmctx` at their native code.
    pub(super) fn attach(&self, vmctx: &mut VMContextBox) {
        for (i, (entry, tramp)) in self.funcs.iter().zip(self.trampolines.iter()).enumerate() {
            vmctx.set_native_entries(i as u32, self.code.at(*entry), self.code.at(*tramp));
        }
    }
}

/// Where the module's functions end in code of `len` bytes: at its first trampoline (they
/// follow the functions), or the end if there is none.
fn functions_end(trampolines: &[u32], len: usize) -> u32 {
    trampolines.iter().copied().min().unwrap_or(len as u32)
}

/// Above this many locals plus operand-stack values, a function is register-allocated with
/// Cranelift's single-pass allocator: the default (backtracking) one takes time quadratic in the
/// number of values live at once, and a guest controls that number (2,000 values live across a
/// call take seconds, 3,000 half a minute). The single-pass allocator is linear, its code slower.
const QUICK_ALLOCATION_ABOVE: usize = 400;

/// Above this many, even the single-pass allocator (and SSA construction) become slow: its work
/// grows with branches times live values, and every bounds check is a branch. Such a function
/// makes the module fall back to the interpreter, whose translation is linear.
const MAX_PRESSURE: usize = 2_000;

/// The code generator for this machine, built once per process: with the backtracking register
/// allocator (`quick: false`) or the single-pass one.
fn isa(quick: bool) -> std::result::Result<&'static dyn TargetIsa, Unsupported> {
    static ISA: OnceLock<std::result::Result<OwnedTargetIsa, String>> = OnceLock::new();
    static QUICK: OnceLock<std::result::Result<OwnedTargetIsa, String>> = OnceLock::new();
    let cell = if quick { &QUICK } else { &ISA };
    cell.get_or_init(|| build_isa(quick)).as_ref().map(|isa| &**isa).map_err(Clone::clone)
}

fn build_isa(quick: bool) -> std::result::Result<OwnedTargetIsa, String> {
    if !cfg!(target_arch = "x86_64") {
        return Err("the native tier supports x86-64 only for now".into());
    }
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v).map_err(|e| format!("cranelift setting {k}={v}: {e}"))
    };
    set(&mut flags, "opt_level", "speed")?;
    if quick {
        set(&mut flags, "regalloc_algorithm", "single_pass")?;
    }
    set(&mut flags, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
    // Frames larger than a page touch each page in order, so even a frame that the stack
    // limit check would not catch hits the guard page instead of jumping past it.
    set(&mut flags, "enable_probestack", "true")?;
    set(&mut flags, "probestack_strategy", "inline")?;
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(&mut flags, "unwind_info", "false")?;
    let builder = cranelift_native::builder().map_err(|e| format!("cranelift: {e}"))?;
    let isa = builder.finish(settings::Flags::new(flags)).map_err(|e| format!("cranelift: {e}"))?;
    // Rounding instructions (`ceil`, `nearest`, ...) would otherwise be library calls.
    let sse41 = isa.isa_flags().iter().any(|f| f.name == "has_sse41" && f.as_bool() == Some(true));
    if !sse41 {
        return Err("the native tier needs SSE4.1".into());
    }
    Ok(isa)
}

/// The target triple of the code generator and the CPU features it enabled (from what this
/// host has), by Cranelift's names.
pub(super) fn host_target() -> Result<(String, Vec<String>), String> {
    let isa = isa(false)?;
    let features = isa
        .isa_flags()
        .iter()
        .filter(|f| f.as_bool() == Some(true))
        .map(|f| f.name.to_string())
        .collect();
    Ok((isa.triple().to_string(), features))
}

/// Whether the module as a whole is in the native tier's subset (operators are checked as
/// functions are translated).
fn check_module(m: &ModuleInner) -> std::result::Result<(), Unsupported> {
    if m.uses_gc_types() {
        return Err("it uses garbage collection (struct or array types)".into());
    }
    Ok(())
}

/// One compiled function before linking.
struct Compiled {
    bytes: Vec<u8>,
    align: u32,
    /// `(offset in bytes, target module function, addend)` of each call to a module function.
    calls: Vec<(u32, u32, i64)>,
    /// Where the code holds the address of a runtime call, relative to the function.
    libcalls: Vec<LibcallReloc>,
    /// Offsets of the unchecked memory accesses (trap sites the fault handler knows).
    trap_sites: Vec<u32>,
    /// The calls with handlers, relative to the function, their entries indexing `entries`.
    catch_sites: Vec<Site>,
    /// The function's catch entries (see `catch`).
    entries: Vec<Entry>,
    /// The size of its frame (bytes).
    frame: u32,
}

fn compile_one(
    ctx: &mut Context,
    isa: &dyn TargetIsa,
    func: cranelift_codegen::ir::Function,
) -> std::result::Result<Compiled, Unsupported> {
    ctx.clear();
    ctx.func = func;
    // `WARD_DUMP_NATIVE=1` prints each function's IR, `=asm` its machine code as well.
    let dump = std::env::var_os("WARD_DUMP_NATIVE");
    if dump.as_ref().is_some_and(|d| d != "bin") {
        eprintln!("{}", ctx.func.display());
    }
    let asm = dump.as_ref().is_some_and(|d| d == "asm");
    ctx.set_disasm(asm);
    let name = ctx.func.name.to_string();
    let code = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| format!("cranelift could not compile {name}: {:?}", e.inner))?;
    if let Some(text) = code.vcode.as_ref().filter(|_| asm) {
        eprintln!("{text}");
    }
    let frame = code.buffer.frame_layout().map_or(0, |l| l.frame_to_fp_offset) + 16;
    if frame > MAX_FRAME {
        return Err(format!("{name} needs a native frame of {frame} bytes"));
    }
    let bytes = code.code_buffer().to_vec();
    // `WARD_DUMP_NATIVE=bin` writes each function's code to `/tmp/ward-native-<name>.bin`, for
    // `objdump -b binary -m i386:x86-64 -D` beside a `perf` profile taken with `--profile perfmap`.
    if dump.as_ref().is_some_and(|d| d == "bin") {
        let file = std::env::temp_dir().join(format!("ward-native-{name}.bin"));
        if let Err(e) = std::fs::write(&file, &bytes) {
            eprintln!("WARD_DUMP_NATIVE: cannot write {}: {e}", file.display());
        }
    }
    let align = code.buffer.alignment.max(16);
    let relocs = code.buffer.relocs().to_vec();
    let trap_sites: Vec<u32> = code
        .buffer
        .traps()
        .iter()
        .filter(|t| t.code == cranelift_codegen::ir::TrapCode::HEAP_OUT_OF_BOUNDS)
        .map(|t| t.offset)
        .collect();
    let mut catch_sites = Vec::new();
    for site in code.buffer.call_sites() {
        if site.exception_handlers.is_empty() {
            continue;
        }
        let mut context = None;
        let mut handlers = Vec::new();
        for h in site.exception_handlers {
            match h {
                FinalizedMachExceptionHandler::Context(ExceptionContextLoc::SPOffset(o)) => {
                    context = Some(*o)
                }
                FinalizedMachExceptionHandler::Tag(tag, at) => handlers.push((tag.as_u32(), *at)),
                other => return Err(format!("{name}: unexpected exception handler {other:?}")),
            }
        }
        let (Some(context), Some(frame)) = (context, site.frame_offset) else {
            return Err(format!("{name}: a call with handlers has no frame or context slot"));
        };
        catch_sites.push(Site { ret: site.ret_addr, frame, context, handlers });
    }
    let mut calls = Vec::new();
    let mut libcalls = Vec::new();
    for r in &relocs {
        let user = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(n)) => {
                Some(&ctx.func.params.user_named_funcs()[*n])
            }
            _ => None,
        };
        match (&r.kind, user) {
            (Reloc::X86CallPCRel4, Some(u)) if u.namespace == FUNC_NAMESPACE => {
                calls.push((r.offset, u.index, r.addend))
            }
            (Reloc::Abs8, Some(u)) if u.namespace == LIBCALL_NAMESPACE => {
                libcalls.push(LibcallReloc { offset: r.offset, libcall: u.index, addend: r.addend })
            }
            _ => return Err(format!("{name}: unexpected relocation {:?}", r.kind)),
        }
    }
    Ok(Compiled {
        bytes,
        align,
        calls,
        libcalls,
        trap_sites,
        catch_sites,
        entries: Vec::new(),
        frame,
    })
}

/// Code sections smaller than this are compiled on the calling thread: starting threads costs
/// more than it saves.
const PARALLEL_MIN_BYTES: usize = 32 << 10;

/// At most this many threads compile one module.
const MAX_THREADS: usize = 16;

/// Translates and compiles defined function `def` (0-based among the defined ones).
fn compile_function(
    cx: &ModuleCx<'_>,
    isa: &'static dyn TargetIsa,
    def: u32,
    fctx: &mut FunctionBuilderContext,
    ctx: &mut Context,
) -> Result<Compiled, Unsupported> {
    let func = cx.module.num_imported_funcs + def;
    let (ir, pressure, entries) = translate::translate(cx, func, fctx)?;
    if pressure > MAX_PRESSURE {
        return Err(format!(
            "function {func} keeps up to {pressure} values live (more than {MAX_PRESSURE})"
        ));
    }
    let isa = if pressure > QUICK_ALLOCATION_ABOVE { self::isa(true)? } else { isa };
    Ok(Compiled { entries, ..compile_one(ctx, isa, ir)? })
}

/// Compiles every defined function, in index order in the result. A large code section is
/// compiled on every core: threads take the next function from a shared counter, largest
/// bodies first (so that no thread is left with a big one at the end while the others idle),
/// and the results are put back in index order, so the linked code never depends on the number of
/// threads or on timing. If functions cannot be compiled, the error is the lowest-numbered
/// one's, as in sequential order (threads skip functions after a known failure).
fn compile_functions(
    cx: &ModuleCx<'_>,
    isa: &'static dyn TargetIsa,
) -> Result<Vec<Compiled>, Unsupported> {
    let n = cx.module.bodies.len();
    let bytes: usize = cx.module.bodies.iter().map(|b| b.range.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(MAX_THREADS);
    // Dumps of the IR come out in order on one thread.
    let dump = std::env::var_os("WARD_DUMP_NATIVE").is_some();
    if threads < 2 || n < 2 || bytes < PARALLEL_MIN_BYTES || dump {
        let mut fctx = FunctionBuilderContext::new();
        let mut ctx = Context::new();
        return (0..n as u32)
            .map(|def| compile_function(cx, isa, def, &mut fctx, &mut ctx))
            .collect();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cx.module.bodies[i].range.len()));
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(usize::MAX);
    let work = || {
        let mut fctx = FunctionBuilderContext::new();
        let mut ctx = Context::new();
        let mut done = Vec::new();
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            if i > failed.load(Ordering::Relaxed) {
                continue;
            }
            let r = compile_function(cx, isa, i as u32, &mut fctx, &mut ctx);
            if r.is_err() {
                failed.fetch_min(i, Ordering::Relaxed);
                // A translation that stopped half way leaves its builder state behind.
                fctx = FunctionBuilderContext::new();
                ctx = Context::new();
            }
            done.push((i, r));
        }
        done
    };
    let mut results: Vec<Option<Result<Compiled, Unsupported>>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads.min(n)).map(|_| scope.spawn(work)).collect();
        let mut all = vec![work()];
        for handle in others {
            match handle.join() {
                Ok(done) => all.push(done),
                // A panic in Cranelift is a bug; let it surface as it would on this thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (i, r) in all.into_iter().flatten() {
            results[i] = Some(r);
        }
    });
    let mut parts = Vec::with_capacity(n);
    for r in results {
        // A function left out comes after one that failed, whose error is returned first.
        parts.push(r.ok_or("a function was skipped without an earlier error")??);
    }
    Ok(parts)
}

/// Compiles every defined function of `m` and links them, or says why the module cannot run
/// natively.
pub(super) fn compile_module(m: &ModuleInner) -> std::result::Result<CompiledModule, Unsupported> {
    check_module(m)?;
    let isa = isa(false)?;
    let cfg = m.engine.config();
    let vm = VMOffsets::new(VMCounts::of(m)).ok_or("the module's context would be too large")?;
    let cx = ModuleCx {
        module: m,
        vm,
        call_conv: isa.default_call_conv(),
        frontend: isa.frontend_config(),
        consume_fuel: cfg.consume_fuel,
        epochs: cfg.epoch_interruption,
        checkpoints: cfg.checkpoints(),
        max_depth: u32::try_from(cfg.max_call_depth).unwrap_or(u32::MAX),
        guarded: signals::SUPPORTED && cfg.memory_strategy == MemoryStrategy::Guarded,
        unwinds: signals::UNWINDS,
    };
    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = Context::new();
    let first = m.num_imported_funcs;
    let mut parts = compile_functions(&cx, isa)?;
    // One trampoline per distinct signature.
    let mut by_type: HashMap<Arc<FuncType>, usize> = HashMap::new();
    let mut func_tramp = Vec::with_capacity(m.bodies.len());
    for def in 0..m.bodies.len() as u32 {
        let ty = m.func_type(first + def);
        let next = parts.len();
        let k = match by_type.get(ty) {
            Some(k) => *k,
            None => {
                let f = translate::trampoline(&cx, ty, next as u32, &mut fctx)?;
                parts.push(compile_one(&mut ctx, isa, f)?);
                by_type.insert(ty.clone(), next);
                next
            }
        };
        func_tramp.push(k);
    }

    // Lay the parts out one after another and resolve the calls between functions.
    let mut image = Vec::new();
    let mut starts = Vec::with_capacity(parts.len());
    for p in &parts {
        let at = image.len().next_multiple_of(p.align as usize);
        image.resize(at, 0);
        starts.push(at);
        image.extend_from_slice(&p.bytes);
    }
    if image.len() > i32::MAX as usize {
        return Err("the module's native code is larger than 2 GiB".into());
    }
    for (p, start) in parts.iter().zip(&starts) {
        for &(offset, target, addend) in &p.calls {
            let at = start + offset as usize;
            let dest = starts[(target - first) as usize] as i64;
            let rel = i32::try_from(dest + addend - at as i64)
                .map_err(|_| "a call displacement out of range".to_string())?;
            image[at..at + 4].copy_from_slice(&rel.to_le_bytes());
        }
    }
    let relocs: Vec<LibcallReloc> = parts
        .iter()
        .zip(&starts)
        .flat_map(|(p, start)| {
            p.libcalls.iter().map(move |r| LibcallReloc { offset: r.offset + *start as u32, ..*r })
        })
        .collect();
    let mut trap_sites: Vec<u32> = parts
        .iter()
        .zip(&starts)
        .flat_map(|(p, start)| p.trap_sites.iter().map(move |o| *start as u32 + o))
        .collect();
    trap_sites.sort_unstable();
    let mut catches = CatchTable::default();
    for (p, start) in parts.iter().zip(&starts) {
        let base = catches.entries.len() as u32;
        catches.entries.extend_from_slice(&p.entries);
        for s in &p.catch_sites {
            catches.sites.push(Site {
                ret: s.ret + *start as u32,
                frame: s.frame,
                context: s.context,
                handlers: s.handlers.iter().map(|(e, at)| (e + base, at + *start as u32)).collect(),
            });
        }
    }
    let trampolines: Vec<u32> = func_tramp.iter().map(|k| starts[*k] as u32).collect();
    let functions_end = functions_end(&trampolines, image.len());
    let code = CodeMemory::new(&image, &relocs)?;
    let start = code.at(0) as usize;
    let registration = signals::register(CodeInfo {
        start,
        end: start + image.len(),
        trap_sites: trap_sites.clone(),
    });
    tracing::debug!(
        target: "ward",
        functions = m.bodies.len(),
        trampolines = by_type.len(),
        bytes = image.len(),
        "native code compiled"
    );
    Ok(CompiledModule {
        _registration: registration,
        code,
        len: image.len(),
        funcs: starts[..m.bodies.len()].iter().map(|s| *s as u32).collect(),
        trampolines: trampolines.into(),
        relocs: relocs.into(),
        trap_sites: trap_sites.into(),
        catches,
        functions_end,
        max_frame: parts.iter().map(|p| p.frame).max().unwrap_or(0),
    })
}
