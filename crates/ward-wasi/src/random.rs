//! The source of `random_get`: the host's secure generator, or a seeded sequence for
//! reproducible runs.

use crate::errno::{Errno, WasiResult};

/// Where random bytes come from: shared by both WASI versions.
///
/// ```
/// let mut r = ward_wasi::Random::seeded(7);
/// let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
/// r.fill(&mut a)?;
/// ward_wasi::Random::seeded(7).fill(&mut b)?;
/// assert_eq!(a, b, "a seeded sequence is reproducible");
/// # Ok::<(), ward_wasi::Errno>(())
/// ```
#[derive(Debug, Default)]
pub enum Random {
    /// The operating system's cryptographically secure generator.
    #[default]
    Os,
    /// A deterministic SplitMix64 sequence.
    Seeded(u64),
}

impl Random {
    /// A deterministic sequence starting from `seed`.
    pub fn seeded(seed: u64) -> Random {
        Random::Seeded(seed)
    }

    /// Fills `buf`; fails (never falls back to a weaker source) if the OS generator fails.
    pub fn fill(&mut self, buf: &mut [u8]) -> WasiResult<()> {
        match self {
            Random::Os => {
                let mut rest = buf;
                while !rest.is_empty() {
                    match rustix::rand::getrandom(&mut *rest, rustix::rand::GetRandomFlags::empty())
                    {
                        Ok(0) => return Err(Errno::Io),
                        Ok(n) => rest = &mut rest[n..],
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(())
            }
            Random::Seeded(state) => {
                for chunk in buf.chunks_mut(8) {
                    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = *state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    z ^= z >> 31;
                    chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_fills_the_buffer() {
        let mut buf = [0u8; 1024];
        Random::Os.fill(&mut buf).unwrap();
        assert!(buf.iter().any(|b| *b != 0));
        Random::Os.fill(&mut []).unwrap();
    }

    #[test]
    fn seeded_random_repeats() {
        let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
        Random::seeded(7).fill(&mut a).unwrap();
        Random::seeded(7).fill(&mut b).unwrap();
        assert_eq!(a, b);
        assert!(a.iter().any(|x| *x != 0));
    }
}
