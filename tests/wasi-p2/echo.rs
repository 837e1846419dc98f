//! A WASI 0.2 command for `tests/wasi_p2_suite.rs`: prints its arguments and the variable
//! `GREETING`, copies `in.txt` to `out.txt` (upper-cased) in the preopened `/data` if it can,
//! echoes stdin, and exits with the status given as its first argument (a wasm32-wasip2 program
//! exits through `wasi:cli/exit`, so any status other than 0 arrives as 1).
//!
//! Built with: rustc --edition 2021 -C opt-level=s -C strip=symbols --target wasm32-wasip2 \
//!     tests/wasi-p2/echo.rs -o tests/wasi-p2/echo.wasm   (rustc 1.95.0)
use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("args: {}", args.join(" "));
    match std::env::var("GREETING") {
        Ok(v) => println!("GREETING={v}"),
        Err(_) => println!("GREETING unset"),
    }
    println!("vars: {}", std::env::vars().count());
    match std::fs::read_to_string("/data/in.txt") {
        Ok(text) => {
            println!("in.txt: {}", text.trim_end());
            match std::fs::write("/data/out.txt", text.to_uppercase()) {
                Ok(()) => println!("wrote out.txt"),
                Err(e) => println!("cannot write out.txt: {:?}", e.kind()),
            }
        }
        Err(e) => println!("cannot read in.txt: {:?}", e.kind()),
    }
    match std::fs::read_to_string("/etc/passwd") {
        Ok(_) => println!("read /etc/passwd!"),
        Err(e) => println!("/etc/passwd: {:?}", e.kind()),
    }
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    print!("stdin: {input}");
    std::io::stdout().flush().unwrap();
    eprintln!("to stderr");
    let code = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    std::process::exit(code);
}
