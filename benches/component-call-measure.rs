// Measurement helpers shared, through `include!`, by the two sides of the component-call
// benchmark (crates/ward-component/examples/component_call.rs and
// benches/component-call-wasmtime/src/main.rs), so both pass the same arguments and measure
// alike. Needs `Instant`, the runtime's component `Val` and a struct
// `Item { id: u32, score: f64, flag: bool }`.

/// The arguments every measurement passes: a 1,024-byte string and 100 records.
fn arguments() -> (String, Vec<Item>) {
    let name: String = (0..1024).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let items = (0..100).map(|i| Item { id: i, score: i as f64 * 0.5, flag: i % 3 == 0 }).collect();
    (name, items)
}

const EXPECTED: u32 = 1024 + 100;

/// The same arguments as `Val`s (the two runtimes' `Val`s are spelled alike).
fn dynamic_arguments(name: &str, items: &[Item]) -> [Val; 2] {
    let record = |it: &Item| {
        Val::Record(vec![
            ("id".into(), Val::U32(it.id)),
            ("score".into(), Val::Float64(it.score)),
            ("flag".into(), Val::Bool(it.flag)),
        ])
    };
    [Val::String(name.to_string()), Val::List(items.iter().map(record).collect())]
}

/// CPU time this thread has used, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`): unlike the wall
/// clock, it does not count the time other processes of a busy machine run instead.
fn thread_cpu_ns() -> u64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `clock_gettime` (from the C library std links) writes one `struct timespec`,
    // whose layout `Timespec` has on 64-bit Linux, through a pointer to a live local.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.sec as u64 * 1_000_000_000 + ts.nsec as u64
}

/// Nanoseconds per call of `f` over 11 timed batches of `calls` calls, after an untimed one:
/// the medians of the thread's CPU time and of the wall time.
fn measure(calls: u32, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..calls {
        f();
    }
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..11 {
        let (start, start_cpu) = (Instant::now(), thread_cpu_ns());
        for _ in 0..calls {
            f();
        }
        cpu.push((thread_cpu_ns() - start_cpu) as f64 / calls as f64);
        wall.push(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(cpu), median(wall))
}

/// Prints `NAME_ns` (CPU time per call) and `NAME_wall_ns`.
fn report(name: &str, (cpu, wall): (f64, f64)) {
    println!("{name}_ns {cpu:.1}");
    println!("{name}_wall_ns {wall:.1}");
}
