//! A supervisor restarting a crashing worker: one module, two roles chosen by the template's
//! arguments.
//!
//! - `supervisor` (the initial process): supervises a `worker` (at most 3 restarts in 10 s) and
//!   gives it jobs one at a time (tag 1): a number to square, or a poison pill — -1 makes the
//!   worker exit with status 3, -2 makes it panic (a trap). Each job ends with the answer
//!   (tag 2), a RESTARTED notice (the worker crashed; it runs again, same pid, fresh instance)
//!   or a DOWN notice (a fourth crash inside the window: it stays down). Then it shows what a
//!   *link* does instead: it traps exits, spawns and links a plain worker, poisons it and gets
//!   its EXIT notice. It prints each event and exits 0 if they are exactly the expected ones.
//! - `worker`: answers jobs to its parent until a poison pill.
//!
//! Run: `ward nano crates/ward-nano/examples/rust-guests/supervisor.toml`.

use std::time::Duration;
use ward_nano_guest::{self as nano, tag, ExitKind, Filter, Message};

const JOB: i32 = 1;
const ANSWER: i32 = 2;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("supervisor") => supervisor(),
        Some("worker") => worker(),
        other => {
            eprintln!("supervisor: unknown role {other:?} (supervisor | worker)");
            nano::exit(2)
        }
    }
}

fn worker() {
    loop {
        let m = nano::receive(None, Filter::Tag(JOB)).expect("a job");
        let n = m.data.get(..4).and_then(|b| b.try_into().ok()).map(i32::from_le_bytes);
        match n {
            Some(-1) => nano::exit(3),
            Some(-2) => panic!("poisoned"),
            Some(n) => {
                let parent = nano::parent().expect("a parent");
                nano::send(parent, ANSWER, &n.wrapping_mul(n).to_le_bytes()).expect("answer");
            }
            None => {}
        }
    }
}

/// Describes an event for the log, e.g. `answer 9` or `restarted (trap: ...)`.
fn describe(m: &Message) -> String {
    match (m.tag, m.notice()) {
        (ANSWER, _) => {
            let v = m.data.get(..4).and_then(|b| b.try_into().ok()).map(i32::from_le_bytes);
            format!("answer {}", v.unwrap_or(i32::MIN))
        }
        (t, Some(n)) => {
            let what = match t {
                tag::RESTARTED => "restarted",
                tag::DOWN => "down",
                _ => "exit",
            };
            match n.kind {
                ExitKind::Exit => format!("{what} (exit {})", n.code),
                ExitKind::Trap => format!("{what} (trap: {})", n.reason),
                k => format!("{what} ({k:?})"),
            }
        }
        (t, None) => format!("message with tag {t}"),
    }
}

fn supervisor() {
    let w = nano::supervise("worker", 3, Duration::from_secs(10)).expect("supervise a worker");
    let jobs = [2, 3, -2, 4, -1, 5, -2, 6, -2];
    let mut events = Vec::new();
    for job in jobs {
        nano::send(w, JOB, &i32::to_le_bytes(job)).expect("give a job");
        let m = nano::receive(Some(Duration::from_secs(10)), Filter::Any).expect("an event");
        let e = describe(&m);
        println!("job {job}: {e}");
        events.push(e);
    }
    let restarts = events.iter().filter(|e| e.starts_with("restarted")).count();
    println!("restarts: {restarts}");

    // A link instead of supervision: nothing restarts the worker, and since this process traps
    // exits, the worker's crash arrives as a message instead of killing it.
    nano::trap_exit(true);
    let linked = nano::spawn("worker").expect("spawn a worker");
    nano::link(linked).expect("link");
    nano::send(linked, JOB, &i32::to_le_bytes(7)).expect("give a job");
    let answer = describe(&nano::receive(None, Filter::Tag(ANSWER)).expect("an answer"));
    nano::send(linked, JOB, &i32::to_le_bytes(-1)).expect("give a poison pill");
    let exit = nano::receive(Some(Duration::from_secs(10)), Filter::EXIT).expect("EXIT");
    let exit = describe(&exit);
    println!("linked worker: {answer}, then {exit}");

    let expected = [
        "answer 4",
        "answer 9",
        "restarted (trap: unreachable)",
        "answer 16",
        "restarted (exit 3)",
        "answer 25",
        "restarted (trap: unreachable)",
        "answer 36",
        "down (trap: unreachable)",
    ];
    let ok = events.iter().zip(expected).all(|(e, x)| e.starts_with(x))
        && events.len() == expected.len()
        && answer == "answer 49"
        && exit == "exit (exit 3)";
    nano::exit(if ok { 0 } else { 1 })
}
