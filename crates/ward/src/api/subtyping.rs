//! Subtyping between value types, and whether a [`Val`] is a value of a type.

use super::val::Val;
use crate::module::ModuleInner;
use crate::runtime::StoreInner;
use crate::types::{HeapType, RefType, ValType};

/// Whether heap type `a` is a subtype of `b`. `module` supplies the declared supertypes of
/// concrete types (canonical ids), when known.
pub(crate) fn heap_subtype(a: HeapType, b: HeapType, module: Option<&ModuleInner>) -> bool {
    use HeapType::*;
    match (a, b) {
        _ if a == b => true,
        (Concrete(x), Concrete(y)) => module.is_some_and(|m| {
            m.types.iter().find(|t| t.id == x).is_some_and(|t| t.supers.contains(&y))
        }),
        (ConcreteStruct(x), ConcreteStruct(y)) | (ConcreteArray(x), ConcreteArray(y)) => module
            .is_some_and(|m| {
                m.types.iter().find(|t| t.id == x).is_some_and(|t| t.supers.contains(&y))
            }),
        (Concrete(_), Func) => true,
        (NoFunc, Func | Concrete(_)) => true,
        (NoExtern, Extern) => true,
        (NoExn, Exn) => true,
        (ConcreteStruct(_), Struct) | (ConcreteArray(_), Array) => true,
        (I31 | Struct | Array | ConcreteStruct(_) | ConcreteArray(_), Eq) => true,
        (_, Any) => a.top() == Any,
        (None, _) => b.top() == Any,
        _ => false,
    }
}

/// Whether reference type `a` is a subtype of `b`.
pub(crate) fn ref_subtype(a: RefType, b: RefType, module: Option<&ModuleInner>) -> bool {
    (!a.nullable || b.nullable) && heap_subtype(a.heap, b.heap, module)
}

/// Whether value type `a` is a subtype of `b`.
pub(crate) fn val_subtype(a: ValType, b: ValType, module: Option<&ModuleInner>) -> bool {
    match (a, b) {
        (ValType::Ref(a), ValType::Ref(b)) => ref_subtype(a, b, module),
        _ => a == b,
    }
}

/// Whether `v` is a value of type `ty`. References must already be known to belong to `store`.
pub(crate) fn val_matches(store: &StoreInner, v: &Val, ty: ValType) -> bool {
    let r = match ty {
        ValType::Ref(r) => r,
        _ => return v.kind_type() == ty,
    };
    let top = match v {
        Val::FuncRef(_) => HeapType::Func,
        Val::ExternRef(_) => HeapType::Extern,
        Val::ExnRef(_) => HeapType::Exn,
        Val::AnyRef(_) => HeapType::Any,
        _ => return false,
    };
    if r.top() != top {
        return false;
    }
    let Ok(raw) = v.ref_raw(store.id) else { return false };
    store.ref_matches(raw, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_subtyping() {
        let nn_func = RefType { nullable: false, heap: HeapType::Func };
        assert!(ref_subtype(nn_func, RefType::FUNCREF, None));
        assert!(!ref_subtype(RefType::FUNCREF, nn_func, None));
        let nullfunc = RefType { nullable: true, heap: HeapType::NoFunc };
        assert!(ref_subtype(nullfunc, RefType::FUNCREF, None));
        assert!(!ref_subtype(RefType::EXTERNREF, RefType::FUNCREF, None));
        let c = RefType { nullable: true, heap: HeapType::Concrete(5) };
        assert!(ref_subtype(c, RefType::FUNCREF, None));
        assert!(!ref_subtype(RefType::FUNCREF, c, None));
        assert!(val_subtype(ValType::I32, ValType::I32, None));
        assert!(!val_subtype(ValType::I32, ValType::I64, None));
    }
}
