//! `macro_rules!` helpers that define Rust types for component records, enums, variants and
//! flags, with their [`ComponentType`](crate::ComponentType), [`Lower`](crate::Lower) and
//! [`Lift`](crate::Lift) implementations. Rust names map to component names by case:
//! `snake_case` fields to `kebab-case`, `CamelCase` cases to `kebab-case`,
//! `SCREAMING_SNAKE` flags to `kebab-case`; the check when a function is made typed compares
//! them, in order.

/// Defines a struct for a component `record` (fields in the record's order, `snake_case` for
/// `kebab-case`), with its typed-call implementations.
///
/// ```
/// ward_component::record! {
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct Point {
///         pub x: i32,
///         pub y: i32,
///         pub label_text: String,
///     }
/// }
/// use ward_component::{ComponentType, Type};
/// let ty = Type::Record(std::sync::Arc::from(vec![
///     ("x".to_string(), Type::S32),
///     ("y".to_string(), Type::S32),
///     ("label-text".to_string(), Type::String),
/// ]));
/// assert!(Point::typecheck(&ty).is_ok());
/// assert_eq!((Point::SIZE, Point::ALIGN, Point::FLAT), (16, 4, 4));
/// ```
#[macro_export]
macro_rules! record {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fattr:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $($(#[$fattr])* $fvis $field: $ty,)*
        }

        impl $crate::ComponentType for $name {
            const ALIGN: usize = {
                let mut a = 1;
                $(a = $crate::typed::max(a, <$ty as $crate::ComponentType>::ALIGN);)*
                a
            };
            const SIZE: usize = {
                let mut s = 0;
                $(
                    s = $crate::typed::align_up(s, <$ty as $crate::ComponentType>::ALIGN)
                        + <$ty as $crate::ComponentType>::SIZE;
                )*
                $crate::typed::align_up(s, <Self as $crate::ComponentType>::ALIGN)
            };
            const FLAT: usize = 0 $(+ <$ty as $crate::ComponentType>::FLAT)*;
            const PLAIN: bool = true $(&& <$ty as $crate::ComponentType>::PLAIN)*;

            fn typecheck(ty: &$crate::Type) -> ::std::result::Result<(), ::std::string::String> {
                let $crate::Type::Record(fields) = ty else {
                    return Err($crate::typed::mismatch::<Self>(ty));
                };
                let names: &[&str] = &[$(stringify!($field)),*];
                if fields.len() != names.len() {
                    return Err(format!(
                        "the component record has {} fields, `{}` has {}",
                        fields.len(),
                        stringify!($name),
                        names.len()
                    ));
                }
                let mut _i = 0;
                $(
                    let (n, t) = &fields[_i];
                    if !$crate::typed::field_matches(stringify!($field), n) {
                        return Err(format!(
                            "field {} of the component record is `{}`, of `{}` it is `{}`",
                            _i, n, stringify!($name), stringify!($field)
                        ));
                    }
                    <$ty as $crate::ComponentType>::typecheck(t)
                        .map_err(|e| format!("field `{}`: {}", n, e))?;
                    _i += 1;
                )*
                Ok(())
            }
        }

        impl $crate::Lower for $name {
            #[inline]
            fn lower<T>(
                &self,
                _cx: &mut $crate::typed::Lowerer<'_, '_, T>,
                _out: &mut $crate::typed::FlatValues,
            ) -> ::ward::Result<()> {
                $($crate::Lower::lower(&self.$field, _cx, _out)?;)*
                Ok(())
            }

            #[inline]
            fn store<T>(
                &self,
                _cx: &mut $crate::typed::Lowerer<'_, '_, T>,
                _ptr: usize,
            ) -> ::ward::Result<()> {
                let mut _off = 0;
                $(
                    _off = $crate::typed::align_up(_off, <$ty as $crate::ComponentType>::ALIGN);
                    $crate::Lower::store(&self.$field, _cx, _ptr + _off)?;
                    _off += <$ty as $crate::ComponentType>::SIZE;
                )*
                Ok(())
            }

            #[inline]
            fn store_plain(&self, _dst: &mut [u8]) {
                let mut _off = 0;
                $(
                    _off = $crate::typed::align_up(_off, <$ty as $crate::ComponentType>::ALIGN);
                    if let Some(d) = _dst.get_mut(_off..) {
                        $crate::Lower::store_plain(&self.$field, d);
                    }
                    _off += <$ty as $crate::ComponentType>::SIZE;
                )*
            }
        }

        impl $crate::Lift for $name {
            #[inline]
            fn lift(
                _cx: &mut $crate::typed::Lifter<'_>,
                _src: &mut $crate::typed::FlatSource<'_>,
            ) -> ::ward::Result<Self> {
                Ok($name { $($field: <$ty as $crate::Lift>::lift(_cx, _src)?,)* })
            }

            #[inline]
            fn load(_cx: &mut $crate::typed::Lifter<'_>, _ptr: usize) -> ::ward::Result<Self> {
                let mut _off = 0;
                Ok($name {
                    $($field: {
                        _off = $crate::typed::align_up(_off, <$ty as $crate::ComponentType>::ALIGN);
                        let v = <$ty as $crate::Lift>::load(_cx, _ptr + _off)?;
                        _off += <$ty as $crate::ComponentType>::SIZE;
                        v
                    },)*
                })
            }
        }
    };
}

/// Defines a fieldless enum for a component `enum` (cases in order, `CamelCase` for
/// `kebab-case`), with its typed-call implementations.
///
/// ```
/// ward_component::enumeration! {
///     #[derive(Debug, Clone, Copy, PartialEq)]
///     pub enum Color { Red, Green, HotPink }
/// }
/// use ward_component::{ComponentType, Type};
/// let ty = Type::Enum(["red", "green", "hot-pink"].iter().map(|s| s.to_string()).collect());
/// assert!(Color::typecheck(&ty).is_ok());
/// let wrong = Type::Enum(["red", "green", "blue"].iter().map(|s| s.to_string()).collect());
/// let err = Color::typecheck(&wrong).unwrap_err();
/// assert_eq!(err, "case 2 of the component type is `blue`, of `Color` it is `HotPink`");
/// ```
#[macro_export]
macro_rules! enumeration {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident {
            $($(#[$cattr:meta])* $case:ident),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis enum $name {
            $($(#[$cattr])* $case,)+
        }

        impl $crate::ComponentType for $name {
            const SIZE: usize = $crate::typed::discriminant_size([$(stringify!($case)),+].len());
            const ALIGN: usize = <Self as $crate::ComponentType>::SIZE;
            const FLAT: usize = 1;
            const PLAIN: bool = true;

            fn typecheck(ty: &$crate::Type) -> ::std::result::Result<(), ::std::string::String> {
                let $crate::Type::Enum(names) = ty else {
                    return Err($crate::typed::mismatch::<Self>(ty));
                };
                $crate::typed::check_names("case", stringify!($name), &[$(stringify!($case)),+], names)
            }
        }

        impl $name {
            fn __discriminant(&self) -> u32 {
                let mut _i = 0u32;
                $(
                    if let $name::$case = self {
                        return _i;
                    }
                    _i += 1;
                )+
                _i
            }

            fn __from_discriminant(d: u32) -> ::ward::Result<Self> {
                let mut _i = 0u32;
                $(
                    if d == _i {
                        return Ok($name::$case);
                    }
                    _i += 1;
                )+
                Err($crate::typed::invalid_discriminant())
            }
        }

        $crate::__word_impls!($name; this => this.__discriminant(); w => Self::__from_discriminant(w));
    };
}

/// Defines an enum for a component `variant` (cases in order, `CamelCase` for `kebab-case`;
/// a case has at most one payload type, written in parentheses), with its typed-call
/// implementations.
///
/// ```
/// ward_component::variant! {
///     #[derive(Debug, Clone, PartialEq)]
///     pub enum Shape { Circle(f64), Named(String), Empty }
/// }
/// use ward_component::{ComponentType, Type};
/// let ty = Type::Variant(std::sync::Arc::from(vec![
///     ("circle".to_string(), Some(Type::F64)),
///     ("named".to_string(), Some(Type::String)),
///     ("empty".to_string(), None),
/// ]));
/// assert!(Shape::typecheck(&ty).is_ok());
/// assert_eq!((Shape::SIZE, Shape::ALIGN, Shape::FLAT), (16, 8, 3));
/// ```
#[macro_export]
macro_rules! variant {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident {
            $($(#[$cattr:meta])* $case:ident $(($payload:ty))?),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis enum $name {
            $($(#[$cattr])* $case $(($payload))?,)+
        }

        impl $name {
            const __DISC: usize = $crate::typed::discriminant_size([$(stringify!($case)),+].len());
            const __PAYLOAD_ALIGN: usize = {
                let mut a = 1;
                $($(a = $crate::typed::max(a, <$payload as $crate::ComponentType>::ALIGN);)?)+
                a
            };
            const __PAYLOAD_OFFSET: usize =
                $crate::typed::align_up(Self::__DISC, Self::__PAYLOAD_ALIGN);
        }

        impl $crate::ComponentType for $name {
            const ALIGN: usize = $crate::typed::max(Self::__DISC, Self::__PAYLOAD_ALIGN);
            const SIZE: usize = {
                let mut p = 0;
                $($(p = $crate::typed::max(p, <$payload as $crate::ComponentType>::SIZE);)?)+
                $crate::typed::align_up(
                    Self::__PAYLOAD_OFFSET + p,
                    <Self as $crate::ComponentType>::ALIGN,
                )
            };
            const FLAT: usize = {
                let mut f = 0;
                $($(f = $crate::typed::max(f, <$payload as $crate::ComponentType>::FLAT);)?)+
                1 + f
            };
            const PLAIN: bool = true $($(&& <$payload as $crate::ComponentType>::PLAIN)?)+;

            fn typecheck(ty: &$crate::Type) -> ::std::result::Result<(), ::std::string::String> {
                let $crate::Type::Variant(cases) = ty else {
                    return Err($crate::typed::mismatch::<Self>(ty));
                };
                let names: Vec<::std::string::String> =
                    cases.iter().map(|(n, _)| n.clone()).collect();
                $crate::typed::check_names("case", stringify!($name), &[$(stringify!($case)),+], &names)?;
                let mut _i = 0;
                $(
                    $crate::__variant_payload_check!(cases[_i].1.as_ref() $(, $payload)?)
                        .map_err(|e| format!("case `{}`: {}", cases[_i].0, e))?;
                    _i += 1;
                )+
                Ok(())
            }
        }

        impl $crate::Lower for $name {
            #[inline]
            fn lower<T>(
                &self,
                cx: &mut $crate::typed::Lowerer<'_, '_, T>,
                out: &mut $crate::typed::FlatValues,
            ) -> ::ward::Result<()> {
                let end = out.len() + <Self as $crate::ComponentType>::FLAT;
                let mut _i = 0u64;
                $(
                    if let $crate::__variant_pat!($name::$case, v $(, $payload)?) = self {
                        out.push(_i);
                        $crate::__variant_payload!(v $(, $payload)?; p => $crate::Lower::lower(p, cx, out)?);
                        out.pad_to(end);
                        return Ok(());
                    }
                    _i += 1;
                )+
                Ok(())
            }

            #[inline]
            fn store<T>(
                &self,
                cx: &mut $crate::typed::Lowerer<'_, '_, T>,
                ptr: usize,
            ) -> ::ward::Result<()> {
                let mut _i = 0u32;
                $(
                    if let $crate::__variant_pat!($name::$case, v $(, $payload)?) = self {
                        $crate::typed::store_discriminant(cx, ptr, _i, Self::__DISC)?;
                        $crate::__variant_payload!(v $(, $payload)?;
                            p => $crate::Lower::store(p, cx, ptr + Self::__PAYLOAD_OFFSET)?);
                        return Ok(());
                    }
                    _i += 1;
                )+
                Ok(())
            }

            #[inline]
            fn store_plain(&self, dst: &mut [u8]) {
                let mut _i = 0u32;
                $(
                    if let $crate::__variant_pat!($name::$case, v $(, $payload)?) = self {
                        $crate::typed::write_discriminant(dst, _i, Self::__DISC);
                        if let Some(_rest) = dst.get_mut(Self::__PAYLOAD_OFFSET..) {
                            $crate::__variant_payload!(v $(, $payload)?;
                                p => $crate::Lower::store_plain(p, _rest));
                        }
                        return;
                    }
                    _i += 1;
                )+
            }
        }

        impl $crate::Lift for $name {
            #[inline]
            fn lift(
                cx: &mut $crate::typed::Lifter<'_>,
                src: &mut $crate::typed::FlatSource<'_>,
            ) -> ::ward::Result<Self> {
                let end = src.position() + <Self as $crate::ComponentType>::FLAT;
                let d = src.next_bits()? as u32;
                let mut _i = 0u32;
                $(
                    if d == _i {
                        let v = $crate::__variant_lift!(lift $name::$case $(, $payload)?; cx, src);
                        src.skip_to(end);
                        return Ok(v);
                    }
                    _i += 1;
                )+
                Err($crate::typed::invalid_discriminant())
            }

            #[inline]
            fn load(cx: &mut $crate::typed::Lifter<'_>, ptr: usize) -> ::ward::Result<Self> {
                let d = $crate::typed::load_discriminant(cx, ptr, Self::__DISC)?;
                let _at = ptr + Self::__PAYLOAD_OFFSET;
                let mut _i = 0u32;
                $(
                    if d == _i {
                        return Ok($crate::__variant_lift!(load $name::$case $(, $payload)?; cx, _at));
                    }
                    _i += 1;
                )+
                Err($crate::typed::invalid_discriminant())
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __variant_pat {
    ($path:path, $v:ident, $payload:ty) => {
        $path($v)
    };
    ($path:path, $v:ident) => {
        $path
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __variant_payload {
    ($v:ident, $payload:ty; $p:ident => $e:expr) => {{
        let $p = $v;
        $e;
    }};
    ($v:ident; $p:ident => $e:expr) => {};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __variant_lift {
    (lift $path:path, $payload:ty; $cx:ident, $src:ident) => {
        $path(<$payload as $crate::Lift>::lift($cx, $src)?)
    };
    (load $path:path, $payload:ty; $cx:ident, $at:ident) => {
        $path(<$payload as $crate::Lift>::load($cx, $at)?)
    };
    ($how:ident $path:path; $cx:ident, $src:ident) => {
        $path
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __variant_payload_check {
    ($ty:expr, $payload:ty) => {
        <$payload as $crate::ComponentType>::typecheck_payload($ty)
    };
    ($ty:expr) => {
        match $ty {
            None => Ok(()),
            Some(t) => {
                Err(format!("the component case has a payload `{t}`, the Rust case has none"))
            }
        }
    };
}

/// Defines a set of flags for a component `flags` type (at most 32 flags, in order,
/// `SCREAMING_SNAKE` for `kebab-case`): a `Copy` struct with a constant per flag, `|`,
/// `contains` and `empty`, and its typed-call implementations.
///
/// ```
/// ward_component::flags! {
///     pub struct Access { READ, WRITE, READ_ACL }
/// }
/// let a = Access::READ | Access::READ_ACL;
/// assert!(a.contains(Access::READ) && !a.contains(Access::WRITE));
/// use ward_component::{ComponentType, Type};
/// let ty = Type::Flags(["read", "write", "read-acl"].iter().map(|s| s.to_string()).collect());
/// assert!(Access::typecheck(&ty).is_ok());
/// ```
#[macro_export]
macro_rules! flags {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fattr:meta])* $flag:ident),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name {
            bits: u32,
        }

        #[allow(non_upper_case_globals)]
        impl $name {
            const __NAMES: &'static [&'static str] = &[$(stringify!($flag)),+];
            $crate::__flag_consts!($name; 0; $($(#[$fattr])* $flag),+);

            /// No flag set.
            $vis const fn empty() -> Self {
                $name { bits: 0 }
            }

            /// Whether every flag of `other` is set in `self`.
            $vis const fn contains(self, other: Self) -> bool {
                self.bits & other.bits == other.bits
            }

            /// The flags as bits, the first flag in the lowest bit.
            $vis const fn bits(self) -> u32 {
                self.bits
            }
        }

        impl ::std::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, other: Self) -> Self {
                $name { bits: self.bits | other.bits }
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let set = Self::__NAMES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| self.bits & (1 << i) != 0)
                    .map(|(_, n)| *n);
                f.debug_set().entries(set).finish()
            }
        }

        impl $crate::ComponentType for $name {
            const SIZE: usize = match Self::__NAMES.len() {
                0..=8 => 1,
                9..=16 => 2,
                _ => 4,
            };
            const ALIGN: usize = <Self as $crate::ComponentType>::SIZE;
            const FLAT: usize = 1;
            const PLAIN: bool = true;

            fn typecheck(ty: &$crate::Type) -> ::std::result::Result<(), ::std::string::String> {
                let $crate::Type::Flags(names) = ty else {
                    return Err($crate::typed::mismatch::<Self>(ty));
                };
                if Self::__NAMES.len() > 32 {
                    return Err(format!("`{}` has more than 32 flags", stringify!($name)));
                }
                $crate::typed::check_names("flag", stringify!($name), Self::__NAMES, names)
            }
        }

        $crate::__word_impls!($name; this => this.bits; w => {
            let all = (1u64 << Self::__NAMES.len()) - 1;
            Ok($name { bits: (w as u64 & all) as u32 })
        });
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __flag_consts {
    ($name:ident; $bit:expr; $(#[$fattr:meta])* $flag:ident $(, $($rest:tt)*)?) => {
        $(#[$fattr])*
        pub const $flag: $name = $name { bits: 1 << ($bit) };
        $($crate::__flag_consts!($name; $bit + 1; $($rest)*);)?
    };
}

/// The [`Lower`](crate::Lower) and [`Lift`](crate::Lift) implementations of a type stored as
/// one word (a discriminant or flag bits) of `SIZE` bytes and flattened to one `i32`:
/// `$this => word` makes the word, `$w => Result<Self>` reads it back.
#[doc(hidden)]
#[macro_export]
macro_rules! __word_impls {
    ($name:ident; $this:ident => $to:expr; $w:ident => $from:expr) => {
        impl $crate::Lower for $name {
            #[inline]
            fn lower<T>(
                &self,
                _cx: &mut $crate::typed::Lowerer<'_, '_, T>,
                out: &mut $crate::typed::FlatValues,
            ) -> ::ward::Result<()> {
                let $this = self;
                out.push($to as u64);
                Ok(())
            }

            #[inline]
            fn store<T>(
                &self,
                cx: &mut $crate::typed::Lowerer<'_, '_, T>,
                ptr: usize,
            ) -> ::ward::Result<()> {
                let $this = self;
                let size = <Self as $crate::ComponentType>::SIZE;
                $crate::typed::store_discriminant(cx, ptr, $to, size)
            }

            #[inline]
            fn store_plain(&self, dst: &mut [u8]) {
                let $this = self;
                $crate::typed::write_discriminant(dst, $to, <Self as $crate::ComponentType>::SIZE)
            }
        }

        impl $crate::Lift for $name {
            #[inline]
            fn lift(
                _cx: &mut $crate::typed::Lifter<'_>,
                src: &mut $crate::typed::FlatSource<'_>,
            ) -> ::ward::Result<Self> {
                let $w = src.next_bits()? as u32;
                $from
            }

            #[inline]
            fn load(cx: &mut $crate::typed::Lifter<'_>, ptr: usize) -> ::ward::Result<Self> {
                let size = <Self as $crate::ComponentType>::SIZE;
                let $w = $crate::typed::load_discriminant(cx, ptr, size)?;
                $from
            }
        }
    };
}
