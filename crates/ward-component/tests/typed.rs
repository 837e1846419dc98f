//! Typed calls (`TypedFunc`): Rust values lowered straight into a component and lifted straight
//! out, checked against the dynamic path. The component's `run` forwards its argument to a host
//! import `echo` defined with `Val`s, so each value is lowered by the typed code, lifted by the
//! dynamic code (what the host import sees must equal the expected `Val`), lowered back by the
//! dynamic code and lifted by the typed code.

mod common;

use common::{echo_component, echo_linker};
use ward_component::{Component, ComponentType, Error, Lift, Linker, Lower, Val};

ward_component::record! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Item {
        pub id: u32,
        pub item_name: String,
        pub ok: bool,
    }
}

ward_component::record! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Point {
        pub x: u8,
        pub y: f64,
        pub z: i16,
    }
}

ward_component::enumeration! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Color { Red, Green, DeepBlue }
}

ward_component::variant! {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Shape {
        Small(u8),
        Named(String),
        Empty,
        Wide(f64),
        Pair((f32, u32)),
    }
}

ward_component::flags! {
    pub struct Access { READ, WRITE, EXEC }
}

ward_component::flags! {
    pub struct Many { F0, F1, F2, F3, F4, F5, F6, F7, F8, F9 }
}

const ENCODINGS: [&str; 3] = ["utf8", "utf16", "latin1+utf16"];

/// Calls `run` of `wat` typed as `(P,) -> (R,)` with `value`; returns the result and the `Val`
/// the host import saw.
fn typed_round_trip<P: Lower, R: Lift>(wat: &str, value: P) -> Result<(R, Val), Error> {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, wat)?;
    let linker = echo_linker(&engine)?;
    let mut store = ward::Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &component)?;
    let run = instance.get_typed_func::<(P,), (R,)>(&mut store, "run")?;
    let (out,) = run.call(&mut store, (value,))?;
    let seen = store.data().first().cloned().expect("the import was called");
    Ok((out, seen))
}

/// Round-trips `value` in every string encoding; checks what the host saw and what came back.
fn check<V: Lower + Lift + Clone + PartialEq + std::fmt::Debug>(
    decls: &str,
    params: &[&str],
    result: &str,
    value: V,
    expected: Val,
) {
    for encoding in ENCODINGS {
        let wat = echo_component(decls, params, result, encoding);
        let (out, seen) = typed_round_trip::<V, V>(&wat, value.clone())
            .unwrap_or_else(|e| panic!("{encoding}: {e}\n{wat}"));
        assert_eq!(seen, expected, "the host import saw a different value ({encoding})");
        assert_eq!(out, value, "the value did not come back intact ({encoding})");
    }
}

