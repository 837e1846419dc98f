//! `ward run` gives components `wasi:http`'s outgoing requests: the `fetch` command of
//! `tests/wasi-http` (built `.wasm` checked in) is denied until `--allow-http` names the host,
//! reaches a local `ward serve` over `http` and a local TLS server over `https` once
//! `--http-ca` trusts its authority; a core module is refused the flags.

mod serve_support;

use serve_support::{spawn, tls_upstream};
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `ward run EXTRA... fetch.wasm URL`: exit status and stdout.
fn fetch(extra: &[&str], url: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("run")
        .args(extra)
        .arg(root().join("tests/wasi-http/fetch.wasm"))
        .arg(url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), stdout)
}

#[test]
fn a_command_reaches_only_the_hosts_it_was_allowed() {
    let upstream = spawn(&root().join("tests/wasi-http/handler.wasm"), &[]);
    let url = format!("http://127.0.0.1:{}/hello", upstream.1);
    let denied = (Some(1), "error: ErrorCode::HttpRequestDenied\n".to_string());
    assert_eq!(fetch(&[], &url), denied);
    assert_eq!(fetch(&["--allow-http", "127.0.0.2"], &url), denied);
    for grant in [&["--allow-http", "127.0.0.1"][..], &["-S", "http"], &["--allow-http", "*"]] {
        let (status, out) = fetch(grant, &url);
        assert_eq!(status, Some(0), "{grant:?}: {out}");
        assert!(out.starts_with("status 201\nmethod: GET\npath: /hello\n"), "{out}");
    }
    assert_eq!(fetch(&["-S", "http", "-S", "http=n"], &url), denied);
}

#[test]
fn https_needs_a_root_that_vouches_for_the_server() {
    let port = tls_upstream(&root());
    let url = format!("https://127.0.0.1:{port}/");
    let allow = format!("127.0.0.1:{port}");
    assert_eq!(
        fetch(&["--allow-http", &allow], &url),
        (Some(1), "error: ErrorCode::TlsCertificateError\n".to_string())
    );
    let ca = root().join("crates/ward-wasi-p2/tests/data/tls/ca.pem");
    let ca = ca.to_str().unwrap();
    assert_eq!(
        fetch(&["--allow-http", &allow, "--http-ca", ca], &url),
        (Some(0), "status 200\nhello over tls\n".to_string())
    );
}

#[test]
fn a_core_module_is_refused_the_http_grants() {
    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["run", "--allow-http", "example.com"])
        .arg(root().join("benches/wasm/hello.wasm"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--allow-http, -S http and --http-ca grant wasi:http to components only"),
        "{stderr}"
    );
}
