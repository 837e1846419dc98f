//! A pipeline of three stages: one module, two roles chosen by the template's arguments.
//!
//! - `main WORD...` (the initial process): spawns three `stage`s, monitors them, and wires
//!   them: each stage's configuration message (tag 1) names its operation and hands over the
//!   handle of the next stage — the last one gets `main`'s own. Then it pushes each WORD through
//!   (tag 2), collects the results in order, sends a stop (tag 3) down the chain and waits for
//!   the three stages to end. It prints `IN -> OUT` per word and exits 0 if every result is
//!   what the three operations make, 1 otherwise.
//! - `stage`: applies its operation to each item and passes it on; passes the stop on and ends.
//!
//! The operations: 0 upper-cases, 1 reverses, 2 wraps in angle brackets, so `hello` becomes
//! `<OLLEH>`. Each stage holds only two handles (its parent's and the next stage's).
//!
//! Run: `ward nano crates/ward-nano/examples/rust-guests/pipeline.toml`.

use ward_nano_guest::{self as nano, ExitKind, Filter, Pid};

const CONFIG: i32 = 1;
const ITEM: i32 = 2;
const STOP: i32 = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("main") => run(&args[2..]),
        Some("stage") => stage(),
        other => {
            eprintln!("pipeline: unknown role {other:?} (main WORD... | stage)");
            nano::exit(2)
        }
    }
}

fn apply(op: u8, data: &[u8]) -> Vec<u8> {
    match op {
        0 => data.to_ascii_uppercase(),
        1 => data.iter().rev().copied().collect(),
        _ => [&b"<"[..], data, b">"].concat(),
    }
}

fn run(words: &[String]) {
    let stages: Vec<Pid> = (0..3).map(|_| nano::spawn("stage").expect("spawn a stage")).collect();
    for (i, s) in stages.iter().enumerate() {
        nano::monitor(*s).expect("monitor a stage");
        let next = stages.get(i + 1).copied().unwrap_or_else(nano::self_pid);
        nano::send_cap(*s, CONFIG, &[i as u8], next).expect("configure a stage");
    }
    let mut ok = true;
    for w in words {
        nano::send(stages[0], ITEM, w.as_bytes()).expect("push an item");
    }
    for w in words {
        let out = nano::receive(None, Filter::Tag(ITEM)).expect("an item out of the pipeline");
        let expected = (0..3).fold(w.as_bytes().to_vec(), |d, op| apply(op, &d));
        ok &= out.sender == Some(stages[2]) && out.data == expected;
        println!("{w} -> {}", String::from_utf8_lossy(&out.data));
    }
    nano::send(stages[0], STOP, b"").expect("stop the pipeline");
    let mut normal = 0;
    for _ in &stages {
        let down = nano::receive(None, Filter::DOWN).expect("a stage's DOWN");
        normal += usize::from(down.notice().is_some_and(|n| n.kind == ExitKind::Normal));
    }
    println!("stages ended normally: {normal} of {}", stages.len());
    nano::exit(if ok && normal == stages.len() { 0 } else { 1 })
}

fn stage() {
    let config = nano::receive(None, Filter::Tag(CONFIG)).expect("configuration");
    let (Some(&op), Some(next)) = (config.data.first(), config.cap) else { nano::exit(3) };
    loop {
        let m = nano::receive(None, Filter::Any).expect("receive");
        match m.tag {
            ITEM => nano::send(next, ITEM, &apply(op, &m.data)).expect("pass an item on"),
            STOP => {
                let _ = nano::send(next, STOP, b"");
                return;
            }
            _ => {}
        }
    }
}