fn ty(t: &str) -> String {
    format!(r#"(type $x {t}) (export "t" (type $t (eq $x)))"#)
}

#[test]
fn numbers_bool_char() {
    check(&ty("u8"), &["i32"], "i32", 200u8, Val::U8(200));
    check(&ty("s8"), &["i32"], "i32", -128i8, Val::S8(-128));
    check(&ty("u16"), &["i32"], "i32", 65535u16, Val::U16(65535));
    check(&ty("s16"), &["i32"], "i32", -2i16, Val::S16(-2));
    check(&ty("u32"), &["i32"], "i32", u32::MAX, Val::U32(u32::MAX));
    check(&ty("s32"), &["i32"], "i32", i32::MIN, Val::S32(i32::MIN));
    check(&ty("u64"), &["i64"], "i64", u64::MAX, Val::U64(u64::MAX));
    check(&ty("s64"), &["i64"], "i64", -5i64, Val::S64(-5));
    check(&ty("f32"), &["f32"], "f32", -0.25f32, Val::Float32(-0.25));
    check(&ty("f64"), &["f64"], "f64", 1.0e300f64, Val::Float64(1.0e300));
    check(&ty("bool"), &["i32"], "i32", true, Val::Bool(true));
    check(&ty("char"), &["i32"], "i32", '🍰', Val::Char('🍰'));
}

#[test]
fn strings_in_every_encoding() {
    for s in ["", "a", "héllo", "ÿ latin-1 only", "☃ snowman", "🍰 astral", "mixed ö ☃ 🍰 ok"]
    {
        check(&ty("string"), &["i32", "i32"], "spill", s.to_string(), Val::String(s.into()));
    }
    let long: String = "x☃".repeat(700);
    check(&ty("string"), &["i32", "i32"], "spill", long.clone(), Val::String(long));
    // A borrowed `&str` goes in, a `String` comes out.
    let wat = echo_component(&ty("string"), &["i32", "i32"], "spill", "utf16");
    let (out, _) = typed_round_trip::<&str, String>(&wat, "borrowed ☃").unwrap();
    assert_eq!(out, "borrowed ☃");
}

#[test]
fn lists() {
    let bytes: Vec<u8> = (0..=255).collect();
    check(&ty("(list u8)"), &["i32", "i32"], "spill", bytes.clone(), Val::Bytes(bytes));
    let words = vec![1u32, 2, u32::MAX];
    let expected = Val::List(words.iter().map(|w| Val::U32(*w)).collect());
    check(&ty("(list u32)"), &["i32", "i32"], "spill", words, expected);
    let strings = vec!["a".to_string(), String::new(), "☃🍰".to_string()];
    let expected = Val::List(strings.iter().map(|s| Val::String(s.clone())).collect());
    check(&ty("(list string)"), &["i32", "i32"], "spill", strings, expected);
    let nested = vec![vec![1u16, 2], vec![], vec![3]];
    let expected = Val::List(
        nested.iter().map(|l| Val::List(l.iter().map(|x| Val::U16(*x)).collect())).collect(),
    );
    check(&ty("(list (list u16))"), &["i32", "i32"], "spill", nested, expected);
    let empty: Vec<String> = Vec::new();
    check(&ty("(list string)"), &["i32", "i32"], "spill", empty, Val::List(vec![]));
    // A borrowed slice goes in.
    let wat = echo_component(&ty("(list u32)"), &["i32", "i32"], "spill", "utf8");
    let (out, _) = typed_round_trip::<&[u32], Vec<u32>>(&wat, &[7, 8, 9]).unwrap();
    assert_eq!(out, [7, 8, 9]);
}

fn item_decls() -> String {
    r#"(type $r0 (record (field "id" u32) (field "item-name" string) (field "ok" bool)))
        (export "item" (type $item (eq $r0)))"#
        .to_string()
}

fn item_val(it: &Item) -> Val {
    Val::Record(vec![
        ("id".into(), Val::U32(it.id)),
        ("item-name".into(), Val::String(it.item_name.clone())),
        ("ok".into(), Val::Bool(it.ok)),
    ])
}

#[test]
fn records_and_lists_of_records() {
    let decls =
        format!(r#"{} (type $l (list $item)) (export "t" (type $t (eq $l)))"#, item_decls());
    let items: Vec<Item> = (0..100)
        .map(|i| Item { id: i, item_name: format!("item-{i}-☃"), ok: i % 2 == 0 })
        .collect();
    let expected = Val::List(items.iter().map(item_val).collect());
    check(&decls, &["i32", "i32"], "spill", items, expected);
    let one = format!(r#"{} (export "t" (type $t (eq $item)))"#, item_decls());
    let it = Item { id: 9, item_name: "nine".into(), ok: true };
    check(&one, &["i32", "i32", "i32", "i32"], "spill", it.clone(), item_val(&it));
    // Plain records (no pointers) in a list are stored in one pass.
    let p = r#"(type $p0 (record (field "x" u8) (field "y" f64) (field "z" s16)))
        (export "p" (type $p (eq $p0))) (type $l (list $p)) (export "t" (type $t (eq $l)))"#;
    let points: Vec<Point> =
        (0..50).map(|i| Point { x: i as u8, y: i as f64 / 3.0, z: -(i as i16) }).collect();
    let expected = Val::List(
        points
            .iter()
            .map(|p| {
                Val::Record(vec![
                    ("x".into(), Val::U8(p.x)),
                    ("y".into(), Val::Float64(p.y)),
                    ("z".into(), Val::S16(p.z)),
                ])
            })
            .collect(),
    );
    assert_eq!((Point::SIZE, Point::ALIGN), (24, 8));
    check(p, &["i32", "i32"], "spill", points, expected);
}

#[test]
fn options_results_tuples() {
    let some = |v: Val| Some(Box::new(v));
    check(&ty("(option u64)"), &["i32", "i64"], "spill", None::<u64>, Val::Option(None));
    check(
        &ty("(option u64)"),
        &["i32", "i64"],
        "spill",
        Some(u64::MAX),
        Val::Option(some(Val::U64(u64::MAX))),
    );
    check(
        &ty("(option (option u8))"),
        &["i32", "i32", "i32"],
        "spill",
        Some(None::<u8>),
        Val::Option(some(Val::Option(None))),
    );
    check(
        &ty("(option string)"),
        &["i32", "i32", "i32"],
        "spill",
        Some("☃".to_string()),
        Val::Option(some(Val::String("☃".into()))),
    );
    let r = ty("(result string (error u32))");
    check(
        &r,
        &["i32", "i32", "i32"],
        "spill",
        Ok::<String, u32>("fine".into()),
        Val::Result(Ok(some(Val::String("fine".into())))),
    );
    check(
        &r,
        &["i32", "i32", "i32"],
        "spill",
        Err::<String, u32>(7),
        Val::Result(Err(some(Val::U32(7)))),
    );
    // Joined payload slots: an f32 and a u64 share one i64 slot.
    let j = ty("(result f32 (error u64))");
    check(
        &j,
        &["i32", "i64"],
        "spill",
        Ok::<f32, u64>(1.5),
        Val::Result(Ok(some(Val::Float32(1.5)))),
    );
    check(
        &j,
        &["i32", "i64"],
        "spill",
        Err::<f32, u64>(u64::MAX),
        Val::Result(Err(some(Val::U64(u64::MAX)))),
    );
    // `()` stands for an absent payload.
    let e = ty("(result (error string))");
    check(&e, &["i32", "i32", "i32"], "spill", Ok::<(), String>(()), Val::Result(Ok(None)));
    check(
        &e,
        &["i32", "i32", "i32"],
        "spill",
        Err::<(), String>("bad".into()),
        Val::Result(Err(some(Val::String("bad".into())))),
    );
    check(&ty("(result)"), &["i32"], "i32", Err::<(), ()>(()), Val::Result(Err(None)));
    let t = ty("(tuple u16 f32 string)");
    check(
        &t,
        &["i32", "f32", "i32", "i32"],
        "spill",
        (65535u16, 0.5f32, "tup".to_string()),
        Val::Tuple(vec![Val::U16(65535), Val::Float32(0.5), Val::String("tup".into())]),
    );
}

#[test]
fn enums_variants_flags() {
    let e = ty(r#"(enum "red" "green" "deep-blue")"#);
    check(&e, &["i32"], "i32", Color::DeepBlue, Val::Enum("deep-blue".into()));
    check(&e, &["i32"], "i32", Color::Red, Val::Enum("red".into()));
    let v =
        ty(r#"(variant (case "small" u8) (case "named" string) (case "empty") (case "wide" f64)
             (case "pair" (tuple f32 u32)))"#);
    let params = ["i32", "i64", "i32"];
    let case = |n: &str, p: Option<Val>| Val::Variant(n.into(), p.map(Box::new));
    for (value, expected) in [
        (Shape::Small(200), case("small", Some(Val::U8(200)))),
        (Shape::Named("payload ☃".into()), case("named", Some(Val::String("payload ☃".into())))),
        (Shape::Empty, case("empty", None)),
        (Shape::Wide(-2.5), case("wide", Some(Val::Float64(-2.5)))),
        (
            Shape::Pair((0.75, 12)),
            case("pair", Some(Val::Tuple(vec![Val::Float32(0.75), Val::U32(12)]))),
        ),
    ] {
        check(&v, &params, "spill", value, expected);
    }
    let f = ty(r#"(flags "read" "write" "exec")"#);
    check(
        &f,
        &["i32"],
        "i32",
        Access::READ | Access::EXEC,
        Val::Flags(vec!["read".into(), "exec".into()]),
    );
    check(&f, &["i32"], "i32", Access::empty(), Val::Flags(vec![]));
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let many = ty(&format!("(flags {})", quoted.join(" ")));
    assert_eq!((Many::SIZE, Many::ALIGN), (2, 2));
    check(&many, &["i32"], "i32", Many::F0 | Many::F9, Val::Flags(vec!["f0".into(), "f9".into()]));
    // In memory too: a list of flags and variants.
    let lv = format!(
        r#"(type $f0 (flags {})) (export "f" (type $f (eq $f0)))
           (type $l (list (tuple $f u8))) (export "t" (type $t (eq $l)))"#,
        quoted.join(" ")
    );
    let value = vec![(Many::F1 | Many::F8, 1u8), (Many::empty(), 2)];
    let expected = Val::List(vec![
        Val::Tuple(vec![Val::Flags(vec!["f1".into(), "f8".into()]), Val::U8(1)]),
        Val::Tuple(vec![Val::Flags(vec![]), Val::U8(2)]),
    ]);
    check(&lv, &["i32", "i32"], "spill", value, expected);
}

#[test]
fn maps() {
    use std::collections::{BTreeMap, HashMap};
    let decls = ty("(map string u32)");
    let map: BTreeMap<String, u32> =
        [("one".to_string(), 1), ("two ☃".to_string(), 2)].into_iter().collect();
    let expected =
        Val::Map(map.iter().map(|(k, v)| (Val::String(k.clone()), Val::U32(*v))).collect());
    check(&decls, &["i32", "i32"], "spill", map, expected);
    let nested = ty("(map u8 (map char u64))");
    let inner: HashMap<char, u64> = [('x', 7)].into_iter().collect();
    let map: HashMap<u8, HashMap<char, u64>> = [(3, inner)].into_iter().collect();
    let expected = Val::Map(vec![(Val::U8(3), Val::Map(vec![(Val::Char('x'), Val::U64(7))]))]);
    check(&nested, &["i32", "i32"], "spill", map, expected);
    let err = {
        let wat = echo_component(&decls, &["i32", "i32"], "spill", "utf8");
        typed_round_trip::<BTreeMap<String, u64>, BTreeMap<String, u64>>(&wat, BTreeMap::new())
            .unwrap_err()
    };
    assert_eq!(
        err.to_string(),
        "type mismatch for `run`: parameter 0 (`x`): map value: component type `u32` does not match Rust type `u64`"
    );
}

type Wide =
    ((u64, u64, u64, u64, u64, u64, u64, u64), (u64, u64, u64, u64, u64, u64, u64, u64), u64);

/// A value of 17 flat values, more than 16, so it goes through memory: its type declarations,
/// the value and the value as a `Val`.
fn wide() -> (String, Wide, Val) {
    let decls = ty("(tuple (tuple u64 u64 u64 u64 u64 u64 u64 u64) (tuple u64 u64 u64 u64 u64 u64 u64 u64) u64)");
    let a = (1u64, 2u64, 3u64, 4u64, 5u64, 6u64, 7u64, 8u64);
    let b = (9u64, 10u64, 11u64, 12u64, 13u64, 14u64, 15u64, 16u64);
    let expected = Val::Tuple(vec![
        Val::Tuple((1..=8).map(Val::U64).collect()),
        Val::Tuple((9..=16).map(Val::U64).collect()),
        Val::U64(17),
    ]);
    (decls, (a, b, 17), expected)
}

#[test]
fn many_parameters_spill_to_memory() {
    let (decls, value, expected) = wide();
    check(&decls, &["i32"], "spill", value, expected);
}

/// A component exporting `f: func(a: u32, b: string) -> list<item>` (never called).
fn signature_component() -> Component {
    let engine = ward::Engine::default();
    let wat = format!(
        r#"(component
  {}
  (type $r0 (record (field "id" u32) (field "item-name" string) (field "ok" bool)))
  (export $item "item" (type $r0))
  (core module $m
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
    (func (export "f") (param i32 i32 i32) (result i32) unreachable)
    (func (export "g")))
  (core instance $m (instantiate $m))
  (func (export "f") (param "a" u32) (param "b" string) (result (list $item))
    (canon lift (core func $m "f") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "g") (canon lift (core func $m "g"))))"#,
        ""
    );
    Component::new(&engine, wat).unwrap()
}

#[test]
fn mismatches_name_the_parameter_and_both_types() {
    let component = signature_component();
    let engine = component.engine().clone();
    let mut store = ward::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    assert!(instance.get_typed_func::<(u32, &str), (Vec<Item>,)>(&mut store, "f").is_ok());
    assert!(instance.get_typed_func::<(), ()>(&mut store, "g").is_ok());
    let cases: Vec<(Error, &str)> = vec![
        (
            instance.get_typed_func::<(u32,), (Vec<Item>,)>(&mut store, "f").unwrap_err(),
            "type mismatch for `f`: the function takes 2 parameters, the Rust tuple has 1",
        ),
        (
            instance.get_typed_func::<(u32, u32), (Vec<Item>,)>(&mut store, "f").unwrap_err(),
            "type mismatch for `f`: parameter 1 (`b`): component type `string` does not match Rust type `u32`",
        ),
        (
            instance.get_typed_func::<(u32, &str), (Vec<Point>,)>(&mut store, "f").unwrap_err(),
            "type mismatch for `f`: result: list element: field 0 of the component record is `id`, of `Point` it is `x`",
        ),
        (
            instance.get_typed_func::<(u32, &str), (Vec<String>,)>(&mut store, "f").unwrap_err(),
            "type mismatch for `f`: result: list element: component type `record` does not match Rust type `alloc::string::String`",
        ),
        (
            instance.get_typed_func::<(u32, &str), ()>(&mut store, "f").unwrap_err(),
            "type mismatch for `f`: the function returns `list<record>`, the Rust results are `()`",
        ),
        (
            instance.get_typed_func::<(), (u32,)>(&mut store, "g").unwrap_err(),
            "type mismatch for `g`: the function returns nothing, the Rust results are `(u32,)`",
        ),
        (
            instance.get_typed_func::<(), ()>(&mut store, "nope").unwrap_err(),
            "no exported function `nope`",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
    }
    let f = instance.get_func("f").unwrap();
    assert_eq!(
        f.typed::<(u32,), ()>().unwrap_err().to_string(),
        "type mismatch for this function: the function takes 2 parameters, the Rust tuple has 1"
    );
    let wrong_field = instance
        .get_typed_func::<(u32, &str), (Vec<Item2>,)>(&mut store, "f")
        .unwrap_err()
        .to_string();
    assert!(
        wrong_field.contains("field `ok`: component type `bool` does not match Rust type `u8`"),
        "{wrong_field}"
    );
}

ward_component::record! {
    pub struct Item2 {
        pub id: u32,
        pub item_name: String,
        pub ok: u8,
    }
}

/// A component whose export `f` returns the core value or memory written by `body`
/// (`(result <ty>)`), for hostile-guest checks.
fn returning(
    decl: &str,
    ty: &str,
    core_result: &str,
    body: &str,
) -> (ward::Store<()>, ward_component::Instance) {
    let wat = format!(
        r#"(component
  {decl}
  (core module $m
    (memory (export "mem") 40)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64))
    (func (export "f") (result {core_result}) {body}))
  (core instance $m (instantiate $m))
  (func (export "f") (result {ty})
    (canon lift (core func $m "f") (memory (core memory $m "mem")) (realloc (core func $m "realloc")))))"#
    );
    let engine = ward::Engine::default();
    let component = Component::new(&engine, &wat).unwrap_or_else(|e| panic!("{e}\n{wat}"));
    let mut store = ward::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    (store, instance)
}

fn trap_message<R: Lift>(decl: &str, ty: &str, core_result: &str, body: &str) -> String {
    let (mut store, instance) = returning(decl, ty, core_result, body);
    let f = instance.get_typed_func::<(), (R,)>(&mut store, "f").unwrap();
    let err = f.call(&mut store, ()).err().expect("the call must trap");
    assert!(err.as_trap().is_some(), "not a trap: {err}");
    err.to_string()
}

/// Writes `(ptr, len)` at 0 and returns 0 (a spilled string or list result).
fn pair_at_0(ptr: i64, len: i64) -> String {
    format!("(i32.store (i32.const 0) (i32.const {ptr})) (i32.store (i32.const 4) (i32.const {len})) (i32.const 0)")
}

#[test]
fn hostile_results_trap() {
    let m = trap_message::<char>("", "char", "i32", "(i32.const 0xd800)");
    assert!(m.contains("invalid `char`"), "{m}");
    let m = trap_message::<Color>(
        r#"(type $e0 (enum "red" "green" "deep-blue")) (export $e "e" (type $e0))"#,
        "$e",
        "i32",
        "(i32.const 3)",
    );
    assert!(m.contains("invalid variant discriminant"), "{m}");
    let m = trap_message::<Option<u32>>(
        "",
        "(option u32)",
        "i32",
        "(i32.store8 (i32.const 0) (i32.const 2)) (i32.const 0)",
    );
    assert!(m.contains("invalid variant discriminant"), "{m}");
    let m = trap_message::<String>("", "string", "i32", &pair_at_0(40 * 65536 - 6, 100));
    assert!(m.contains("string pointer/length out of bounds of memory"), "{m}");
    let m = trap_message::<String>(
        "",
        "string",
        "i32",
        &format!("(i32.store8 (i32.const 100) (i32.const 0xff)) {}", pair_at_0(100, 1)),
    );
    assert!(m.contains("invalid utf-8"), "{m}");
    let m = trap_message::<Vec<u32>>("", "(list u32)", "i32", &pair_at_0(2, 1));
    assert!(m.contains("unaligned pointer"), "{m}");
    let m = trap_message::<Vec<u64>>("", "(list u64)", "i32", &pair_at_0(0, 0x7fff_ffff));
    assert!(m.contains("out-of-bounds"), "{m}");
    // 1,024 strings that all point at the same 1 MiB would take 1 GiB of host strings: the
    // host copy is bounded (as for dynamic lifts) and the call traps.
    let fill = r#"(local $i i32)
      (block $done (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (i32.const 1024)))
        (i32.store (i32.add (i32.const 0x200000) (i32.shl (local.get $i) (i32.const 3)))
          (i32.const 0x10000))
        (i32.store offset=4 (i32.add (i32.const 0x200000) (i32.shl (local.get $i) (i32.const 3)))
          (i32.const 0x100000))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))"#;
    let body = format!("{fill} {}", pair_at_0(0x200000, 1024));
    let m = trap_message::<Vec<String>>("", "(list string)", "i32", &body);
    assert!(m.contains("MiB of host memory"), "{m}");
    let m = trap_message::<String>("", "string", "i32", "(i32.const 65535)");
    assert!(m.contains("unaligned pointer") || m.contains("out of bounds"), "{m}");
    // A well-formed one is lifted.
    let (mut store, instance) = returning(
        "",
        "string",
        "i32",
        &format!("(i32.store (i32.const 100) (i32.const 0x6b6f)) {}", pair_at_0(100, 2)),
    );
    let f = instance.get_typed_func::<(), (String,)>(&mut store, "f").unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap().0, "ok");
}

