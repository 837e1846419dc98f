//! The layouts of struct and array types (garbage collection), computed once per module type
//! from the validator's canonical types.
//!
//! An object's contents are little-endian bytes: a struct's fields at the byte offsets of its
//! [`StructLayout`] (packed, unaligned), an array's elements one after another, each
//! [`Storage::size`] bytes. A reference is stored as its 8-byte reference value.

use crate::types::{HeapType, RefType};
use std::sync::Arc;

/// Which hierarchy a stored reference belongs to: only `any`/`extern` references can point to
/// collected objects, so only those are traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefKind {
    /// `any` or `extern` hierarchy: may be a heap object.
    Gc,
    /// A function reference (a record address).
    Func,
    /// An exception reference.
    Exn,
}

impl RefKind {
    pub(crate) fn of(r: RefType) -> RefKind {
        match r.top() {
            HeapType::Func => RefKind::Func,
            HeapType::Exn => RefKind::Exn,
            _ => RefKind::Gc,
        }
    }
}

/// How a field or element is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    I8,
    I16,
    /// `i32` or `f32`.
    I32,
    /// `i64` or `f64`.
    I64,
    V128,
    Ref(RefKind),
}

impl Storage {
    /// Bytes taken by one value.
    pub(crate) fn size(self) -> u32 {
        match self {
            Storage::I8 => 1,
            Storage::I16 => 2,
            Storage::I32 => 4,
            Storage::I64 | Storage::Ref(_) => 8,
            Storage::V128 => 16,
        }
    }

    /// Whether values of this storage may refer to collected objects.
    pub(crate) fn is_traced(self) -> bool {
        self == Storage::Ref(RefKind::Gc)
    }

    /// Interpreter slots one value takes (two for `v128`).
    pub(crate) fn slots(self) -> u32 {
        if self == Storage::V128 {
            2
        } else {
            1
        }
    }
}

/// A struct field or the element of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) storage: Storage,
    pub(crate) mutable: bool,
}

/// Where each field of a struct lives in its object's bytes.
#[derive(Clone, Debug)]
pub(crate) struct StructLayout {
    pub(crate) fields: Box<[Field]>,
    /// Byte offset of each field.
    pub(crate) offsets: Box<[u32]>,
    /// Total bytes.
    pub(crate) size: u32,
    /// Offsets of the fields that are traced (see [`Storage::is_traced`]).
    pub(crate) traced: Box<[u32]>,
}

impl StructLayout {
    pub(crate) fn new(fields: Vec<Field>) -> StructLayout {
        let mut offsets = Vec::with_capacity(fields.len());
        let mut traced = Vec::new();
        let mut size = 0u32;
        for f in &fields {
            offsets.push(size);
            if f.storage.is_traced() {
                traced.push(size);
            }
            // Validation bounds a struct to 10,000 fields of at most 16 bytes.
            size += f.storage.size();
        }
        StructLayout { fields: fields.into(), offsets: offsets.into(), size, traced: traced.into() }
    }
}

/// What a struct or array type looks like.
#[derive(Clone, Debug)]
pub(crate) enum GcKind {
    Struct(StructLayout),
    Array(Field),
}

/// A struct or array type: its canonical id, its declared supertypes, its layout.
#[derive(Clone, Debug)]
pub(crate) struct GcType {
    pub(crate) id: u32,
    /// Canonical ids of the declared supertypes, nearest first.
    pub(crate) supers: Arc<[u32]>,
    pub(crate) kind: GcKind,
}

impl GcType {
    /// Whether this type is `id` or a declared subtype of it.
    pub(crate) fn is_subtype_of(&self, id: u32) -> bool {
        self.id == id || self.supers.contains(&id)
    }

    pub(crate) fn is_struct(&self) -> bool {
        matches!(self.kind, GcKind::Struct(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_fields_are_packed_and_references_traced() {
        let f = |storage| Field { storage, mutable: true };
        let l = StructLayout::new(vec![
            f(Storage::I8),
            f(Storage::Ref(RefKind::Gc)),
            f(Storage::I16),
            f(Storage::Ref(RefKind::Func)),
            f(Storage::V128),
        ]);
        assert_eq!(&*l.offsets, &[0, 1, 9, 11, 19]);
        assert_eq!(l.size, 35);
        assert_eq!(&*l.traced, &[1]);
    }
}
