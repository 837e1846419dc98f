//! Nanoprocess costs: spawn, message round trip, idle process size, message throughput with 1
//! and 2 workers.
//!
//! ```sh
//! cargo run --release -p ward-nano --example bench -- 100000
//! ```
//!
//! - `spawn_ns`: the host spawning N processes of `guests/echo.wat` from its template (a fresh
//!   store, instantiation, registration, queued: runnable), per process;
//! - `idle_process_bytes`: resident-set growth per process once all N wait in `receive`;
//! - `roundtrip_ns`: two processes (`guests/pinger.wat` and an echo) exchanging 8-byte messages,
//!   per round trip (send, wake, receive, reply, wake, receive);
//! - `msg_throughput_1_worker` / `msg_throughput_2_workers`: messages per second of 16 such
//!   pairs on a runtime with 1 and with 2 worker threads (the median of 5 rounds, the two
//!   runtimes taking turns).
//!
//! On stderr: `spawn_churn_ns` (spawn, kill, repeat: memory recycled), the live count, every
//! throughput round, and what the wall-clock numbers cost in CPU time (Linux; they tell a busy
//! machine from a slow runtime): `spawn_thread_cpu_ns` (the spawning thread's CPU time per spawn), `spawn_process_cpu_ns` (all
//! threads' until every process waits in `receive`, per process) and `msg_cpu_ns_1_worker` /
//! `msg_cpu_ns_2_workers` (all threads' CPU time per message).

use std::time::{Duration, Instant};
use ward_nano::{Runtime, RuntimeConfig, SpawnOptions, TemplateSpec};

const ECHO: &str = include_str!("guests/echo.wat");
const PINGER: &str = include_str!("guests/pinger.wat");

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// CPU time of the calling thread, in ns (0 where `/proc` does not say).
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// CPU time of the whole process (user + system), in ns, at the kernel's tick resolution.
fn process_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
        .unwrap_or_default();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    ticks * 10_000_000
}

fn runtime(workers: usize) -> Runtime {
    let rt = Runtime::new(RuntimeConfig { workers, ..Default::default() }).expect("runtime");
    for (name, src) in [("echo", ECHO), ("pinger", PINGER)] {
        let m = ward::Module::new(rt.engine(), src).expect("guest module");
        rt.add_template(TemplateSpec::new(name, m)).expect("template");
    }
    rt
}

/// Runs `pairs` pinger/echo pairs of `rounds` round trips each; returns the elapsed time.
fn pairs(rt: &Runtime, pairs: usize, rounds: u32) -> Duration {
    let ep = rt.endpoint();
    let grant = || SpawnOptions { handles: vec![ep.pid()], ..Default::default() };
    let mut pingers = Vec::new();
    for _ in 0..pairs {
        let echo = rt.spawn("echo").expect("echo");
        let pinger = rt.spawn_with("pinger", grant()).expect("pinger");
        pingers.push((pinger, echo));
    }
    rt.wait_idle(Duration::from_secs(30));
    let start = Instant::now();
    for (pinger, echo) in &pingers {
        ep.send(pinger.pid(), 1, &rounds.to_le_bytes(), echo.pid());
    }
    for _ in 0..pairs {
        ep.recv_tag(3, Duration::from_secs(600)).expect("a pinger finished");
    }
    let elapsed = start.elapsed();
    for (_, echo) in &pingers {
        rt.kill(echo.pid());
    }
    elapsed
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rt = runtime(RuntimeConfig::default().workers);

    // Warm up (pool, translated code).
    pairs(&rt, 4, 10_000);
    let warm: Vec<_> = (0..1000).map(|_| rt.spawn("echo").expect("spawn")).collect();
    rt.wait_idle(Duration::from_secs(30));
    for p in &warm {
        rt.kill(p.pid());
    }
    drop(warm);
    rt.wait_idle(Duration::from_secs(30));

    // Diagnostic (stderr): spawn when memory is recycled (each process killed after spawning),
    // against `spawn_ns` below, where all N stay alive and every page is fresh from the kernel.
    let churn = 20_000;
    let start = Instant::now();
    for _ in 0..churn {
        let p = rt.spawn("echo").expect("spawn");
        rt.kill(p.pid());
    }
    eprintln!("spawn_churn_ns {}", start.elapsed().as_nanos() / churn as u128);
    rt.wait_idle(Duration::from_secs(30));

    let before = resident_bytes();
    let mut procs = Vec::with_capacity(n);
    let (cpu, all_cpu) = (thread_cpu_ns(), process_cpu_ns());
    let start = Instant::now();
    for _ in 0..n {
        procs.push(rt.spawn("echo").expect("spawn").pid());
    }
    let spawn = start.elapsed();
    let cpu = thread_cpu_ns().saturating_sub(cpu);
    assert!(rt.wait_idle(Duration::from_secs(600)), "processes did not settle");
    let all_cpu = process_cpu_ns().saturating_sub(all_cpu);
    eprintln!("spawn_thread_cpu_ns {}", cpu / n.max(1) as u64);
    eprintln!("spawn_process_cpu_ns {}", all_cpu / n.max(1) as u64);
    let grown = resident_bytes().saturating_sub(before);
    println!("spawn_ns {}", spawn.as_nanos() / n.max(1) as u128);

    let rounds = 200_000;
    let rt_elapsed = pairs(&rt, 1, rounds);
    println!("roundtrip_ns {}", rt_elapsed.as_nanos() / rounds as u128);
    println!("idle_process_bytes {}", grown / n.max(1) as u64);
    eprintln!("live_processes {}", rt.live_processes());
    drop(procs);
    drop(rt);

    // Throughput: one runtime of each size, measured in alternating rounds (the median of
    // `THROUGHPUT_ROUNDS` each), so that a burst of load from outside the benchmark does not
    // decide the ratio between them.
    let runtimes = [runtime(1), runtime(2)];
    for rt in &runtimes {
        pairs(rt, 16, 2_000);
    }
    let (k, rounds) = (16, 50_000u32);
    let msgs = 2.0 * k as f64 * rounds as f64;
    let mut rates = [Vec::new(), Vec::new()];
    let mut cpus = [Vec::new(), Vec::new()];
    for _ in 0..THROUGHPUT_ROUNDS {
        for (i, rt) in runtimes.iter().enumerate() {
            let cpu = process_cpu_ns();
            let t = pairs(rt, k, rounds);
            let cpu = process_cpu_ns().saturating_sub(cpu);
            rates[i].push(msgs / t.as_secs_f64());
            cpus[i].push(cpu as f64 / msgs);
        }
    }
    for (i, workers) in ["1_worker", "2_workers"].iter().enumerate() {
        let each: Vec<String> = rates[i].iter().map(|r| format!("{r:.0}")).collect();
        eprintln!("msg_throughput_{workers}_rounds {}", each.join(" "));
        println!("msg_throughput_{workers} {:.0}", median(&mut rates[i]));
        eprintln!("msg_cpu_ns_{workers} {:.0}", median(&mut cpus[i]));
    }
}

/// Rounds of each throughput measurement.
const THROUGHPUT_ROUNDS: usize = 5;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
