//! Unsigned LEB128, the integer encoding of the WebAssembly binary format, for the few places
//! that write binaries (canonical type encodings, tests).

/// Appends `v` to `out` in unsigned LEB128.
pub(crate) fn write_u32(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_the_edges() {
        for (v, bytes) in [
            (0u32, &[0u8][..]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (624_485, &[0xe5, 0x8e, 0x26]),
            (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            let mut out = Vec::new();
            super::write_u32(&mut out, v);
            assert_eq!(out, bytes, "{v}");
        }
    }
}
