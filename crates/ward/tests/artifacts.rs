//! Ahead-of-time artifacts (`Module::serialize`, `Module::deserialize[_file]`): as uses (a round
//! trip gives the same results and burns the same fuel as the compiled module) and as attacks
//! (truncated, bit-flipped, foreign or mismatched artifacts are clean errors that name the
//! problem, never a crash).

use ward::{Config, Engine, Error, Instance, Linker, Module, Store, Tier, TrapCode, Val};

fn engine(setup: &dyn Fn(&mut Config)) -> Engine {
    let mut config = Config::new();
    config.tier(Tier::Native);
    setup(&mut config);
    Engine::new(&config)
}

fn native() -> Engine {
    engine(&|_| {})
}

/// Loads `bytes`; an artifact this test made itself, or one it damaged on purpose (which the
/// loader must refuse before running anything).
fn load(engine: &Engine, bytes: &[u8]) -> ward::Result<Module> {
    // SAFETY: every artifact here comes from `serialize` of this Ward, or is damaged so that
    // the header or the checksum refuses it (that is what these tests check).
    unsafe { Module::deserialize(engine, bytes) }
}

fn artifact_error(engine: &Engine, bytes: &[u8]) -> String {
    match load(engine, bytes) {
        Ok(_) => panic!("a damaged artifact loaded"),
        Err(e @ Error::Artifact(_)) => e.to_string(),
        Err(e) => panic!("not an artifact error: {e:?}"),
    }
}

/// Exercises most runtime calls: memory growth and bulk operations, tables and
/// `call_indirect`, a host import, loops with fuel checkpoints, a relaxed SIMD dot product
/// (evaluated by a runtime call).
const PROGRAM: &str = r#"(module
  (import "host" "add" (func $add (param i32 i32) (result i32)))
  (memory 1)
  (table 4 funcref)
  (elem (i32.const 0) $sq $cube)
  (type $un (func (param i32) (result i32)))
  (data "hello, artifact")
  (func $sq (param i32) (result i32) local.get 0 local.get 0 i32.mul)
  (func $cube (param i32) (result i32) local.get 0 local.get 0 i32.mul local.get 0 i32.mul)
  (func (export "sum") (param $n i32) (result i64) (local $acc i64)
    (block $done (loop $l
      local.get $n i32.eqz br_if $done
      local.get $acc local.get $n i64.extend_i32_u i64.add local.set $acc
      local.get $n i32.const 1 i32.sub local.set $n
      br $l))
    local.get $acc)
  (func (export "indirect") (param i32 i32) (result i32)
    local.get 1 local.get 0 call_indirect (type $un))
  (func (export "host") (param i32) (result i32)
    local.get 0 i32.const 1000 call $add)
  (func (export "grow") (result i32)
    i32.const 2 memory.grow drop memory.size)
  (func (export "bulk") (result i32)
    (memory.fill (i32.const 100) (i32.const 7) (i32.const 16))
    (memory.copy (i32.const 200) (i32.const 0) (i32.const 15))
    (i32.add (i32.load8_u (i32.const 207)) (i32.load8_u (i32.const 100))))
  (func (export "dot") (result i32)
    (i32x4.extract_lane 0
      (i32x4.relaxed_dot_i8x16_i7x16_add_s
        (v128.const i8x16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
        (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1)
        (v128.const i32x4 100 0 0 0))))
  (func (export "trap") (result i32) i32.const 1 i32.const 0 i32.div_u))
"#;

