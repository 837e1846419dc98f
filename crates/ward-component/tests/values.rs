//! Component values crossing the boundary both ways: the host calls an export `run`, which
//! passes its argument (as core values, untouched) to an imported host function `echo`, whose
//! result `run` returns. The value is thus lowered into the component, lifted out to the host
//! import, lowered back and lifted out again — with every string encoding and for lists of
//! records, variants, options, results, flags, floats, chars and resources.

mod common;

use common::{echo_component, echo_linker};
use ward_component::{Component, Error, Linker, ResourceAny, ResourceType, Val};

/// Runs `value` through a fresh instance of `wat`; returns what came back and what the host
/// import saw.
fn round_trip(wat: &str, value: Val) -> Result<(Val, Val), Error> {
    round_trip_with(wat, value, |_| Ok(()))
}

fn round_trip_with(
    wat: &str,
    value: Val,
    setup: impl FnOnce(&mut Linker<Vec<Val>>) -> Result<(), Error>,
) -> Result<(Val, Val), Error> {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, wat)?;
    let mut linker = echo_linker(&engine)?;
    setup(&mut linker)?;
    let mut store = ward::Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &component)?;
    let run = instance.get_func("run").expect("export `run`");
    let mut out = [Val::Bool(false)];
    run.call(&mut store, &[value], &mut out)?;
    let [out] = out;
    let seen = store.data().first().cloned().expect("the import was called");
    Ok((out, seen))
}

fn assert_round_trip(decls: &str, params: &[&str], result: &str, value: Val) {
    for encoding in ["utf8", "utf16", "latin1+utf16"] {
        let wat = echo_component(decls, params, result, encoding);
        let (out, seen) =
            round_trip(&wat, value.clone()).unwrap_or_else(|e| panic!("{encoding}: {e}\n{wat}"));
        assert_eq!(seen, value, "the host import saw a different value ({encoding})");
        assert_eq!(out, value, "the value did not come back intact ({encoding})");
    }
}

#[test]
fn strings_in_every_encoding() {
    let decls = r#"(type $s string) (export "t" (type $t (eq $s)))"#;
    for s in ["", "a", "héllo", "ÿ latin-1 only", "☃ snowman", "🍰 astral", "mixed ö ☃ 🍰 ok"]
    {
        assert_round_trip(decls, &["i32", "i32"], "spill", Val::String(s.into()));
    }
    let long: String = "x☃".repeat(700);
    assert_round_trip(decls, &["i32", "i32"], "spill", Val::String(long));
}

#[test]
fn lists_of_records() {
    let decls = r#"(type $r0 (record (field "id" u32) (field "name" string) (field "ok" bool)))
        (export "rec" (type $rec (eq $r0)))
        (type $l (list $rec)) (export "t" (type $t (eq $l)))"#;
    let rec = |i: u32| {
        Val::Record(vec![
            ("id".into(), Val::U32(i)),
            ("name".into(), Val::String(format!("item-{i}-☃"))),
            ("ok".into(), Val::Bool(i.is_multiple_of(2))),
        ])
    };
    assert_round_trip(decls, &["i32", "i32"], "spill", Val::List(vec![]));
    assert_round_trip(decls, &["i32", "i32"], "spill", Val::List((0..100).map(rec).collect()));
}

#[test]
fn variants_options_results() {
    let variant = r#"(type $v0 (variant (case "a" u8) (case "b" string) (case "c") (case "d" f64)))
        (export "t" (type $t (eq $v0)))"#;
    for v in [
        Val::Variant("a".into(), Some(Box::new(Val::U8(200)))),
        Val::Variant("b".into(), Some(Box::new(Val::String("payload ☃".into())))),
        Val::Variant("c".into(), None),
        Val::Variant("d".into(), Some(Box::new(Val::Float64(-2.5)))),
    ] {
        assert_round_trip(variant, &["i32", "i64", "i32"], "spill", v);
    }
    let option = r#"(type $o (option u64)) (export "t" (type $t (eq $o)))"#;
    assert_round_trip(option, &["i32", "i64"], "spill", Val::Option(None));
    assert_round_trip(
        option,
        &["i32", "i64"],
        "spill",
        Val::Option(Some(Box::new(Val::U64(u64::MAX)))),
    );
    let result = r#"(type $r (result string (error u32))) (export "t" (type $t (eq $r)))"#;
    assert_round_trip(
        result,
        &["i32", "i32", "i32"],
        "spill",
        Val::Result(Ok(Some(Box::new(Val::String("fine".into()))))),
    );
    assert_round_trip(
        result,
        &["i32", "i32", "i32"],
        "spill",
        Val::Result(Err(Some(Box::new(Val::U32(7))))),
    );
    let e = r#"(type $e0 (enum "red" "green" "blue")) (export "t" (type $t (eq $e0)))"#;
    assert_round_trip(e, &["i32"], "i32", Val::Enum("blue".into()));
}

