//! Script values: arguments of `invoke` turned into [`Val`]s, and results matched against the
//! expectations of `assert_return` (exact bits, NaN patterns per lane, reference kinds,
//! `either` alternatives).

use std::collections::HashMap;

use ward::{AnyRef, ExternRef, HeapType, Store, Val, ValType};
use wast::core::{AbstractHeapType, HeapType as TextHeapType, NanPattern, V128Pattern};
use wast::core::{WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::token::{F32, F64};
use wast::{WastArg, WastRet};

/// Host references made for script arguments, one per number, so that `ref.extern 1` passed
/// twice is the same reference both times. `ref.host N` is the same host object N seen as an
/// `anyref` (what `any.convert_extern` of `ref.extern N` makes).
#[derive(Default)]
pub(crate) struct HostRefs {
    externs: HashMap<u32, ExternRef>,
}

/// The [`Val`] of an `invoke` argument.
pub(crate) fn arg(
    arg: &WastArg<'_>,
    store: &mut Store<()>,
    refs: &mut HostRefs,
) -> Result<Val, String> {
    let WastArg::Core(arg) = arg else {
        return Err("component-model arguments are not supported".into());
    };
    if let Some(val) = plain_val(arg) {
        return val;
    }
    Ok(match arg {
        WastArgCore::RefExtern(n) => {
            let r = *refs.externs.entry(*n).or_insert_with(|| ExternRef::new(&mut *store, *n));
            Val::ExternRef(Some(r))
        }
        WastArgCore::RefHost(n) => {
            let r = *refs.externs.entry(*n).or_insert_with(|| ExternRef::new(&mut *store, *n));
            Val::AnyRef(Some(r.to_any()))
        }
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

/// The [`Val`] of an argument that needs no store: numbers, vectors and null references.
fn plain_val(arg: &WastArgCore<'_>) -> Option<Result<Val, String>> {
    Some(Ok(match arg {
        WastArgCore::I32(x) => Val::I32(*x),
        WastArgCore::I64(x) => Val::I64(*x),
        WastArgCore::F32(x) => Val::F32(x.bits),
        WastArgCore::F64(x) => Val::F64(x.bits),
        WastArgCore::V128(x) => Val::V128(u128::from_le_bytes(x.to_le_bytes())),
        WastArgCore::RefNull(heap) => return Some(null_of(heap)),
        _ => return None,
    }))
}

/// Parses `text` as a value of type `ty`, written as the text format writes the operand of
/// `ty.const`: integers in decimal or hexadecimal, signed or unsigned, with `_` separators
/// (`-1`, `0xffff_ffff`); floats including hexadecimal ones, `inf` and NaN payloads (`0x1p3`,
/// `-inf`, `nan:0x200000`); vectors with their shape (`i32x4 1 2 3 4`). A nullable reference
/// takes `null`. This is the syntax of `invoke` arguments in a `.wast` script, parsed by the
/// same code, for `ward run --invoke`.
///
/// ```
/// use ward::{Val, ValType};
/// assert!(matches!(ward_wast::parse_value(ValType::I32, "0xffff_ffff"), Ok(Val::I32(-1))));
/// assert!(matches!(ward_wast::parse_value(ValType::F64, "0x1p3"), Ok(Val::F64(b)) if b == 8f64.to_bits()));
/// assert!(ward_wast::parse_value(ValType::I32, "4294967296").is_err());
/// ```
pub fn parse_value(ty: ValType, text: &str) -> Result<Val, String> {
    let bad = |why: &str| format!("`{text}` is not a valid {ty}{why}");
    // One operand only: no parentheses or comments that could end the expression early.
    if text.trim().is_empty() || text.contains(['(', ')', ';']) {
        return Err(bad(""));
    }
    let source = match ty {
        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 => format!("{ty}.const {text}"),
        ValType::V128 => format!("v128.const {text}"),
        ValType::Ref(r) if r.nullable && text.trim() == "null" => {
            return Ok(placeholder(ty));
        }
        ValType::Ref(_) => return Err(format!("only `null` can be given for a {ty}")),
    };
    let buf = ParseBuffer::new(&source).map_err(|_| bad(""))?;
    // The parser's own message points into the text built above, not the user's: leave it out.
    let arg = parser::parse::<WastArgCore<'_>>(&buf).map_err(|_| match ty {
        ValType::V128 => bad(" (write a vector with its shape, e.g. `i32x4 1 2 3 4`)"),
        _ => bad(""),
    })?;
    // `TY.const` yields a value of type TY, so the variant is the right one.
    plain_val(&arg).unwrap_or_else(|| Err(bad("")))
}

fn null_of(heap: &TextHeapType<'_>) -> Result<Val, String> {
    match heap {
        TextHeapType::Abstract { ty, .. } => match ty {
            AbstractHeapType::Func | AbstractHeapType::NoFunc => Ok(Val::FuncRef(None)),
            AbstractHeapType::Extern | AbstractHeapType::NoExtern => Ok(Val::ExternRef(None)),
            AbstractHeapType::Exn | AbstractHeapType::NoExn => Ok(Val::ExnRef(None)),
            AbstractHeapType::Any
            | AbstractHeapType::Eq
            | AbstractHeapType::I31
            | AbstractHeapType::Struct
            | AbstractHeapType::Array
            | AbstractHeapType::None => Ok(Val::AnyRef(None)),
            other => Err(format!("null references of type `{other:?}` are not supported")),
        },
        // A null is a value of every nullable type: the hierarchy does not matter.
        TextHeapType::Concrete(_) | TextHeapType::Exact(_) => Ok(Val::FuncRef(None)),
    }
}

/// A value of type `ty` to be overwritten by a call's result.
pub(crate) fn placeholder(ty: ValType) -> Val {
    match ty {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::V128 => Val::V128(0),
        ValType::Ref(r) => match r.heap {
            HeapType::Extern | HeapType::NoExtern => Val::ExternRef(None),
            HeapType::Exn | HeapType::NoExn => Val::ExnRef(None),
            HeapType::Func | HeapType::NoFunc | HeapType::Concrete(_) => Val::FuncRef(None),
            _ => Val::AnyRef(None),
        },
    }
}

/// Checks results against the expectations of `assert_return`.
pub(crate) fn check_results(
    expected: &[WastRet<'_>],
    actual: &[Val],
    store: &Store<()>,
) -> Result<(), String> {
    let mut wanted = Vec::with_capacity(expected.len());
    for e in expected {
        match e {
            WastRet::Core(e) => wanted.push(e),
            _ => return Err("component-model results are not supported".into()),
        }
    }
    let ok = wanted.len() == actual.len()
        && wanted.iter().zip(actual).all(|(e, a)| matches(e, a, store));
    if ok {
        return Ok(());
    }
    let wanted: Vec<String> = wanted.iter().map(|e| describe_expected(e)).collect();
    Err(format!("expected {}, got {}", list(&wanted), describe_vals(actual, store)))
}

fn matches(expected: &WastRetCore<'_>, actual: &Val, store: &Store<()>) -> bool {
    match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(e), Val::F32(a)) => f32_matches(e, *a),
        (WastRetCore::F64(e), Val::F64(a)) => f64_matches(e, *a),
        (WastRetCore::V128(e), Val::V128(a)) => v128_matches(e, *a),
        (WastRetCore::RefNull(heap), a) => null_matches(heap.as_ref(), a),
        (WastRetCore::RefExtern(e), Val::ExternRef(Some(r))) => match e {
            None => true,
            Some(n) => r.data(store).downcast_ref::<u32>() == Some(n),
        },
        (WastRetCore::RefHost(n), Val::AnyRef(Some(r))) => {
            r.to_extern().data(store).downcast_ref::<u32>() == Some(n)
        }
        (WastRetCore::RefAny, Val::AnyRef(Some(_))) => true,
        (WastRetCore::RefEq, Val::AnyRef(Some(r))) => {
            r.is_i31() || r.is_struct(store) || r.is_array(store)
        }
        (WastRetCore::RefI31, Val::AnyRef(Some(r))) => r.is_i31(),
        (WastRetCore::RefStruct, Val::AnyRef(Some(r))) => r.is_struct(store),
        (WastRetCore::RefArray, Val::AnyRef(Some(r))) => r.is_array(store),
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(alternatives), a) => alternatives.iter().any(|e| matches(e, a, store)),
        _ => false,
    }
}