#[test]
fn post_return_runs_and_typed_calls_repeat() {
    let wat = r#"(component
  (core module $m
    (memory (export "mem") 1)
    (global $calls (mut i32) (i32.const 0))
    (global $cleaned (mut i32) (i32.const 0))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 256))
    (func (export "f") (param $p i32) (param $n i32) (result i32)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (i32.store (i32.const 0) (local.get $p))
      (i32.store (i32.const 4) (local.get $n))
      (i32.const 0))
    (func (export "cleanup") (param i32)
      (global.set $cleaned (i32.add (global.get $cleaned) (i32.const 1))))
    (func (export "cleaned") (result i32) (global.get $cleaned)))
  (core instance $m (instantiate $m))
  (func (export "f") (param "s" string) (result string)
    (canon lift (core func $m "f") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))
      (post-return (core func $m "cleanup"))))
  (func (export "cleaned") (result u32) (canon lift (core func $m "cleaned"))))"#;
    let engine = ward::Engine::default();
    let component = Component::new(&engine, wat).unwrap();
    let mut store = ward::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    // The borrowed arguments must outlive the typed function (its type names their lifetime).
    let inputs: Vec<String> = (0..5).map(|i| format!("call {i}")).collect();
    let f = instance.get_typed_func::<(&str,), (String,)>(&mut store, "f").unwrap();
    let cleaned = instance.get_typed_func::<(), (u32,)>(&mut store, "cleaned").unwrap();
    for (i, s) in inputs.iter().enumerate() {
        assert_eq!(&f.call(&mut store, (s,)).unwrap().0, s);
        assert_eq!(cleaned.call(&mut store, ()).unwrap().0, i as u32 + 1);
    }
}