#[test]
fn flags_chars_floats_tuples() {
    let flags = r#"(type $f0 (flags "read" "write" "exec")) (export "t" (type $t (eq $f0)))"#;
    assert_round_trip(flags, &["i32"], "i32", Val::Flags(vec!["read".into(), "exec".into()]));
    assert_round_trip(flags, &["i32"], "i32", Val::Flags(vec![]));
    let c = r#"(type $c char) (export "t" (type $t (eq $c)))"#;
    assert_round_trip(c, &["i32"], "i32", Val::Char('🍰'));
    let f = r#"(type $f f64) (export "t" (type $t (eq $f)))"#;
    assert_round_trip(f, &["f64"], "f64", Val::Float64(1.0e300));
    let s = r#"(type $s s8) (export "t" (type $t (eq $s)))"#;
    assert_round_trip(s, &["i32"], "i32", Val::S8(-128));
    let t = r#"(type $t0 (tuple u16 f32 string)) (export "t" (type $t (eq $t0)))"#;
    let tuple = Val::Tuple(vec![Val::U16(65535), Val::Float32(0.5), Val::String("tup".into())]);
    assert_round_trip(t, &["i32", "f32", "i32", "i32"], "spill", tuple);
}

#[test]
fn maps() {
    let decls = r#"(type $m (map string u32)) (export "t" (type $t (eq $m)))"#;
    let entries = vec![
        (Val::String("one".into()), Val::U32(1)),
        (Val::String("☃".into()), Val::U32(u32::MAX)),
    ];
    assert_round_trip(decls, &["i32", "i32"], "spill", Val::Map(entries));
    assert_round_trip(decls, &["i32", "i32"], "spill", Val::Map(vec![]));
    // Entries keep their layout as `tuple<K, V>`: a u8 key, a u64 value at offset 8.
    let wide = r#"(type $m (map u8 (map char u64))) (export "t" (type $t (eq $m)))"#;
    let inner = Val::Map(vec![(Val::Char('x'), Val::U64(7)), (Val::Char('🍰'), Val::U64(8))]);
    assert_round_trip(wide, &["i32", "i32"], "spill", Val::Map(vec![(Val::U8(3), inner)]));
    let wat = echo_component(decls, &["i32", "i32"], "spill", "utf8");
    let e = round_trip(&wat, Val::List(vec![])).unwrap_err();
    assert!(e.to_string().contains("expected a value of type map<string, u32>, got list"), "{e}");
}

#[test]
fn many_parameters_spill_to_memory() {
    // 17 flat values: more than MAX_FLAT_PARAMS, so the arguments go through memory.
    let decls = r#"(type $t0 (tuple u64 u64 u64 u64 u64 u64 u64 u64 u64 u64 u64 u64 u64 u64 u64 u64 u64))
        (export "t" (type $t (eq $t0)))"#;
    let v = Val::Tuple((0..17).map(|i| Val::U64(i * 1_000_000_007)).collect());
    assert_round_trip(decls, &["i32"], "spill", v);
}

#[test]
fn wrong_values_are_usage_errors_not_panics() {
    let decls = r#"(type $s string) (export "t" (type $t (eq $s)))"#;
    let wat = echo_component(decls, &["i32", "i32"], "spill", "utf8");
    let e = round_trip(&wat, Val::U32(1)).unwrap_err();
    assert!(e.to_string().contains("expected a value of type string, got u32"), "{e}");
}

