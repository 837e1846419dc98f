//! A hostile tenant next to a well-behaved one: one module, three roles chosen by the
//! template's arguments.
//!
//! - `host` (the initial process): spawns a `good` and a `hostile` tenant and monitors both.
//!   It tells the hostile tenant the good tenant's pid — as data: knowing a pid grants nothing —
//!   and waits for its report of its attacks. While the hostile tenant then spins forever, it
//!   gives the good tenant ROUNDS jobs one at a time and checks every answer. Then it waits for
//!   the hostile tenant to be ended by its deadline and stops the good tenant. It prints what
//!   happened and exits 0 if every attack failed and every job was answered right.
//! - `hostile`: tries to message the good tenant and every pid from 1 to 1000 (it holds the
//!   handles of itself and its parent only), to forge a DOWN notice, to spawn templates it was
//!   not granted, to link to and monitor a process it does not hold, to grow its memory by
//!   1 GiB and then to allocate until its memory limit stops it, and to send a message larger
//!   than the runtime's limit. It reports each outcome (tag 2), then spins forever.
//! - `good`: answers each job (tag 1: n) with the sum 1 + 2 + ... + n (tag 2), until a stop.
//!
//! Run: `ward nano crates/ward-nano/examples/rust-guests/tenants.toml`.

use std::time::Duration;
use ward_nano_guest::{self as nano, Error, ExitKind, Filter, Pid};

const JOB: i32 = 1;
const REPORT: i32 = 2;
const STOP: i32 = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("host") => host(args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000)),
        Some("good") => good(),
        Some("hostile") => hostile(),
        other => {
            eprintln!("tenants: unknown role {other:?} (host ROUNDS | good | hostile)");
            nano::exit(2)
        }
    }
}

fn u32_at(data: &[u8]) -> Option<u32> {
    data.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
}

fn good() {
    loop {
        let m = nano::receive(None, Filter::Any).expect("receive");
        match (m.tag, m.sender, u32_at(&m.data)) {
            (JOB, Some(from), Some(n)) => {
                let sum: u64 = (1..=u64::from(n)).sum();
                nano::send(from, REPORT, &sum.to_le_bytes()).expect("answer");
            }
            (STOP, _, _) => return,
            _ => {}
        }
    }
}

fn outcome<T>(r: Result<T, Error>) -> String {
    match r {
        Ok(_) => "ALLOWED".to_string(),
        Err(e) => format!("{e}"),
    }
}

