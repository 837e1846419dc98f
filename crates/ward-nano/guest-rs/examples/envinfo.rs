//! Prints what WASI gives this process — its arguments, its environment (sorted) and its
//! stdin — one item a line, then, with the argument `spawn`, spawns a `child` from its template
//! and waits for it to end; with the argument `fail`, it then exits with status 1. `crates/ward-nano/tests/rust_guests.rs` uses it to show what
//! `SpawnOptions` grants a process the host spawns and what its children get.

use std::io::Read;
use ward_nano_guest::{self as nano, Filter};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("args: {}", args.join(" "));
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (k, v) in vars {
        println!("env: {k}={v}");
    }
    let mut input = Vec::new();
    match std::io::stdin().read_to_end(&mut input) {
        Ok(_) => println!("stdin: {}", String::from_utf8_lossy(&input)),
        Err(e) => println!("stdin: error {e}"),
    }
    if args.iter().any(|a| a == "spawn") {
        match nano::spawn("child") {
            Ok(child) => {
                nano::monitor(child).expect("monitor the child");
                let down = nano::receive(None, Filter::DOWN).expect("the child's DOWN");
                let kind = down.notice().map(|n| n.kind);
                println!("child: {kind:?}");
            }
            Err(e) => println!("child: {e}"),
        }
    }
    if args.iter().any(|a| a == "fail") {
        nano::exit(1)
    }
}