fn null_matches(heap: Option<&TextHeapType<'_>>, actual: &Val) -> bool {
    let kind = match actual {
        Val::FuncRef(None) => AbstractHeapType::Func,
        Val::ExternRef(None) => AbstractHeapType::Extern,
        Val::ExnRef(None) => AbstractHeapType::Exn,
        Val::AnyRef(None) => AbstractHeapType::Any,
        _ => return false,
    };
    match heap {
        None => true,
        Some(TextHeapType::Abstract { ty, .. }) => match ty {
            AbstractHeapType::Func | AbstractHeapType::NoFunc => kind == AbstractHeapType::Func,
            AbstractHeapType::Extern | AbstractHeapType::NoExtern => {
                kind == AbstractHeapType::Extern
            }
            AbstractHeapType::Exn | AbstractHeapType::NoExn => kind == AbstractHeapType::Exn,
            AbstractHeapType::Any
            | AbstractHeapType::Eq
            | AbstractHeapType::I31
            | AbstractHeapType::Struct
            | AbstractHeapType::Array
            | AbstractHeapType::None => kind == AbstractHeapType::Any,
            _ => true,
        },
        // A concrete type may be of the function or the internal hierarchy.
        Some(TextHeapType::Concrete(_) | TextHeapType::Exact(_)) => {
            matches!(kind, AbstractHeapType::Func | AbstractHeapType::Any)
        }
    }
}

