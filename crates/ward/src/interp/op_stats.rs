//! Dynamic instruction and instruction-pair counts (feature `op-stats`), to choose
//! superinstructions from measurements on real programs, and the functions that execute the
//! most instructions with their hottest instruction indices (to find the loops to read in
//! `WARD_DUMP_CODE`'s listing). Counts are kept per thread, merged into a global table when a
//! run returns, and printed to stderr (the 40 most frequent of each, or `WARD_OP_STATS_TOP`)
//! when the process exits.

use super::code::Instr;
use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::Discriminant;
use std::sync::{Mutex, Once};

type Key = Discriminant<Instr>;

#[derive(Default)]
struct Counts {
    names: HashMap<Key, String>,
    single: HashMap<Key, u64>,
    pairs: HashMap<(Key, Key), u64>,
    /// Executions per instruction address (to find the hot functions and loops).
    sites: HashMap<usize, u64>,
    prev: Option<Key>,
}

thread_local! {
    static LOCAL: RefCell<Counts> = RefCell::new(Counts::default());
}
static GLOBAL: Mutex<Option<Counts>> = Mutex::new(None);
static AT_EXIT: Once = Once::new();
/// The translated functions: (address of the first instruction, instruction count, function index).
static FUNCS: Mutex<Vec<(usize, usize, u32)>> = Mutex::new(Vec::new());

/// Notes where function `func`'s translated code lies, so that counts per instruction address can
/// be reported per function and instruction index.
pub(crate) fn register(code: &[Instr], func: u32) {
    let mut f = FUNCS.lock().unwrap_or_else(|e| e.into_inner());
    f.push((code.as_ptr() as usize, code.len(), func));
}

fn name_of(ins: &Instr) -> String {
    let full = format!("{ins:?}");
    full.split([' ', '{']).next().unwrap_or_default().to_string()
}

/// Counts one executed instruction (and the pair it forms with the previous one).
pub(crate) fn record(ins: &Instr) {
    LOCAL.with(|c| {
        let mut c = c.borrow_mut();
        let k = std::mem::discriminant(ins);
        c.names.entry(k).or_insert_with(|| name_of(ins));
        *c.single.entry(k).or_default() += 1;
        *c.sites.entry(ins as *const Instr as usize).or_default() += 1;
        if let Some(p) = c.prev {
            *c.pairs.entry((p, k)).or_default() += 1;
        }
        c.prev = Some(k);
    });
}

/// Merges this thread's counts into the global table (called when a run returns).
pub(crate) fn flush() {
    let local = LOCAL.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let g = g.get_or_insert_with(Counts::default);
    g.names.extend(local.names);
    for (k, n) in local.single {
        *g.single.entry(k).or_default() += n;
    }
    for (k, n) in local.pairs {
        *g.pairs.entry(k).or_default() += n;
    }
    for (k, n) in local.sites {
        *g.sites.entry(k).or_default() += n;
    }
    AT_EXIT.call_once(|| {
        // SAFETY: `print_at_exit` is an `extern "C" fn()` that never unwinds across the C
        // boundary (it catches nothing but only formats and writes to stderr).
        unsafe { libc::atexit(print_at_exit) };
    });
}

extern "C" fn print_at_exit() {
    flush_and_print();
}

fn flush_and_print() {
    let g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(g) = g.as_ref() else { return };
    let name = |k: &Key| g.names.get(k).cloned().unwrap_or_default();
    let total: u64 = g.single.values().sum();
    let mut single: Vec<_> = g.single.iter().collect();
    single.sort_by(|a, b| b.1.cmp(a.1));
    // `WARD_OP_STATS_TOP=n` prints the n most frequent of each instead of 40.
    let top = std::env::var("WARD_OP_STATS_TOP").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    eprintln!("op-stats: {total} instructions executed");
    for (k, n) in single.iter().take(top) {
        eprintln!("  {:6.2}%  {:>14}  {}", **n as f64 * 100.0 / total as f64, n, name(k));
    }
    let mut pairs: Vec<_> = g.pairs.iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(a.1));
    eprintln!("op-stats: most frequent adjacent pairs");
    for ((a, b), n) in pairs.iter().take(top) {
        let pct = **n as f64 * 100.0 / total as f64;
        eprintln!("  {pct:6.2}%  {n:>14}  {} -> {}", name(a), name(b));
    }
    print_sites(&g.sites, total, top);
}

/// The functions that executed the most instructions, and within them the most executed
/// instruction indices (as `WARD_DUMP_CODE` numbers them).
fn print_sites(sites: &HashMap<usize, u64>, total: u64, top: usize) {
    let mut funcs = FUNCS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    funcs.sort_unstable();
    let size = std::mem::size_of::<Instr>();
    let locate = |addr: usize| {
        let i = funcs.partition_point(|f| f.0 <= addr).checked_sub(1)?;
        let (start, len, func) = funcs[i];
        let pc = (addr - start) / size;
        (pc < len).then_some((func, pc))
    };
    let mut per_func: HashMap<u32, (u64, Vec<(usize, u64)>)> = HashMap::new();
    for (&addr, &n) in sites {
        if let Some((func, pc)) = locate(addr) {
            let e = per_func.entry(func).or_default();
            e.0 += n;
            e.1.push((pc, n));
        }
    }
    let mut per_func: Vec<_> = per_func.into_iter().collect();
    per_func.sort_by_key(|f| std::cmp::Reverse(f.1 .0));
    eprintln!("op-stats: functions executing the most instructions (hottest instruction indices)");
    for (func, (n, mut pcs)) in per_func.into_iter().take(top) {
        pcs.sort_by_key(|p| std::cmp::Reverse(p.1));
        let hot: Vec<String> = pcs.iter().take(8).map(|(pc, n)| format!("{pc}:{n}")).collect();
        let pct = n as f64 * 100.0 / total as f64;
        eprintln!("  {pct:6.2}%  {n:>14}  func {func}  [{}]", hot.join(" "));
    }
}