/// Runs `expected` through `run` of `wat` (a dynamic call), whose import `echo` is a typed host
/// function returning its argument: the host function must see `value`, and `expected` must
/// come back.
fn host_round_trip<V>(wat: &str, value: V, expected: Val) -> Result<(), Error>
where
    V: Lift + Lower + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    let engine = ward::Engine::default();
    let component = Component::new(&engine, wat)?;
    let mut linker = Linker::<Vec<V>>::new(&engine);
    linker.func_wrap("test:echo/echo", "echo", |mut store, (x,): (V,)| {
        store.data_mut().push(x.clone());
        Ok((x,))
    })?;
    let mut store = ward::Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &component)?;
    let mut out = [Val::Bool(false)];
    instance.get_func("run").expect("export `run`").call(
        &mut store,
        std::slice::from_ref(&expected),
        &mut out,
    )?;
    assert_eq!(store.data().as_slice(), [value], "the host function saw another value");
    assert_eq!(out[0], expected, "the value did not come back intact");
    Ok(())
}

fn check_host<V>(decls: &str, params: &[&str], result: &str, value: V, expected: Val)
where
    V: Lift + Lower + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    for encoding in ENCODINGS {
        let wat = echo_component(decls, params, result, encoding);
        host_round_trip(&wat, value.clone(), expected.clone())
            .unwrap_or_else(|e| panic!("{encoding}: {e}\n{wat}"));
    }
}

