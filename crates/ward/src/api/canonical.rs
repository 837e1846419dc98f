//! Canonical type ids for signatures that come from the host rather than from a module.
//!
//! The engine's shared validator assigns every function type a canonical id: structurally equal
//! types (in equal recursion groups) get the same id across all modules of an engine. A host
//! function needs the id a module would give its signature, so that imports and
//! `call_indirect` can compare ids. We get it the same way a module does: by validating a tiny
//! module whose only content is that type.

use crate::engine::Engine;
use crate::module::Module;
use crate::types::{FuncType, HeapType, RefType, ValType};

/// A type id that no module type has: a host signature that cannot be expressed outside a
/// module (one mentioning a concrete type index) gets it, so it never matches a module's
/// expectation.
pub(crate) const UNMATCHABLE_TYPE_ID: u32 = u32::MAX;

/// The canonical id of `ty` in `engine`, or [`UNMATCHABLE_TYPE_ID`] if the type mentions a
/// concrete or GC heap type.
pub(crate) fn canonical_func_type_id(engine: &Engine, ty: &FuncType) -> u32 {
    let ids = || engine.inner.func_type_ids.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(id) = ids().get(ty) {
        return *id;
    }
    let Some(binary) = encode_func_type_module(ty) else {
        return UNMATCHABLE_TYPE_ID;
    };
    let id = match Module::from_binary(engine, &binary) {
        Ok(m) => m.inner.types.first().map(|t| t.id).unwrap_or(UNMATCHABLE_TYPE_ID),
        Err(_) => UNMATCHABLE_TYPE_ID,
    };
    ids().insert(ty.clone(), id);
    id
}

/// A module binary with a type section holding `ty` alone, or `None` if `ty` is not
/// expressible without module context.
fn encode_func_type_module(ty: &FuncType) -> Option<Vec<u8>> {
    let mut body = vec![1u8, 0x60]; // one type: a function type
    leb_u32(&mut body, ty.params().len() as u32);
    for t in ty.params() {
        encode_val_type(*t, &mut body)?;
    }
    leb_u32(&mut body, ty.results().len() as u32);
    for t in ty.results() {
        encode_val_type(*t, &mut body)?;
    }
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    out.push(1); // type section
    leb_u32(&mut out, body.len() as u32);
    out.extend_from_slice(&body);
    Some(out)
}

fn encode_val_type(t: ValType, out: &mut Vec<u8>) -> Option<()> {
    match t {
        ValType::I32 => out.push(0x7f),
        ValType::I64 => out.push(0x7e),
        ValType::F32 => out.push(0x7d),
        ValType::F64 => out.push(0x7c),
        ValType::V128 => out.push(0x7b),
        ValType::Ref(RefType { nullable, heap }) => {
            let h = match heap {
                HeapType::Func => 0x70,
                HeapType::Extern => 0x6f,
                HeapType::Exn => 0x69,
                HeapType::NoFunc => 0x73,
                HeapType::NoExtern => 0x72,
                HeapType::NoExn => 0x74,
                HeapType::Any => 0x6e,
                HeapType::Eq => 0x6d,
                HeapType::I31 => 0x6c,
                HeapType::Struct => 0x6b,
                HeapType::Array => 0x6a,
                HeapType::None => 0x71,
                HeapType::Concrete(_)
                | HeapType::ConcreteStruct(_)
                | HeapType::ConcreteArray(_)
                | HeapType::Other => return None,
            };
            out.push(if nullable { 0x63 } else { 0x64 });
            out.push(h);
        }
    }
    Some(())
}

fn leb_u32(out: &mut Vec<u8>, v: u32) {
    crate::module::leb::write_u32(out, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_equal_module_ids() {
        let engine = Engine::default();
        let m = Module::new(
            &engine,
            "(module (type (func (param i32 externref) (result f64 funcref))) (type (func)))",
        )
        .unwrap();
        let ty =
            FuncType::new([ValType::I32, ValType::EXTERNREF], [ValType::F64, ValType::FUNCREF]);
        assert_eq!(canonical_func_type_id(&engine, &ty), m.inner.types[0].id);
        assert_eq!(canonical_func_type_id(&engine, &FuncType::new([], [])), m.inner.types[1].id);
    }

    #[test]
    fn a_signature_is_validated_once() {
        let engine = Engine::default();
        let ty = FuncType::new([ValType::I32, ValType::I64], [ValType::F32]);
        let first = canonical_func_type_id(&engine, &ty);
        // Asked again (a component instantiated per request makes the same host functions
        // again): the id comes from the cache, and it is still the one a module gets.
        for _ in 0..3 {
            assert_eq!(canonical_func_type_id(&engine, &ty), first);
        }
        assert_eq!(engine.inner.func_type_ids.lock().unwrap().len(), 1);
        let m =
            Module::new(&engine, "(module (type (func (param i32 i64) (result f32))))").unwrap();
        assert_eq!(m.inner.types[0].id, first);
    }

    #[test]
    fn long_signatures_encode() {
        let engine = Engine::default();
        let ty = FuncType::new(vec![ValType::I64; 200], vec![ValType::V128; 3]);
        assert_ne!(canonical_func_type_id(&engine, &ty), UNMATCHABLE_TYPE_ID);
        let concrete = RefType { nullable: true, heap: HeapType::Concrete(3) };
        let ty = FuncType::new([ValType::Ref(concrete)], []);
        assert_eq!(canonical_func_type_id(&engine, &ty), UNMATCHABLE_TYPE_ID);
    }
}
