//! The types of WebAssembly values and of importable/exportable items, as the embedding API
//! presents them.

use std::fmt;

/// The heap type of a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeapType {
    /// Any function (`func`).
    Func,
    /// Any host reference (`extern`).
    Extern,
    /// Any exception (`exn`).
    Exn,
    /// The bottom of the function hierarchy (`nofunc`).
    NoFunc,
    /// The bottom of the extern hierarchy (`noextern`).
    NoExtern,
    /// The bottom of the exception hierarchy (`noexn`).
    NoExn,
    /// The top of the internal (garbage-collected) hierarchy (`any`).
    Any,
    /// References that can be compared with `ref.eq` (`eq`): i31, structs and arrays.
    Eq,
    /// Unboxed 31-bit integers (`i31`).
    I31,
    /// Any struct (`struct`).
    Struct,
    /// Any array (`array`).
    Array,
    /// The bottom of the internal hierarchy (`none`).
    None,
    /// A concrete function type, by its engine-wide canonical type id.
    Concrete(u32),
    /// A concrete struct type, by its engine-wide canonical type id.
    ConcreteStruct(u32),
    /// A concrete array type, by its engine-wide canonical type id.
    ConcreteArray(u32),
    /// Heap types of proposals Ward does not run (continuations, shared references).
    Other,
}

/// The type of a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefType {
    /// Whether `null` is a value of this type.
    pub nullable: bool,
    /// The heap type.
    pub heap: HeapType,
}

impl RefType {
    /// `funcref`, i.e. `(ref null func)`.
    pub const FUNCREF: RefType = RefType { nullable: true, heap: HeapType::Func };
    /// `externref`, i.e. `(ref null extern)`.
    pub const EXTERNREF: RefType = RefType { nullable: true, heap: HeapType::Extern };
    /// `exnref`, i.e. `(ref null exn)`.
    pub const EXNREF: RefType = RefType { nullable: true, heap: HeapType::Exn };
    /// `anyref`, i.e. `(ref null any)`.
    pub const ANYREF: RefType = RefType { nullable: true, heap: HeapType::Any };
    /// `eqref`, i.e. `(ref null eq)`.
    pub const EQREF: RefType = RefType { nullable: true, heap: HeapType::Eq };
    /// `i31ref`, i.e. `(ref null i31)`.
    pub const I31REF: RefType = RefType { nullable: true, heap: HeapType::I31 };
}

/// The type of a WebAssembly value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference.
    Ref(RefType),
}

impl ValType {
    /// `funcref`.
    pub const FUNCREF: ValType = ValType::Ref(RefType::FUNCREF);
    /// `externref`.
    pub const EXTERNREF: ValType = ValType::Ref(RefType::EXTERNREF);
    /// `anyref`.
    pub const ANYREF: ValType = ValType::Ref(RefType::ANYREF);

    /// Number of 64-bit interpreter slots a value of this type occupies.
    pub(crate) fn slots(self) -> u32 {
        if self == ValType::V128 {
            2
        } else {
            1
        }
    }

    pub(crate) fn from_wasmparser(t: wasmparser::ValType) -> ValType {
        match t {
            wasmparser::ValType::I32 => ValType::I32,
            wasmparser::ValType::I64 => ValType::I64,
            wasmparser::ValType::F32 => ValType::F32,
            wasmparser::ValType::F64 => ValType::F64,
            wasmparser::ValType::V128 => ValType::V128,
            wasmparser::ValType::Ref(r) => ValType::Ref(RefType::from_wasmparser(r)),
        }
    }
}

impl RefType {
    pub(crate) fn from_wasmparser(r: wasmparser::RefType) -> RefType {
        use wasmparser::{AbstractHeapType as A, HeapType as H};
        let heap = match r.heap_type() {
            H::Abstract { shared: _, ty } => match ty {
                A::Func => HeapType::Func,
                A::Extern => HeapType::Extern,
                A::Exn => HeapType::Exn,
                A::NoFunc => HeapType::NoFunc,
                A::NoExtern => HeapType::NoExtern,
                A::NoExn => HeapType::NoExn,
                A::Any => HeapType::Any,
                A::Eq => HeapType::Eq,
                A::I31 => HeapType::I31,
                A::Struct => HeapType::Struct,
                A::Array => HeapType::Array,
                A::None => HeapType::None,
                _ => HeapType::Other,
            },
            H::Concrete(idx) | H::Exact(idx) => match idx.as_core_type_id() {
                Some(id) => HeapType::Concrete(core_type_index(id)),
                None => HeapType::Other,
            },
        };
        RefType { nullable: r.is_nullable(), heap }
    }

    /// The top type of this reference's hierarchy: `func`, `extern`, `exn` or `any`.
    pub(crate) fn top(self) -> HeapType {
        self.heap.top()
    }