#[test]
fn typed_host_functions() {
    check_host(&ty("u32"), &["i32"], "i32", 7u32, Val::U32(7));
    check_host(&ty("f64"), &["f64"], "f64", -0.5f64, Val::Float64(-0.5));
    check_host(&ty("char"), &["i32"], "i32", '☃', Val::Char('☃'));
    let s = "mixed ö ☃ 🍰 ok".to_string();
    check_host(&ty("string"), &["i32", "i32"], "spill", s.clone(), Val::String(s));
    let decls =
        format!(r#"{} (type $l (list $item)) (export "t" (type $t (eq $l)))"#, item_decls());
    let items: Vec<Item> =
        (0..20).map(|i| Item { id: i, item_name: format!("n{i}☃"), ok: i % 3 == 0 }).collect();
    let expected = Val::List(items.iter().map(item_val).collect());
    check_host(&decls, &["i32", "i32"], "spill", items, expected);
    let v =
        ty(r#"(variant (case "small" u8) (case "named" string) (case "empty") (case "wide" f64)
             (case "pair" (tuple f32 u32)))"#);
    let pair = Val::Variant(
        "pair".into(),
        Some(Box::new(Val::Tuple(vec![Val::Float32(0.75), Val::U32(12)]))),
    );
    check_host(&v, &["i32", "i64", "i32"], "spill", Shape::Pair((0.75, 12)), pair);
    let r = ty("(result string (error u32))");
    let err = Val::Result(Err(Some(Box::new(Val::U32(9)))));
    check_host(&r, &["i32", "i32", "i32"], "spill", Err::<String, u32>(9), err);
    // 17 flat values: the host function lifts its argument from the caller's memory.
    let (decls, value, expected) = wide();
    check_host(&decls, &["i32"], "spill", value, expected);
}

#[test]
fn typed_host_functions_are_checked_at_instantiation_and_trap_on_error() {
    let wat = echo_component(&ty("string"), &["i32", "i32"], "spill", "utf8");
    let engine = ward::Engine::default();
    let component = Component::new(&engine, &wat).unwrap();
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("test:echo/echo", "echo", |_, (x,): (u32,)| Ok((x,))).unwrap();
    let mut store = ward::Store::new(&engine, ());
    let err = linker.instantiate(&mut store, &component).unwrap_err();
    assert_eq!(
        err.to_string(),
        "incompatible import type for `test:echo/echo#echo`: parameter 0 (`x`): component type `string` does not match Rust type `u32`"
    );

    let mut linker = Linker::<()>::new(&engine);
    linker
        .func_wrap("test:echo/echo", "echo", |_, (x,): (String,)| {
            if x == "fail" {
                return Err(Error::Usage("the host refused".into()));
            }
            Ok((x,))
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let run = instance.get_typed_func::<(&str,), (String,)>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ("fine",)).unwrap().0, "fine");
    let err = run.call(&mut store, ("fail",)).unwrap_err();
    assert!(err.as_trap().is_some(), "{err}");
    assert!(err.to_string().contains("the host refused"), "{err}");
}

#[test]
fn a_host_function_exported_again_is_not_typed() {
    let engine = ward::Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
  (import "h" (func $h (param "x" u32) (result u32)))
  (export "h" (func $h)))"#,
    )
    .unwrap();
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("", "h", |_, (x,): (u32,)| Ok((x + 1,))).unwrap();
    let mut store = ward::Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let err = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "h").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported: typed calls of host functions (`h`); call it with `Func::call`"
    );
    let mut out = [Val::U32(0)];
    let err = instance.get_func("h").unwrap().call(&mut store, &[Val::U32(1)], &mut out);
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("calling a host function defined with `func_wrap` with dynamic values"));
}