#[test]
fn owned_resources_travel_both_ways() {
    let decls = r#"(export "r" (type $r (sub resource))) (type $o (own $r)) (export "t" (type $t (eq $o)))"#;
    let wat = echo_component(decls, &["i32"], "i32", "utf8");
    let ty = ResourceType::host("thing");
    let value = Val::Resource(ResourceAny::new_own(&ty, 42));
    let ty2 = ty.clone();
    let (out, seen) =
        round_trip_with(&wat, value.clone(), move |l| l.resource("test:echo/echo", "r", ty2))
            .unwrap();
    assert_eq!(seen, value);
    assert_eq!(out, value);
    // A resource of another type is refused before anything is lowered.
    let other = Val::Resource(ResourceAny::new_own(&ResourceType::host("other"), 1));
    let e =
        round_trip_with(&wat, other, move |l| l.resource("test:echo/echo", "r", ty)).unwrap_err();
    assert!(e.to_string().contains("wrong type"), "{e}");
}

/// A component taking `borrow<r>`: it hands the borrow to the host's `rep-of`, then, if
/// `drop` is set, drops its borrow handle as the rules require before returning.
fn borrow_component(drop: bool) -> String {
    let drop_call = if drop { "(call $drop (local.get 0))" } else { "" };
    format!(
        r#"(component
  (import "test:echo/echo" (instance $e
    (export "r" (type $r (sub resource)))
    (export "rep-of" (func (param "x" (borrow $r)) (result u32)))))
  (alias export $e "r" (type $r))
  (alias export $e "rep-of" (func $rep-of))
  (core func $rep-of (canon lower (func $rep-of)))
  (core func $drop (canon resource.drop $r))
  (core module $main
    (import "" "rep-of" (func $rep-of (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (func (export "run") (param i32) (result i32)
      (local $x i32)
      (local.set $x (call $rep-of (local.get 0)))
      {drop_call}
      (local.get $x)))
  (core instance $main (instantiate $main
    (with "" (instance (export "rep-of" (func $rep-of)) (export "drop" (func $drop))))))
  (func (export "run") (param "x" (borrow $r)) (result u32)
    (canon lift (core func $main "run"))))"#
    )
}

fn call_borrow(drop: bool) -> Result<Val, Error> {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, borrow_component(drop))?;
    let ty = ResourceType::host("thing");
    let mut linker = Linker::<()>::new(&engine);
    linker.resource("test:echo/echo", "r", ty.clone())?;
    linker.func_new("test:echo/echo", "rep-of", |_, params, results| {
        let Val::Resource(r) = &params[0] else {
            return Err(Error::Usage("not a resource".into()));
        };
        assert!(!r.is_owned());
        results[0] = Val::U32(r.rep() * 2);
        Ok(())
    })?;
    let mut store = ward::Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &component)?;
    let mut out = [Val::U32(0)];
    let arg = Val::Resource(ResourceAny::new_borrow(&ty, 21));
    instance.get_func("run").unwrap().call(&mut store, &[arg], &mut out)?;
    let [out] = out;
    Ok(out)
}

#[test]
fn borrows_must_be_dropped_before_returning() {
    assert_eq!(call_borrow(true).unwrap(), Val::U32(42));
    let e = call_borrow(false).unwrap_err();
    assert!(e.as_trap().is_some(), "{e}");
    assert!(e.to_string().contains("borrow handles still remain at the end of the call"), "{e}");
}

#[test]
fn invalid_guest_values_trap() {
    let cases = [
        ("", "char", "(i32.const 0xd800)", "invalid `char`"),
        ("", "bool", "(i32.const 2)", ""),
        (
            r#"(type $e0 (enum "a" "b")) (export $e "e" (type $e0))"#,
            "$e",
            "(i32.const 2)",
            "invalid variant discriminant",
        ),
    ];
    for (decl, ty, value, message) in cases {
        let wat = format!(
            r#"(component
  {decl}
  (core module $m (func (export "f") (result i32) {value}))
  (core instance $m (instantiate $m))
  (func (export "f") (result {ty}) (canon lift (core func $m "f"))))"#
        );
        let engine = ward::Engine::default();
        let component = Component::new(&engine, &wat).unwrap();
        let mut store = ward::Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
        let mut out = [Val::Bool(false)];
        let r = instance.get_func("f").unwrap().call(&mut store, &[], &mut out);
        if message.is_empty() {
            assert_eq!(out[0], Val::Bool(true), "any non-zero bool is true");
        } else {
            let e = r.unwrap_err();
            assert!(e.to_string().contains(message), "{ty}: {e}");
        }
    }
}