    /// This type with a concrete heap type (decoded as `Concrete(id)`) resolved to the kind
    /// `kind(id)` says it has: `Concrete`, `ConcreteStruct` or `ConcreteArray`.
    pub(crate) fn resolve_concrete(self, kind: &dyn Fn(u32) -> HeapType) -> RefType {
        match self.heap {
            HeapType::Concrete(id) => RefType { heap: kind(id), ..self },
            _ => self,
        }
    }
}

impl ValType {
    /// As [`RefType::resolve_concrete`], for a value type.
    pub(crate) fn resolve_concrete(self, kind: &dyn Fn(u32) -> HeapType) -> ValType {
        match self {
            ValType::Ref(r) => ValType::Ref(r.resolve_concrete(kind)),
            other => other,
        }
    }
}

impl HeapType {
    /// The top type of this heap type's hierarchy: `func`, `extern`, `exn` or `any`.
    pub(crate) fn top(self) -> HeapType {
        match self {
            HeapType::Func | HeapType::NoFunc | HeapType::Concrete(_) => HeapType::Func,
            HeapType::Extern | HeapType::NoExtern => HeapType::Extern,
            HeapType::Exn | HeapType::NoExn => HeapType::Exn,
            HeapType::Any
            | HeapType::Eq
            | HeapType::I31
            | HeapType::Struct
            | HeapType::Array
            | HeapType::None
            | HeapType::ConcreteStruct(_)
            | HeapType::ConcreteArray(_)
            | HeapType::Other => HeapType::Any,
        }
    }
}

pub(crate) fn core_type_index(id: wasmparser::types::CoreTypeId) -> u32 {
    use wasmparser::types::TypeIdentifier;
    id.index() as u32
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => write!(f, "{r}"),
        }
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = match self.heap {
            HeapType::Func => "func".to_string(),
            HeapType::Extern => "extern".to_string(),
            HeapType::Exn => "exn".to_string(),
            HeapType::NoFunc => "nofunc".to_string(),
            HeapType::NoExtern => "noextern".to_string(),
            HeapType::NoExn => "noexn".to_string(),
            HeapType::Any => "any".to_string(),
            HeapType::Eq => "eq".to_string(),
            HeapType::I31 => "i31".to_string(),
            HeapType::Struct => "struct".to_string(),
            HeapType::Array => "array".to_string(),
            HeapType::None => "none".to_string(),
            HeapType::Concrete(i) | HeapType::ConcreteStruct(i) | HeapType::ConcreteArray(i) => {
                format!("type#{i}")
            }
            HeapType::Other => "gc".to_string(),
        };
        if self.nullable {
            write!(f, "(ref null {h})")
        } else {
            write!(f, "(ref {h})")
        }
    }
}

/// The type of a function: parameters and results.
///
/// ```
/// use ward::{FuncType, ValType};
/// let ty = FuncType::new([ValType::I32, ValType::I32], [ValType::I64]);
/// assert_eq!(ty.params().len(), 2);
/// assert_eq!(ty.results(), &[ValType::I64]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

impl FuncType {
    /// A function type from its parameter and result types.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        FuncType { params: params.into_iter().collect(), results: results.into_iter().collect() }
    }

    /// The parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// The result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    pub(crate) fn from_wasmparser(f: &wasmparser::FuncType) -> FuncType {
        FuncType::new(
            f.params().iter().map(|t| ValType::from_wasmparser(*t)),
            f.results().iter().map(|t| ValType::from_wasmparser(*t)),
        )
    }

    /// As [`RefType::resolve_concrete`], for every parameter and result.
    pub(crate) fn resolve_concrete(&self, kind: &dyn Fn(u32) -> HeapType) -> FuncType {
        FuncType::new(
            self.params.iter().map(|t| t.resolve_concrete(kind)),
            self.results.iter().map(|t| t.resolve_concrete(kind)),
        )
    }

    pub(crate) fn param_slots(&self) -> u32 {
        self.params.iter().map(|t| t.slots()).sum()
    }

    pub(crate) fn result_slots(&self) -> u32 {
        self.results.iter().map(|t| t.slots()).sum()
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(func")?;
        if !self.params.is_empty() {
            write!(f, " (param")?;
            for p in self.params.iter() {
                write!(f, " {p}")?;
            }
            write!(f, ")")?;
        }
        if !self.results.is_empty() {
            write!(f, " (result")?;
            for p in self.results.iter() {
                write!(f, " {p}")?;
            }
            write!(f, ")")?;
        }
        write!(f, ")")
    }
}

/// The type of a linear memory.
///
/// ```
/// let ty = ward::MemoryType::new(1, Some(2));
/// assert_eq!(ty.minimum(), 1);
/// assert!(!ty.is_64());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryType {
    pub(crate) min: u64,
    pub(crate) max: Option<u64>,
    pub(crate) memory64: bool,
    pub(crate) shared: bool,
    pub(crate) page_size_log2: u8,
}

impl MemoryType {
    /// A 32-bit memory of `min` pages (64 KiB each) and an optional maximum.
    pub fn new(min: u32, max: Option<u32>) -> MemoryType {
        MemoryType {
            min: min.into(),
            max: max.map(u64::from),
            memory64: false,
            shared: false,
            page_size_log2: 16,
        }
    }