/// Every export's outcome (values or trap) and the fuel each call burned.
fn run_all(engine: &Engine, module: &Module, fuel: bool) -> Vec<(String, String, u64)> {
    let mut store = Store::new(engine, ());
    if fuel {
        store.set_fuel(1 << 40).unwrap();
    }
    let mut linker = Linker::new(engine);
    linker.func_wrap("host", "add", |a: i32, b: i32| a + b).unwrap();
    let instance = linker.instantiate(&mut store, module).unwrap();
    let calls: Vec<(&str, Vec<Val>)> = vec![
        ("sum", vec![Val::I32(1000)]),
        ("indirect", vec![Val::I32(0), Val::I32(7)]),
        ("indirect", vec![Val::I32(1), Val::I32(7)]),
        ("indirect", vec![Val::I32(3), Val::I32(7)]),
        ("host", vec![Val::I32(5)]),
        ("grow", vec![]),
        ("bulk", vec![]),
        ("dot", vec![]),
        ("trap", vec![]),
    ];
    calls
        .into_iter()
        .map(|(name, args)| {
            let f = instance.get_func(&mut store, name).unwrap();
            let mut results = vec![Val::I32(0); f.ty(&store).results().len()];
            let before = if fuel { store.get_fuel().unwrap() } else { 0 };
            let outcome = match f.call(&mut store, &args, &mut results) {
                Ok(()) => format!("{results:?}"),
                Err(e) => format!("trap: {:?}", e.as_trap().map(|t| t.code())),
            };
            let used = if fuel { before - store.get_fuel().unwrap() } else { 0 };
            (name.to_string(), outcome, used)
        })
        .collect()
}

#[test]
fn a_round_trip_gives_the_same_results_and_burns_the_same_fuel() {
    for fuel in [false, true] {
        let engine = engine(&|c| {
            c.consume_fuel(fuel);
        });
        let module = Module::new(&engine, PROGRAM).unwrap();
        assert_eq!(module.tier(), Tier::Native, "{:?}", module.native_fallback_reason());
        let bytes = module.serialize().unwrap();
        let loaded = load(&engine, &bytes).unwrap();
        assert_eq!(loaded.tier(), Tier::Native);
        let expected = run_all(&engine, &module, fuel);
        assert_eq!(run_all(&engine, &loaded, fuel), expected);
        assert!(expected.iter().any(|(_, o, _)| o.contains("IntegerDivideByZero")));
        if fuel {
            assert!(expected.iter().all(|(_, _, used)| *used > 0));
        }
        // The loaded module saves to the same bytes: nothing of this process is in them.
        assert_eq!(loaded.serialize().unwrap(), bytes);
        // Exports and imports survive.
        assert_eq!(loaded.exports().count(), module.exports().count());
        assert_eq!(loaded.imports().count(), 1);
    }
}

