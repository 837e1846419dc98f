//! Hostile input: malformed and resource-bomb binaries must each fail fast with a clean error
//! naming the problem, never a panic and never a large allocation.

use std::time::{Duration, Instant};
use ward::{Engine, Error, Module};

const HEADER: &[u8] = b"\0asm\x01\0\0\0";

fn module(sections: &[&[u8]]) -> Vec<u8> {
    let mut m = HEADER.to_vec();
    for s in sections {
        m.extend_from_slice(s);
    }
    m
}

fn leb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![id];
    s.extend(leb(body.len() as u64));
    s.extend_from_slice(body);
    s
}

/// Compiles `bytes`, expecting an error whose text contains `needle`, within a second.
fn rejects(name: &str, bytes: &[u8], needle: &str) {
    let engine = Engine::default();
    let start = Instant::now();
    let result = std::panic::catch_unwind(|| Module::new(&engine, bytes));
    let elapsed = start.elapsed();
    let err = match result {
        Err(_) => panic!("{name}: compiling panicked"),
        Ok(Ok(_)) => panic!("{name}: accepted a malformed module"),
        Ok(Err(e)) => e,
    };
    let text = err.to_string();
    assert!(
        text.to_lowercase().contains(&needle.to_lowercase()),
        "{name}: error `{text}` does not mention `{needle}`"
    );
    assert!(
        matches!(err, Error::Invalid { .. } | Error::Text(_)),
        "{name}: not a decoding error: {err:?}"
    );
    assert!(elapsed < Duration::from_secs(1), "{name}: took {elapsed:?}");
}

#[test]
fn empty_and_garbage_input() {
    rejects("empty", b"", "");
    rejects("bad magic", b"\0asx\x01\0\0\0", "magic");
    rejects("bad version", b"\0asm\x02\0\0\0", "version");
    rejects("truncated header", b"\0asm\x01\0", "");
}

#[test]
fn truncated_sections() {
    let types = section(1, &[1, 0x60, 0, 0]);
    for cut in 1..types.len() {
        let m = module(&[&types[..cut]]);
        rejects(&format!("type section cut at {cut}"), &m, "");
    }
    let code = section(10, &[1, 2, 0, 0x0b]);
    let m = module(&[&section(1, &[1, 0x60, 0, 0]), &section(3, &[1, 0]), &code[..code.len() - 1]]);
    rejects("truncated code", &m, "");
}

#[test]
fn overlong_leb128() {
    // A u32 encoded in six bytes.
    let m = module(&[&[1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]]);
    rejects("six-byte section size", &m, "");
    // A type count with too many continuation bytes.
    let m = module(&[&section(1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])]);
    rejects("overlong count", &m, "");
}

#[test]
fn bad_utf8_names() {
    // An import whose module name is invalid UTF-8.
    let body = [1, 2, 0xc3, 0x28, 1, b'f', 0x00, 0x00];
    let m = module(&[&section(1, &[1, 0x60, 0, 0]), &section(2, &body)]);
    rejects("bad utf-8 import module", &m, "utf-8");
    // An export name that is invalid UTF-8.
    let m = module(&[
        &section(1, &[1, 0x60, 0, 0]),
        &section(3, &[1, 0]),
        &section(7, &[1, 1, 0xff, 0x00, 0x00]),
        &section(10, &[1, 2, 0, 0x0b]),
    ]);
    rejects("bad utf-8 export", &m, "utf-8");
}

#[test]
fn section_size_lies() {
    // Claims 100 bytes, has 4.
    let m = module(&[&[1, 100, 1, 0x60, 0, 0]]);
    rejects("section longer than input", &m, "");
    // Claims 2 bytes, content needs 4: the reader runs off the section end.
    let m = module(&[&[1, 2, 1, 0x60, 0, 0]]);
    rejects("section shorter than content", &m, "");
}

#[test]
fn duplicate_and_misordered_sections() {
    let t = section(1, &[1, 0x60, 0, 0]);
    rejects("duplicate type section", &module(&[&t, &t]), "");
    let f = section(3, &[1, 0]);
    rejects("function before type", &module(&[&f, &t]), "");
}

#[test]
fn allocation_bombs_fail_fast() {
    // Billions of functions declared in a few bytes.
    let mut body = leb(4_000_000_000);
    body.push(0);
    rejects(
        "billions of functions",
        &module(&[&section(1, &[1, 0x60, 0, 0]), &section(3, &body)]),
        "",
    );
    // Billions of types.
    rejects("billions of types", &module(&[&section(1, &leb(3_000_000_000))]), "");
    // A body declaring billions of locals.
    let mut fbody = vec![1];
    fbody.extend(leb(4_000_000_000));
    fbody.extend([0x7f, 0x0b]);
    let mut code = vec![1];
    code.extend(leb(fbody.len() as u64));
    code.extend(fbody);
    rejects(
        "billions of locals",
        &module(&[&section(1, &[1, 0x60, 0, 0]), &section(3, &[1, 0]), &section(10, &code)]),
        "locals",
    );
    // A data segment claiming 4 GiB of bytes.
    let mut data = vec![1, 0, 0x41, 0, 0x0b];
    data.extend(leb(4_000_000_000));
    rejects("4 GiB data segment", &module(&[&section(5, &[1, 0, 1]), &section(11, &data)]), "");
    // Billions of element segment entries.
    let mut elem = vec![1, 0, 0x41, 0, 0x0b];
    elem.extend(leb(4_000_000_000));
    rejects(
        "billions of elements",
        &module(&[
            &section(1, &[1, 0x60, 0, 0]),
            &section(4, &[1, 0x70, 0, 1]),
            &section(9, &elem),
        ]),
        "",
    );
}

#[test]
fn deeply_nested_blocks_are_an_error_or_fine_but_never_a_crash() {
    // 100,000 nested blocks: validation and translation use heap stacks, not recursion.
    let depth = 100_000;
    let mut body = vec![0u8];
    for _ in 0..depth {
        body.extend([0x02, 0x40]);
    }
    body.extend(std::iter::repeat_n(0x0bu8, depth + 1));
    let mut code = vec![1];
    code.extend(leb(body.len() as u64));
    code.extend(body);
    let m = module(&[&section(1, &[1, 0x60, 0, 0]), &section(3, &[1, 0]), &section(10, &code)]);
    let engine = Engine::default();
    let r = std::panic::catch_unwind(|| Module::new(&engine, &m));
    assert!(r.is_ok(), "validation of deep nesting panicked");
}

#[test]
fn text_errors_name_the_position() {
    let engine = Engine::default();
    let err = Module::new(&engine, "(module (func (result i32) i32.const))").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("1:") || text.contains("line"), "{text}");
}