    /// A shared 32-bit memory (threads proposal) of `min` pages and at most `max` pages: shared
    /// memories must declare a maximum.
    ///
    /// ```
    /// let ty = ward::MemoryType::shared(1, 10);
    /// assert!(ty.is_shared());
    /// assert_eq!(ty.maximum(), Some(10));
    /// ```
    pub fn shared(min: u32, max: u32) -> MemoryType {
        MemoryType { shared: true, ..MemoryType::new(min, Some(max)) }
    }

    /// Whether the memory is shared (threads proposal).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// A 64-bit memory (memory64 proposal).
    pub fn new64(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType { min, max, memory64: true, shared: false, page_size_log2: 16 }
    }

    /// Minimum size in pages.
    pub fn minimum(&self) -> u64 {
        self.min
    }

    /// Maximum size in pages, if any.
    pub fn maximum(&self) -> Option<u64> {
        self.max
    }

    /// Whether the memory is indexed by 64-bit addresses.
    pub fn is_64(&self) -> bool {
        self.memory64
    }

    pub(crate) fn from_wasmparser(m: &wasmparser::MemoryType) -> MemoryType {
        MemoryType {
            min: m.initial,
            max: m.maximum,
            memory64: m.memory64,
            shared: m.shared,
            page_size_log2: m.page_size_log2.map(|p| p as u8).unwrap_or(16),
        }
    }

    /// The largest page count any memory of this index type can have.
    pub(crate) fn absolute_max_pages(&self) -> u64 {
        if self.memory64 {
            // 2^64 one-byte pages do not fit a u64; no memory gets near either bound.
            1u64.checked_shl(64 - self.page_size_log2 as u32).unwrap_or(u64::MAX)
        } else {
            1u64 << (32 - self.page_size_log2 as u32)
        }
    }
}

/// The type of a table.
///
/// ```
/// let ty = ward::TableType::new(ward::RefType::FUNCREF, 10, None);
/// assert_eq!(ty.minimum(), 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableType {
    pub(crate) element: RefType,
    pub(crate) min: u64,
    pub(crate) max: Option<u64>,
    pub(crate) table64: bool,
}

impl TableType {
    /// A 32-bit-indexed table.
    pub fn new(element: RefType, min: u32, max: Option<u32>) -> TableType {
        TableType { element, min: min.into(), max: max.map(u64::from), table64: false }
    }

    /// The element type.
    pub fn element(&self) -> RefType {
        self.element
    }

    /// Minimum size in elements.
    pub fn minimum(&self) -> u64 {
        self.min
    }

    /// Maximum size in elements, if any.
    pub fn maximum(&self) -> Option<u64> {
        self.max
    }

    /// As [`RefType::resolve_concrete`], for the element type.
    pub(crate) fn resolve_concrete(self, kind: &dyn Fn(u32) -> HeapType) -> TableType {
        TableType { element: self.element.resolve_concrete(kind), ..self }
    }

    pub(crate) fn from_wasmparser(t: &wasmparser::TableType) -> TableType {
        TableType {
            element: RefType::from_wasmparser(t.element_type),
            min: t.initial,
            max: t.maximum,
            table64: t.table64,
        }
    }
}

/// Whether a global can be changed after instantiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Immutable.
    Const,
    /// Mutable.
    Var,
}

/// The type of a global.
///
/// ```
/// use ward::{GlobalType, Mutability, ValType};
/// let ty = GlobalType::new(ValType::I32, Mutability::Var);
/// assert_eq!(ty.content(), ValType::I32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalType {
    pub(crate) content: ValType,
    pub(crate) mutability: Mutability,
}

impl GlobalType {
    /// A global type.
    pub fn new(content: ValType, mutability: Mutability) -> GlobalType {
        GlobalType { content, mutability }
    }

    /// The type of the value held.
    pub fn content(&self) -> ValType {
        self.content
    }

    /// Whether the global is mutable.
    pub fn mutability(&self) -> Mutability {
        self.mutability
    }

    /// As [`RefType::resolve_concrete`], for the content type.
    pub(crate) fn resolve_concrete(self, kind: &dyn Fn(u32) -> HeapType) -> GlobalType {
        GlobalType { content: self.content.resolve_concrete(kind), ..self }
    }

    pub(crate) fn from_wasmparser(g: &wasmparser::GlobalType) -> GlobalType {
        GlobalType {
            content: ValType::from_wasmparser(g.content_type),
            mutability: if g.mutable { Mutability::Var } else { Mutability::Const },
        }
    }
}

/// The type of an importable or exportable item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// An exception tag, with the type of its payload.
    Tag(FuncType),
}

impl ExternType {
    /// A short name of the kind of item: `func`, `table`, `memory`, `global` or `tag`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "func",
            ExternType::Table(_) => "table",
            ExternType::Memory(_) => "memory",
            ExternType::Global(_) => "global",
            ExternType::Tag(_) => "tag",
        }
    }
}