fn hostile() {
    let start = nano::receive(None, Filter::Tag(JOB)).expect("the start message");
    let host = start.sender.expect("sent by the host process");
    let victim = u32_at(&start.data).and_then(|p| Pid::from_raw(p.into())).expect("a pid");
    let me = nano::self_pid();
    let mut lines = Vec::new();

    lines.push(format!(
        "send to the good tenant {victim}: {}",
        outcome(nano::send(victim, 0, b"hi"))
    ));
    let (mut tried, mut refused) = (0, 0);
    for raw in 1..=1000 {
        let pid = Pid::from_raw(raw).expect("not 0");
        if pid == me || pid == host {
            continue;
        }
        tried += 1;
        refused += usize::from(nano::send(pid, 0, b"spam") == Err(Error::Perm));
    }
    lines.push(format!("sends to pids 1..=1000: {refused} of {tried} refused"));
    // Runtime notices have negative tags; a guest cannot make one up.
    let forged = nano::send(host, nano::tag::DOWN, &[0; 16]);
    lines.push(format!("forged DOWN notice: {}", outcome(forged)));
    lines.push(format!("spawn good: {}", outcome(nano::spawn("good"))));
    lines.push(format!("spawn host: {}", outcome(nano::spawn("host"))));
    lines.push(format!("link to the good tenant: {}", outcome(nano::link(victim))));
    lines.push(format!("monitor the good tenant: {}", outcome(nano::monitor(victim))));

    // 16384 pages of 64 KiB: 1 GiB at once.
    let grown = memory::grow(16384);
    lines.push(format!(
        "memory.grow 1 GiB: {}",
        if grown == usize::MAX { "refused" } else { "ALLOWED" }
    ));
    // Then the allocator, one MiB at a time, until it reports failure instead of aborting.
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::new();
        if chunk.try_reserve_exact(1 << 20).is_err() || hoard.len() >= 1024 {
            break;
        }
        chunk.resize(1 << 20, 1);
        hoard.push(chunk);
    }
    let pages = memory::size();
    lines.push(format!("allocated {} MiB, then refused; memory {} KiB", hoard.len(), pages * 64));
    drop(hoard);

    let big = vec![0u8; 100 << 10];
    lines.push(format!("100 KiB message: {}", outcome(nano::send(host, 0, &big))));

    nano::send(host, REPORT, lines.join("\n").as_bytes()).expect("report");
    // Spin forever: only the scheduler's fuel slices let the others run, and the deadline ends it.
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn host(rounds: u32) {
    let good = nano::spawn("good").expect("spawn the good tenant");
    let hostile = nano::spawn("hostile").expect("spawn the hostile tenant");
    nano::monitor(good).expect("monitor");
    nano::monitor(hostile).expect("monitor");
    println!("tenants: good {good}, hostile {hostile}");
    let victim = u32::try_from(good.get()).expect("a small pid");
    nano::send(hostile, JOB, &victim.to_le_bytes()).expect("start the hostile tenant");
    let report = nano::receive(Some(Duration::from_secs(30)), Filter::Tag(REPORT)).expect("report");
    let report = String::from_utf8_lossy(&report.data).into_owned();
    for line in report.lines() {
        println!("hostile: {line}");
    }

    // The hostile tenant spins from here on.
    let mut right = 0;
    for n in 1..=rounds {
        nano::send(good, JOB, &n.to_le_bytes()).expect("give a job");
        let m = nano::receive(Some(Duration::from_secs(10)), Filter::Tag(REPORT)).expect("answer");
        let sum = m.data.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        right +=
            u32::from(m.sender == Some(good) && sum == Some(u64::from(n) * u64::from(n + 1) / 2));
    }
    // Its deadline has not passed yet: the jobs ran while it spun.
    let spinning = nano::receive(Some(Duration::ZERO), Filter::DOWN) == Err(Error::Timeout);
    let during =
        if spinning { "while the hostile tenant spun" } else { "(the hostile tenant had ended)" };
    println!("good: {right} of {rounds} jobs answered right {during}");

    let hostile_end = end_of(hostile);
    println!("hostile {hostile} ended: {}", kind(hostile_end));
    nano::send(good, STOP, b"").expect("stop the good tenant");
    let good_end = end_of(good);
    println!("good {good} ended: {}", kind(good_end));

    let attacks_failed = !report.contains("ALLOWED")
        && report.lines().any(|l| l.starts_with("sends to pids") && refused_all(l));
    let ok = attacks_failed
        && right == rounds
        && spinning
        && hostile_end == Some(ExitKind::Deadline)
        && good_end == Some(ExitKind::Normal);
    nano::exit(if ok { 0 } else { 1 })
}

/// memory.grow and memory.size of memory 0, in pages (this example runs only in wasm; the
/// stand-ins let a host `cargo test` of the crate build it).
#[cfg(target_family = "wasm")]
mod memory {
    pub fn grow(pages: usize) -> usize {
        core::arch::wasm32::memory_grow(0, pages)
    }
    pub fn size() -> usize {
        core::arch::wasm32::memory_size(0)
    }
}
#[cfg(not(target_family = "wasm"))]
mod memory {
    pub fn grow(_: usize) -> usize {
        usize::MAX
    }
    pub fn size() -> usize {
        0
    }
}

fn kind(k: Option<ExitKind>) -> String {
    k.map_or_else(|| "no DOWN notice".to_string(), |k| format!("{k:?}"))
}

/// How `pid` ended, from its DOWN notice (`None` if none came within 30 s).
fn end_of(pid: Pid) -> Option<ExitKind> {
    loop {
        let m = nano::receive(Some(Duration::from_secs(30)), Filter::DOWN).ok()?;
        if m.sender == Some(pid) {
            return m.notice().map(|n| n.kind);
        }
    }
}

/// Whether a line `sends to pids 1..=1000: R of T refused` has R == T.
fn refused_all(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() >= 7 && words[4] == words[6]
}