const F32_QUIET: u32 = 0x7fc0_0000;
const F64_QUIET: u64 = 0x7ff8_0000_0000_0000;

/// `nan:canonical` is a NaN with only the quiet bit of the payload set, of either sign;
/// `nan:arithmetic` is any NaN with the quiet bit set.
fn f32_matches(e: &NanPattern<F32>, bits: u32) -> bool {
    match e {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == F32_QUIET,
        NanPattern::ArithmeticNan => bits & F32_QUIET == F32_QUIET,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(e: &NanPattern<F64>, bits: u64) -> bool {
    match e {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == F64_QUIET,
        NanPattern::ArithmeticNan => bits & F64_QUIET == F64_QUIET,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn lanes<const N: usize>(v: u128) -> [u128; N] {
    let width = 128 / N;
    let mask = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
    std::array::from_fn(|i| (v >> (i * width)) & mask)
}

fn v128_matches(e: &V128Pattern, v: u128) -> bool {
    match e {
        V128Pattern::I8x16(l) => l.iter().zip(lanes::<16>(v)).all(|(e, a)| *e as u8 as u128 == a),
        V128Pattern::I16x8(l) => l.iter().zip(lanes::<8>(v)).all(|(e, a)| *e as u16 as u128 == a),
        V128Pattern::I32x4(l) => l.iter().zip(lanes::<4>(v)).all(|(e, a)| *e as u32 as u128 == a),
        V128Pattern::I64x2(l) => l.iter().zip(lanes::<2>(v)).all(|(e, a)| *e as u64 as u128 == a),
        V128Pattern::F32x4(l) => l.iter().zip(lanes::<4>(v)).all(|(e, a)| f32_matches(e, a as u32)),
        V128Pattern::F64x2(l) => l.iter().zip(lanes::<2>(v)).all(|(e, a)| f64_matches(e, a as u64)),
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items.join(" ")
    }
}

/// Values as script text, for failure messages.
pub(crate) fn describe_vals(vals: &[Val], store: &Store<()>) -> String {
    let items: Vec<String> = vals.iter().map(|v| describe_val(v, store)).collect();
    list(&items)
}

fn describe_val(v: &Val, store: &Store<()>) -> String {
    match v {
        Val::I32(x) => format!("(i32.const {x})"),
        Val::I64(x) => format!("(i64.const {x})"),
        Val::F32(b) => format!("(f32.const {} (bits {b:#010x}))", f32::from_bits(*b)),
        Val::F64(b) => format!("(f64.const {} (bits {b:#018x}))", f64::from_bits(*b)),
        Val::V128(x) => {
            let l = lanes::<4>(*x);
            format!(
                "(v128.const i32x4 {:#010x} {:#010x} {:#010x} {:#010x})",
                l[0], l[1], l[2], l[3]
            )
        }
        Val::FuncRef(None) => "(ref.null func)".to_string(),
        Val::FuncRef(Some(_)) => "(ref.func)".to_string(),
        Val::ExternRef(None) => "(ref.null extern)".to_string(),
        Val::ExternRef(Some(r)) => {
            let data = r.data(store);
            match data.downcast_ref::<u32>() {
                Some(n) => format!("(ref.extern {n})"),
                None => "(ref.extern)".to_string(),
            }
        }
        Val::AnyRef(None) => "(ref.null any)".to_string(),
        Val::AnyRef(Some(r)) => describe_any(r, store),
        Val::ExnRef(None) => "(ref.null exn)".to_string(),
        Val::ExnRef(Some(_)) => "(ref.exn)".to_string(),
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

fn describe_any(r: &AnyRef, store: &Store<()>) -> String {
    if let Some(v) = r.i31_s() {
        format!("(ref.i31 {v})")
    } else if r.is_struct(store) {
        "(ref.struct)".to_string()
    } else if r.is_array(store) {
        "(ref.array)".to_string()
    } else {
        match r.to_extern().data(store).downcast_ref::<u32>() {
            Some(n) => format!("(ref.host {n})"),
            None => "(ref.any)".to_string(),
        }
    }
}

fn f32_pattern(p: &NanPattern<F32>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{} (bits {:#010x})", f32::from_bits(v.bits), v.bits),
    }
}

fn f64_pattern(p: &NanPattern<F64>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{} (bits {:#018x})", f64::from_bits(v.bits), v.bits),
    }
}

fn joined<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" ")
}

fn describe_expected(e: &WastRetCore<'_>) -> String {
    match e {
        WastRetCore::I32(x) => format!("(i32.const {x})"),
        WastRetCore::I64(x) => format!("(i64.const {x})"),
        WastRetCore::F32(p) => format!("(f32.const {})", f32_pattern(p)),
        WastRetCore::F64(p) => format!("(f64.const {})", f64_pattern(p)),
        WastRetCore::V128(p) => match p {
            V128Pattern::I8x16(l) => format!("(v128.const i8x16 {})", joined(l, |x| x.to_string())),
            V128Pattern::I16x8(l) => format!("(v128.const i16x8 {})", joined(l, |x| x.to_string())),
            V128Pattern::I32x4(l) => {
                format!("(v128.const i32x4 {})", joined(l, |x| format!("{:#010x}", *x as u32)))
            }
            V128Pattern::I64x2(l) => format!("(v128.const i64x2 {})", joined(l, |x| x.to_string())),
            V128Pattern::F32x4(l) => format!("(v128.const f32x4 {})", joined(l, f32_pattern)),
            V128Pattern::F64x2(l) => format!("(v128.const f64x2 {})", joined(l, f64_pattern)),
        },
        WastRetCore::RefNull(None) => "(ref.null)".to_string(),
        WastRetCore::RefNull(Some(h)) => format!("(ref.null {})", describe_heap(h)),
        WastRetCore::RefExtern(None) => "(ref.extern)".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("(ref.extern {n})"),
        WastRetCore::RefHost(n) => format!("(ref.host {n})"),
        WastRetCore::RefFunc(_) => "(ref.func)".to_string(),
        WastRetCore::RefAny => "(ref.any)".to_string(),
        WastRetCore::RefEq => "(ref.eq)".to_string(),
        WastRetCore::RefArray => "(ref.array)".to_string(),
        WastRetCore::RefStruct => "(ref.struct)".to_string(),
        WastRetCore::RefI31 => "(ref.i31)".to_string(),
        WastRetCore::RefI31Shared => "(ref.i31_shared)".to_string(),
        WastRetCore::Either(alts) => format!("(either {})", joined(alts, describe_expected)),
    }
}

fn describe_heap(h: &TextHeapType<'_>) -> String {
    match h {
        TextHeapType::Abstract { ty, .. } => format!("{ty:?}").to_lowercase(),
        TextHeapType::Concrete(i) | TextHeapType::Exact(i) => format!("{i:?}"),
    }
}

/// An `invoke` argument as script text, for failure messages.
pub(crate) fn describe_arg(a: &WastArgCore<'_>) -> String {
    match a {
        WastArgCore::I32(x) => format!("(i32.const {x})"),
        WastArgCore::I64(x) => format!("(i64.const {x})"),
        WastArgCore::F32(x) => format!("(f32.const {})", f32::from_bits(x.bits)),
        WastArgCore::F64(x) => format!("(f64.const {})", f64::from_bits(x.bits)),
        WastArgCore::V128(x) => {
            let l = lanes::<4>(u128::from_le_bytes(x.to_le_bytes()));
            format!(
                "(v128.const i32x4 {:#010x} {:#010x} {:#010x} {:#010x})",
                l[0], l[1], l[2], l[3]
            )
        }
        WastArgCore::RefNull(h) => format!("(ref.null {})", describe_heap(h)),
        WastArgCore::RefExtern(n) => format!("(ref.extern {n})"),
        WastArgCore::RefHost(n) => format!("(ref.host {n})"),
    }
}