#[test]
fn an_artifact_file_is_mapped_and_runs() {
    let engine = native();
    let module = Module::new(&engine, PROGRAM).unwrap();
    let dir = std::env::temp_dir().join(format!("ward-artifacts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("program.cwasm");
    std::fs::write(&path, module.serialize().unwrap()).unwrap();
    // SAFETY: written just above by `serialize`, and left alone while the module lives.
    let loaded = unsafe { Module::deserialize_file(&engine, &path) }.unwrap();
    assert_eq!(run_all(&engine, &loaded, false), run_all(&engine, &module, false));
    // Modules outlive the engine's other modules and each other; the mapping stays while
    // an instance holds the module.
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "add", |a: i32, b: i32| a + b).unwrap();
    let instance = linker.instantiate(&mut store, &loaded).unwrap();
    drop(loaded);
    let sum = instance.get_typed_func::<i32, i64>(&mut store, "sum").unwrap();
    assert_eq!(sum.call(&mut store, 10).unwrap(), 55);

    // Errors name the file.
    let empty = dir.join("empty.cwasm");
    std::fs::write(&empty, b"").unwrap();
    // SAFETY: refused before anything is mapped as code.
    let err = unsafe { Module::deserialize_file(&engine, &empty) }.unwrap_err().to_string();
    assert!(err.contains("empty.cwasm") && err.contains("is empty"), "{err}");
    let wasm = dir.join("plain.wasm");
    std::fs::write(&wasm, wat::parse_str("(module)").unwrap()).unwrap();
    // SAFETY: as above.
    let err = unsafe { Module::deserialize_file(&engine, &wasm) }.unwrap_err().to_string();
    assert!(
        err.contains("plain.wasm") && err.contains("WebAssembly binary, not a Ward artifact"),
        "{err}"
    );
    let missing = dir.join("missing.cwasm");
    // SAFETY: as above.
    let err = unsafe { Module::deserialize_file(&engine, &missing) }.unwrap_err().to_string();
    assert!(err.contains("missing.cwasm"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_artifacts_are_errors() {
    let engine = native();
    let bytes = Module::new(&engine, PROGRAM).unwrap().serialize().unwrap();
    let step = (bytes.len() / 200).max(1);
    for len in (0..bytes.len()).step_by(step).chain([1, 7, 8, 31, 32, bytes.len() - 1]) {
        let err = artifact_error(&engine, &bytes[..len]);
        let expected = if len == 0 { "is empty" } else { "is truncated" };
        assert!(err.starts_with("the artifact ") && err.contains(expected), "{len}: {err}");
    }
    // Longer than its header says.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(artifact_error(&engine, &longer).contains("is corrupt"));
}

#[test]
fn bit_flips_are_errors() {
    let engine = native();
    let bytes = Module::new(&engine, PROGRAM).unwrap().serialize().unwrap();
    let step = (bytes.len() / 500).max(1);
    for at in (0..bytes.len()).step_by(step).chain(0..40).chain(bytes.len() - 8..bytes.len()) {
        for bit in [0, 3, 7] {
            let mut bad = bytes.clone();
            bad[at] ^= 1 << bit;
            let err = artifact_error(&engine, &bad);
            let named = err.contains("checksum mismatch")
                || (at < 8 && err.contains("not a Ward artifact"))
                || ((8..12).contains(&at) && err.contains("format version"))
                || ((12..16).contains(&at) && err.contains("reserved header bytes"))
                || ((24..32).contains(&at)
                    && (err.contains("truncated") || err.contains("corrupt")));
            assert!(named, "byte {at} bit {bit}: {err}");
        }
    }
}

/// The documented checksum (`api/artifact.rs`), to forge artifacts that pass it: what the
/// checks after the checksum must catch.
fn checksum(bytes: &[u8]) -> u64 {
    const K: [u64; 4] = [
        0x9e37_79b9_7f4a_7c15,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0xd6e8_feb8_6659_fd93,
    ];
    let mut h = K;
    let mut chunks = bytes.chunks_exact(32);
    for c in &mut chunks {
        for (i, lane) in h.iter_mut().enumerate() {
            let w = u64::from_le_bytes(c[i * 8..i * 8 + 8].try_into().unwrap());
            *lane = ((*lane ^ w).wrapping_mul(K[i])).rotate_left(31);
        }
    }
    for (i, word) in chunks.remainder().chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..word.len()].copy_from_slice(word);
        h[i] = ((h[i] ^ u64::from_le_bytes(w)).wrapping_mul(K[i])).rotate_left(31);
    }
    let mut f = bytes.len() as u64;
    for (i, lane) in h.iter().enumerate() {
        f = ((f ^ lane).wrapping_mul(K[(i + 1) % 4])).rotate_left(29);
    }
    f ^ (f >> 32)
}

/// The version an artifact records: the crate's, and the build's (a hash of Ward's sources).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("WARD_BUILD_ID"));

/// Fixes the length and checksum of an edited artifact.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = bytes.len() as u64;
    bytes[24..32].copy_from_slice(&len.to_le_bytes());
    let sum = checksum(&bytes[24..]);
    bytes[16..24].copy_from_slice(&sum.to_le_bytes());
    bytes
}

/// Replaces the first length-prefixed string `old` of the header with `new`, resealed.
fn replace_str(bytes: &[u8], old: &str, new: &str) -> Vec<u8> {
    let mut pattern = (old.len() as u32).to_le_bytes().to_vec();
    pattern.extend_from_slice(old.as_bytes());
    let at = bytes.windows(pattern.len()).position(|w| w == pattern).expect("the string is there");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&(new.len() as u32).to_le_bytes());
    out.extend_from_slice(new.as_bytes());
    out.extend_from_slice(&bytes[at + pattern.len()..]);
    reseal(out)
}

#[test]
fn resealing_an_unchanged_artifact_keeps_it_valid() {
    let engine = native();
    let bytes = Module::new(&engine, PROGRAM).unwrap().serialize().unwrap();
    assert_eq!(reseal(bytes.clone()), bytes);
    load(&engine, &replace_str(&bytes, VERSION, VERSION)).unwrap();
}

