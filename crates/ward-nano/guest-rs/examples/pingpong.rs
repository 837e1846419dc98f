//! Ping-pong: two processes from one module, their role chosen by their template's arguments.
//!
//! - `ping ROUNDS` (the initial process): spawns a `pong`, monitors it, sends it ROUNDS numbered
//!   pings (tag 1) one at a time and checks each answer (tag 2: the number plus one), then
//!   sends a stop (tag 3) and waits for the pong's DOWN notice. It prints what it saw and
//!   exits 0 if every answer was right, 1 otherwise.
//! - `pong`: answers each ping to its sender (its parent, whose handle it holds) until the stop.
//!
//! Run: `ward nano crates/ward-nano/examples/rust-guests/pingpong.toml`.

use std::time::Instant;
use ward_nano_guest::{self as nano, Filter};

const PING: i32 = 1;
const PONG: i32 = 2;
const STOP: i32 = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("ping") => ping(args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000)),
        Some("pong") => pong(),
        other => {
            eprintln!("pingpong: unknown role {other:?} (ping ROUNDS | pong)");
            nano::exit(2)
        }
    }
}

fn ping(rounds: u32) {
    let pong = nano::spawn("pong").expect("spawn pong");
    nano::monitor(pong).expect("monitor pong");
    let start = Instant::now();
    let mut right = 0;
    for i in 0..rounds {
        nano::send(pong, PING, &i.to_le_bytes()).expect("send a ping");
        let m = nano::receive(None, Filter::Tag(PONG)).expect("receive a pong");
        if m.sender == Some(pong) && m.data == (i + 1).to_le_bytes() {
            right += 1;
        }
    }
    let took = start.elapsed();
    println!(
        "ping-pong: {right} of {rounds} answers right ({} µs a round trip)",
        per(took, rounds)
    );
    nano::send(pong, STOP, b"").expect("send stop");
    let down = nano::receive(None, Filter::DOWN).expect("pong's DOWN");
    let notice = down.notice().expect("a notice");
    println!("pong {}: {:?}", pong, notice.kind);
    let ok = right == rounds && notice.kind == nano::ExitKind::Normal;
    nano::exit(if ok { 0 } else { 1 })
}

fn per(took: std::time::Duration, rounds: u32) -> u128 {
    took.as_micros() / u128::from(rounds.max(1))
}

fn pong() {
    loop {
        let m = nano::receive(None, Filter::Any).expect("receive");
        let Some(from) = m.sender else { continue };
        match m.tag {
            PING => {
                let n = m.data.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
                let answer = n.unwrap_or(0).wrapping_add(1);
                let _ = nano::send(from, PONG, &answer.to_le_bytes());
            }
            STOP => return,
            _ => {}
        }
    }
}
