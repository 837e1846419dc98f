//! The encoding of references in 64-bit slots, global cells, table elements and fields.
//!
//! The `any` and `extern` hierarchies share one encoding, so that `any.convert_extern` and
//! `extern.convert_any` change nothing and keep identity:
//!
//! ```text
//! 0                                   null
//! 1 << 63 | v (31 bits)               i31 (unboxed)
//! 1 << 62 | gen << 32 | index         a struct or array of the store's GC heap: slot `index`,
//!                                     allocated in generation `gen` (30 bits) of that slot
//! other (below 1 << 62)               a host reference: index + 1 into the store's externrefs
//! ```
//!
//! Function references (record addresses, below 1 << 47 on every supported target) and
//! exception references (`index + 1`) live in hierarchies of their own and never meet these.
//! The generation makes a reference to a freed (and possibly reused) slot detectable: a
//! dereference checks it, so a collector bug would show as a trap, never as another object.

/// Tag of an i31 reference.
pub(crate) const I31_TAG: u64 = 1 << 63;
/// Tag of a heap object reference.
pub(crate) const OBJ_TAG: u64 = 1 << 62;
/// Mask of a slot generation (30 bits).
pub(crate) const GEN_MASK: u32 = (1 << 30) - 1;

/// What a reference value of the `any`/`extern` hierarchies is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnyKind {
    Null,
    I31,
    /// A heap object: slot and generation.
    Object {
        index: u32,
        gen: u32,
    },
    /// A host reference (`externref` object, possibly internalized as `anyref`).
    Host,
}

/// The kind of reference value `r`.
#[inline]
pub(crate) fn classify(r: u64) -> AnyKind {
    if r == 0 {
        AnyKind::Null
    } else if r & I31_TAG != 0 {
        AnyKind::I31
    } else if r & OBJ_TAG != 0 {
        AnyKind::Object { index: r as u32, gen: (r >> 32) as u32 & GEN_MASK }
    } else {
        AnyKind::Host
    }
}

/// The reference value of heap slot `index` in generation `gen`.
#[inline]
pub(crate) fn object(index: u32, gen: u32) -> u64 {
    OBJ_TAG | u64::from(gen & GEN_MASK) << 32 | u64::from(index)
}

/// `ref.i31`: the low 31 bits of `v`.
#[inline]
pub(crate) fn i31(v: u32) -> u64 {
    I31_TAG | u64::from(v & 0x7fff_ffff)
}

/// `i31.get_s` of a non-null i31 reference.
#[inline]
pub(crate) fn i31_get_s(r: u64) -> i32 {
    ((r as u32) << 1) as i32 >> 1
}

/// `i31.get_u` of a non-null i31 reference.
#[inline]
pub(crate) fn i31_get_u(r: u64) -> u32 {
    r as u32 & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_disjoint_and_round_trip() {
        assert_eq!(classify(0), AnyKind::Null);
        assert_eq!(classify(i31(0)), AnyKind::I31);
        assert_eq!(classify(object(7, 3)), AnyKind::Object { index: 7, gen: 3 });
        assert_eq!(
            classify(object(u32::MAX, GEN_MASK)),
            AnyKind::Object { index: u32::MAX, gen: GEN_MASK }
        );
        assert_eq!(classify(1), AnyKind::Host);
        assert_eq!(classify(u64::from(u32::MAX) + 1), AnyKind::Host);
        // The generation wraps within its 30 bits, never into the tags.
        assert_eq!(object(1, u32::MAX) & I31_TAG, 0);
    }

    #[test]
    fn i31_values_sign_and_zero_extend() {
        assert_eq!(i31_get_s(i31(0x7fff_ffff)), -1);
        assert_eq!(i31_get_u(i31(0x7fff_ffff)), 0x7fff_ffff);
        assert_eq!(i31_get_s(i31(0x4000_0000)), -0x4000_0000);
        assert_eq!(i31_get_s(i31(0x3fff_ffff)), 0x3fff_ffff);
        // The top bit of the operand is dropped: equal i31s have equal encodings (ref.eq).
        assert_eq!(i31(0x8000_0001), i31(1));
        assert_eq!(i31_get_s(i31(u32::MAX)), -1);
    }
}