#[test]
fn mismatched_artifacts_name_what_differs() {
    let engine = native();
    let bytes = Module::new(&engine, PROGRAM).unwrap().serialize().unwrap();

    let mut format = bytes.clone();
    format[8..12].copy_from_slice(&7u32.to_le_bytes());
    let err = artifact_error(&engine, &reseal(format));
    assert!(err.contains("format version 7"), "{err}");

    let err = artifact_error(&engine, &replace_str(&bytes, VERSION, "0.0.1-old"));
    assert!(err.contains("compiled by Ward 0.0.1-old") && err.contains(VERSION), "{err}");

    // Another build of the same version (its code or runtime calls may differ).
    let other = format!("{}+0123456789abcdef", env!("CARGO_PKG_VERSION"));
    let err = artifact_error(&engine, &replace_str(&bytes, VERSION, &other));
    assert!(err.contains(&format!("compiled by Ward {other}; this is Ward {VERSION}")), "{err}");

    let err = artifact_error(&engine, &replace_str(&bytes, "0.135.8", "0.136.0"));
    assert!(err.contains("Cranelift 0.136.0"), "{err}");

    let err = artifact_error(
        &engine,
        &replace_str(&bytes, "x86_64-unknown-linux-gnu", "aarch64-apple-darwin"),
    );
    assert!(err.contains("compiled for aarch64-apple-darwin"), "{err}");

    let err = artifact_error(&engine, &replace_str(&bytes, "has_sse41", "has_avx1024"));
    assert!(err.contains("CPU features this host lacks: has_avx1024"), "{err}");

    // Engine settings that shape the code.
    let fuel = engine_error(&bytes, &|c| {
        c.consume_fuel(true);
    });
    assert!(fuel.contains("fuel=off (the engine has fuel=on)"), "{fuel}");
    let interruptible = engine_error(&bytes, &|c| {
        c.interruptible(true);
    });
    assert!(interruptible.contains("interruptible=off"), "{interruptible}");
    let depth = engine_error(&bytes, &|c| {
        c.max_call_depth(100);
    });
    assert!(depth.contains("max_call_depth=20000 (the engine has max_call_depth=100)"), "{depth}");
    let features = engine_error(&bytes, &|c| {
        c.wasm_multi_memory(false);
    });
    assert!(
        features.contains("WebAssembly features") && features.contains("MULTI_MEMORY"),
        "{features}"
    );
    let tier = engine_error(&bytes, &|c| {
        c.tier(Tier::Interpreter);
    });
    assert!(tier.contains("tier=native (the engine has tier=interpreter)"), "{tier}");

    // A setting this Ward does not know.
    let err = artifact_error(&engine, &replace_str(&bytes, "max_call_depth", "max_frobs"));
    assert!(err.contains("max_frobs=20000, which this Ward does not know"), "{err}");
}

fn engine_error(bytes: &[u8], setup: &dyn Fn(&mut Config)) -> String {
    artifact_error(&engine(setup), bytes)
}

#[test]
fn things_that_are_not_artifacts_are_errors() {
    let engine = native();
    let err = artifact_error(&engine, &wat::parse_str(PROGRAM).unwrap());
    assert!(err.contains("is a WebAssembly binary, not a Ward artifact"), "{err}");
    assert!(artifact_error(&engine, b"").contains("the artifact is empty"));
    assert!(artifact_error(&engine, b"(module)").contains("not a Ward artifact"));
    assert!(artifact_error(&engine, b"\0war").contains("truncated"));
    assert!(artifact_error(&engine, &[0xff; 4096]).contains("not a Ward artifact"));

    // The other way round: an artifact given to `Module::new`.
    let bytes = Module::new(&engine, PROGRAM).unwrap().serialize().unwrap();
    let err = Module::new(&engine, &bytes).unwrap_err().to_string();
    assert!(err.contains("Module::deserialize"), "{err}");
}

