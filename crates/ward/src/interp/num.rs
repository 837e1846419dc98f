//! Numeric semantics that Rust's operators do not give directly: IEEE min/max with NaN
//! propagation and signed zeros, round-half-to-even, and checked float-to-integer truncation.

use crate::error::TrapCode;

macro_rules! float_ops {
    ($f:ident, $min:ident, $max:ident, $nearest:ident, $floor:ident, $ceil:ident, $trunc:ident) => {
        /// `floor` with a quiet NaN result for any NaN input (the spec requires an arithmetic
        /// NaN; software rounding would pass a signalling NaN through unchanged).
        #[inline]
        pub(crate) fn $floor(a: $f) -> $f {
            quiet(a.floor())
        }

        /// `ceil`, NaN results quiet.
        #[inline]
        pub(crate) fn $ceil(a: $f) -> $f {
            quiet(a.ceil())
        }

        /// `trunc`, NaN results quiet.
        #[inline]
        pub(crate) fn $trunc(a: $f) -> $f {
            quiet(a.trunc())
        }

        /// Wasm `min`: NaN if either operand is NaN; `-0 < +0`.
        #[inline]
        pub(crate) fn $min(a: $f, b: $f) -> $f {
            if a.is_nan() || b.is_nan() {
                return a + b;
            }
            if a == b {
                // Equal values: pick the negative zero if signs differ.
                return if a.is_sign_negative() { a } else { b };
            }
            if a < b {
                a
            } else {
                b
            }
        }

        /// Wasm `max`: NaN if either operand is NaN; `+0 > -0`.
        #[inline]
        pub(crate) fn $max(a: $f, b: $f) -> $f {
            if a.is_nan() || b.is_nan() {
                return a + b;
            }
            if a == b {
                return if a.is_sign_positive() { a } else { b };
            }
            if a > b {
                a
            } else {
                b
            }
        }

        /// Round to nearest, ties to even.
        #[inline]
        pub(crate) fn $nearest(a: $f) -> $f {
            quiet(a.round_ties_even())
        }
    };
}

/// Sets the quiet bit of a NaN; other values pass unchanged.
trait Quiet {
    fn quieted(self) -> Self;
}

impl Quiet for f32 {
    #[inline]
    fn quieted(self) -> f32 {
        if self.is_nan() {
            f32::from_bits(self.to_bits() | 0x0040_0000)
        } else {
            self
        }
    }
}

impl Quiet for f64 {
    #[inline]
    fn quieted(self) -> f64 {
        if self.is_nan() {
            f64::from_bits(self.to_bits() | 0x0008_0000_0000_0000)
        } else {
            self
        }
    }
}

#[inline]
fn quiet<F: Quiet>(x: F) -> F {
    x.quieted()
}

float_ops!(f32, f32_min, f32_max, f32_nearest, f32_floor, f32_ceil, f32_trunc);
float_ops!(f64, f64_min, f64_max, f64_nearest, f64_floor, f64_ceil, f64_trunc);

macro_rules! trunc {
    ($name:ident, $f:ty, $i:ty, $lo:expr, $hi:expr) => {
        /// Truncation that traps on NaN and out-of-range values. The bounds are exclusive and
        /// exactly representable in the source type.
        #[inline]
        pub(crate) fn $name(x: $f) -> Result<$i, TrapCode> {
            if x.is_nan() {
                return Err(TrapCode::InvalidConversionToInteger);
            }
            if !(x > $lo && x < $hi) {
                return Err(TrapCode::IntegerOverflow);
            }
            Ok(x as $i)
        }
    };
}

trunc!(i32_trunc_f32_s, f32, i32, -2147483904.0f32, 2147483648.0f32);
trunc!(i32_trunc_f32_u, f32, u32, -1.0f32, 4294967296.0f32);
trunc!(i32_trunc_f64_s, f64, i32, -2147483649.0f64, 2147483648.0f64);
trunc!(i32_trunc_f64_u, f64, u32, -1.0f64, 4294967296.0f64);
trunc!(i64_trunc_f32_s, f32, i64, -9223373136366403584.0f32, 9223372036854775808.0f32);
trunc!(i64_trunc_f32_u, f32, u64, -1.0f32, 18446744073709551616.0f32);
trunc!(i64_trunc_f64_s, f64, i64, -9223372036854777856.0f64, 9223372036854775808.0f64);
trunc!(i64_trunc_f64_u, f64, u64, -1.0f64, 18446744073709551616.0f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_signed_zero_and_nan() {
        assert!(f32_min(0.0, -0.0).is_sign_negative());
        assert!(f32_max(-0.0, 0.0).is_sign_positive());
        assert!(f64_min(f64::NAN, 1.0).is_nan());
        assert_eq!(f64_max(1.0, 2.0), 2.0);
    }

    #[test]
    fn nearest_ties_to_even() {
        assert_eq!(f32_nearest(2.5), 2.0);
        assert_eq!(f64_nearest(3.5), 4.0);
        assert!(f64_nearest(-0.4).is_sign_negative());
    }

    #[test]
    fn truncation_bounds() {
        assert_eq!(i32_trunc_f32_s(-2147483648.0), Ok(i32::MIN));
        assert_eq!(i32_trunc_f32_s(2147483648.0), Err(TrapCode::IntegerOverflow));
        assert_eq!(i32_trunc_f64_u(-0.9), Ok(0));
        assert_eq!(i32_trunc_f64_u(-1.0), Err(TrapCode::IntegerOverflow));
        assert_eq!(i64_trunc_f64_s(f64::NAN), Err(TrapCode::InvalidConversionToInteger));
        assert_eq!(i64_trunc_f32_u(1.8446743e19), Ok(18446742974197923840));
    }
}