#[test]
fn a_module_the_native_tier_does_not_cover_is_saved_as_interpreted() {
    let engine = native();
    // GC operators (`ref.i31`) are outside the native tier's subset.
    let wat = r#"(module
      (tag $e (param i32))
      (func (export "f") (result i32)
        (drop (ref.i31 (i32.const 1)))
        try (result i32)
          i32.const 42
          throw $e
        catch $e
        end))"#;
    let module = Module::new(&engine, wat).unwrap();
    assert_eq!(module.tier(), Tier::Interpreter);
    let reason = module.native_fallback_reason().unwrap().to_string();
    let loaded = load(&engine, &module.serialize().unwrap()).unwrap();
    assert_eq!(loaded.tier(), Tier::Interpreter);
    assert_eq!(loaded.native_fallback_reason(), Some(reason.as_str()));
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &loaded, &[]).unwrap();
    let f = instance.get_typed_func::<(), i32>(&mut store, "f").unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap(), 42);
}

#[test]
fn only_native_engines_make_artifacts() {
    let engine = engine(&|c| {
        c.tier(Tier::Interpreter);
    });
    let module = Module::new(&engine, "(module)").unwrap();
    let err = module.serialize().unwrap_err().to_string();
    assert!(err.contains("Tier::Native"), "{err}");
}

#[test]
fn traps_in_loaded_code_report_the_same() {
    let engine = native();
    let module = Module::new(&engine, PROGRAM).unwrap();
    let loaded = load(&engine, &module.serialize().unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "add", |a: i32, b: i32| a + b).unwrap();
    let instance = linker.instantiate(&mut store, &loaded).unwrap();
    let f = instance.get_typed_func::<(), i32>(&mut store, "trap").unwrap();
    let err = f.call(&mut store, ()).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::IntegerDivideByZero));
}

/// A module with `n` functions of varied sizes (large enough to be compiled on several
/// threads); function `i` returns a value computed from `i`. Functions listed in `unsupported`
/// use `ref.i31`, a GC operator, which the native tier does not cover.
fn many_functions(n: usize, unsupported: &[usize]) -> String {
    let mut wat = String::from("(module (tag $e) (memory 1)\n");
    for i in 0..n {
        let mut body = format!("(local $x i32) (local.set $x (i32.const {i}))\n");
        for k in 0..(i % 23) + 5 {
            body.push_str(&format!(
                "(local.set $x (i32.add (i32.mul (local.get $x) (i32.const {})) (i32.load (i32.const {}))))\n",
                k + 3,
                (k * 4) % 256
            ));
        }
        if unsupported.contains(&i) {
            body.push_str("(drop (ref.i31 (i32.const 1)))\n");
        }
        wat.push_str(&format!("(func (export \"f{i}\") (result i32) {body} (local.get $x))\n"));
    }
    wat.push(')');
    wat
}

#[test]
fn whole_module_compilation_is_deterministic_and_in_order() {
    let engine = native();
    let wat = many_functions(600, &[]);
    let a = Module::new(&engine, &wat).unwrap();
    assert_eq!(a.tier(), Tier::Native, "{:?}", a.native_fallback_reason());
    let bytes = a.serialize().unwrap();
    for _ in 0..3 {
        assert!(Module::new(&engine, &wat).unwrap().serialize().unwrap() == bytes);
    }
    // Each export runs its own function's code: compare with the interpreter.
    let interp = Engine::default();
    let b = Module::new(&interp, &wat).unwrap();
    let loaded = load(&engine, &bytes).unwrap();
    let mut ns = Store::new(&engine, ());
    let mut is = Store::new(&interp, ());
    let ni = Instance::new(&mut ns, &loaded, &[]).unwrap();
    let ii = Instance::new(&mut is, &b, &[]).unwrap();
    for i in (0..600).step_by(7) {
        let name = format!("f{i}");
        let n = ni.get_typed_func::<(), i32>(&mut ns, &name).unwrap().call(&mut ns, ()).unwrap();
        let v = ii.get_typed_func::<(), i32>(&mut is, &name).unwrap().call(&mut is, ()).unwrap();
        assert_eq!(n, v, "{name}");
    }

    // The reason for falling back is the lowest-numbered function's, whatever the threads did.
    for _ in 0..3 {
        let m = Module::new(&engine, many_functions(600, &[450, 130, 520])).unwrap();
        let reason = m.native_fallback_reason().unwrap();
        assert!(reason.ends_with("of function 130"), "{reason}");
    }
}
