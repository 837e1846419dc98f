//! Decoding and validation: bytes (binary or text) in, an immutable [`Module`] out.
//!
//! This layer knows nothing of execution. It records what instantiation and the execution
//! tiers need: canonical type ids, imports and exports, segment contents, and the byte range of
//! every function body, with an opaque slot per body where a tier keeps its translation.

mod bodies;
mod const_expr;
pub(crate) mod debuginfo;
pub(crate) mod gc_types;
pub(crate) mod leb;
mod parse;

pub(crate) use const_expr::{ConstAlloc, ConstEnv, ConstExpr};

use crate::engine::Engine;
use crate::error::Result;
use crate::types::{ExternType, FuncType, GlobalType, MemoryType, RefType, TableType};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// A module binary: owned, or a part of something else that holds it (an artifact file mapped
/// into memory). Dereferences to the bytes.
#[derive(Clone)]
pub(crate) struct ModuleBytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    range: Range<usize>,
}

impl ModuleBytes {
    /// `range` of `owner`'s bytes (which must lie inside them).
    pub(crate) fn part_of(owner: Arc<dyn AsRef<[u8]> + Send + Sync>, range: Range<usize>) -> Self {
        assert!(range.start <= range.end && range.end <= (*owner).as_ref().len());
        ModuleBytes { owner, range }
    }
}

impl From<&[u8]> for ModuleBytes {
    fn from(bytes: &[u8]) -> Self {
        let len = bytes.len();
        ModuleBytes { owner: Arc::new(bytes.to_vec()), range: 0..len }
    }
}

impl std::ops::Deref for ModuleBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.range.clone()]
    }
}

/// Whether decoding validates function bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bodies {
    /// Validate them (any input).
    Validate,
    /// Trust them: the binary is one Ward decoded before (an ahead-of-time artifact's, whose
    /// loader is `unsafe` for this reason). Everything but the bodies is still validated.
    Trust,
}

/// An execution tier's artifact for one function, opaque to this layer.
pub(crate) type TierCode = Arc<dyn std::any::Any + Send + Sync>;

/// A compiled WebAssembly module: validated, immutable, cheap to clone and shareable across
/// threads.
///
/// ```
/// let engine = ward::Engine::default();
/// let module = ward::Module::new(&engine, r#"(module (func (export "f") (result i32) i32.const 7))"#)?;
/// assert_eq!(module.exports().next().unwrap().0, "f");
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

/// A type of the module's type section, resolved to its engine-wide canonical id.
#[derive(Clone, Debug)]
pub(crate) struct ModuleType {
    /// Canonical type id (shared across modules of one engine).
    pub(crate) id: u32,
    /// The function signature, if this is a function type.
    pub(crate) func: Option<Arc<FuncType>>,
    /// Canonical ids of the declared supertypes, nearest first.
    pub(crate) supers: Arc<[u32]>,
    /// The layout, if this is a struct or array type.
    pub(crate) gc: Option<Arc<gc_types::GcType>>,
}

#[derive(Clone, Debug)]
pub(crate) enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
    Tag(u32),
}

#[derive(Clone, Debug)]
pub(crate) struct Import {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) kind: ImportKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExportKind {
    Func,
    Table,
    Memory,
    Global,
    Tag,
}

#[derive(Clone, Debug)]
pub(crate) struct TableDef {
    pub(crate) ty: TableType,
    pub(crate) init: Option<ConstExpr>,
}

#[derive(Clone, Debug)]
pub(crate) struct GlobalDef {
    pub(crate) ty: GlobalType,
    pub(crate) init: ConstExpr,
}

#[derive(Clone, Debug)]
pub(crate) enum SegmentMode {
    Passive,
    Active { index: u32, offset: ConstExpr },
    Declared,
}

#[derive(Clone, Debug)]
pub(crate) struct ElemSegment {
    pub(crate) mode: SegmentMode,
    pub(crate) ty: RefType,
    pub(crate) items: ElemItems,
}

/// The items of an element segment. Plain function references (the common case) are kept as
/// 4-byte indices, so a module's segments cost about as much memory as their encoding.
#[derive(Clone, Debug)]
pub(crate) enum ElemItems {
    /// Function indices; [`ElemItems::NULL`] is a null reference.
    Funcs(Box<[u32]>),
    /// Any other constant expressions.
    Exprs(Box<[ConstExpr]>),
}

impl ElemItems {
    /// The null reference in [`ElemItems::Funcs`].
    pub(crate) const NULL: u32 = u32::MAX;

    pub(crate) fn len(&self) -> usize {
        match self {
            ElemItems::Funcs(f) => f.len(),
            ElemItems::Exprs(e) => e.len(),
        }
    }

    /// Evaluates every item to a reference value, as [`ConstExpr::eval`] does.
    pub(crate) fn eval(&self, env: &mut dyn ConstEnv) -> Result<Box<[u64]>> {
        match self {
            ElemItems::Funcs(f) => Ok(f
                .iter()
                .map(|&i| if i == ElemItems::NULL { 0 } else { env.func_ref(i) })
                .collect()),
            ElemItems::Exprs(e) => e.iter().map(|e| Ok(e.eval(env)? as u64)).collect(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct DataSegment {
    pub(crate) mode: SegmentMode,
    /// Byte range of the contents within [`ModuleInner::bytes`].
    pub(crate) range: Range<usize>,
}

#[derive(Debug)]
pub(crate) struct FuncBody {
    /// Byte range of the body (locals and code) within [`ModuleInner::bytes`].
    pub(crate) range: Range<usize>,
}

pub(crate) struct ModuleInner {
    pub(crate) engine: Engine,
    /// The module binary (for text input, the binary it was translated to).
    pub(crate) bytes: ModuleBytes,
    pub(crate) types: Vec<ModuleType>,
    pub(crate) imports: Vec<Import>,
    /// Type index of every function, imported first.
    pub(crate) funcs: Vec<u32>,
    pub(crate) num_imported_funcs: u32,
    pub(crate) tables: Vec<TableDef>,
    pub(crate) num_imported_tables: u32,
    pub(crate) memories: Vec<MemoryType>,
    pub(crate) num_imported_memories: u32,
    pub(crate) globals: Vec<GlobalDef>,
    pub(crate) num_imported_globals: u32,
    /// Type index of every tag, imported first.
    pub(crate) tags: Vec<u32>,
    pub(crate) num_imported_tags: u32,
    pub(crate) exports: Vec<(String, ExportKind, u32)>,
    pub(crate) export_map: HashMap<String, usize>,
    pub(crate) start: Option<u32>,
    pub(crate) elems: Vec<ElemSegment>,
    pub(crate) datas: Vec<DataSegment>,
    /// Bodies of the defined (non-imported) functions.
    pub(crate) bodies: Vec<FuncBody>,
    /// Each defined function's code as an execution tier translated it (lazily, once per
    /// module): opaque here, so that decoding knows nothing of execution.
    pub(crate) code: Box<[OnceLock<TierCode>]>,
    /// A tier's artifact for the module as a whole (the native tier compiles whole modules),
    /// opaque here like `code`.
    pub(crate) module_code: OnceLock<TierCode>,
    pub(crate) name: Option<String>,
    pub(crate) func_names: HashMap<u32, String>,
    /// DWARF line tables, read when a trap's frame first asks for its source location.
    pub(crate) line_tables: debuginfo::LazyLineTables,
}

impl Module {
    /// Decodes and validates `binary` (no tier is involved: see `api::module` for the public
    /// constructors, which also translate eagerly when the engine asks for it).
    pub(crate) fn decode(engine: &Engine, binary: &[u8]) -> Result<Module> {
        Module::decode_bytes(engine, binary.into(), Bodies::Validate)
    }

    /// Decodes `bytes`, validating function bodies or not (see [`Bodies`]).
    pub(crate) fn decode_bytes(
        engine: &Engine,
        bytes: ModuleBytes,
        bodies: Bodies,
    ) -> Result<Module> {
        let inner = parse::parse(engine, bytes, bodies)
            .inspect_err(|e| tracing::debug!(target: "ward", error = %e, "invalid module"))?;
        tracing::debug!(target: "ward", functions = inner.bodies.len(), "decoded");
        Ok(Module { inner: Arc::new(inner) })
    }

    /// The engine this module was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The module's name from its name section, if any.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The imports: module name, item name, type.
    ///
    /// ```
    /// let engine = ward::Engine::default();
    /// let m = ward::Module::new(&engine, r#"(module (import "env" "f" (func (param i32))))"#)?;
    /// let (module, name, ty) = m.imports().next().unwrap();
    /// assert_eq!((module, name, ty.kind_name()), ("env", "f", "func"));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn imports(&self) -> impl ExactSizeIterator<Item = (&str, &str, ExternType)> + '_ {
        self.inner.imports.iter().map(|i| {
            let ty = match &i.kind {
                ImportKind::Func(t) => {
                    ExternType::Func(self.inner.func_type_of_type(*t).as_ref().clone())
                }
                ImportKind::Table(t) => ExternType::Table(*t),
                ImportKind::Memory(m) => ExternType::Memory(*m),
                ImportKind::Global(g) => ExternType::Global(*g),
                ImportKind::Tag(t) => {
                    ExternType::Tag(self.inner.func_type_of_type(*t).as_ref().clone())
                }
            };
            (i.module.as_str(), i.name.as_str(), ty)
        })
    }

    /// The exports: name and type.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = (&str, ExternType)> + '_ {
        self.inner.exports.iter().map(|(name, kind, idx)| {
            let m = &self.inner;
            let ty = match kind {
                ExportKind::Func => ExternType::Func(m.func_type(*idx).as_ref().clone()),
                ExportKind::Table => ExternType::Table(m.tables[*idx as usize].ty),
                ExportKind::Memory => ExternType::Memory(m.memories[*idx as usize]),
                ExportKind::Global => ExternType::Global(m.globals[*idx as usize].ty),
                ExportKind::Tag => {
                    ExternType::Tag(m.func_type_of_type(m.tags[*idx as usize]).as_ref().clone())
                }
            };
            (name.as_str(), ty)
        })
    }
}

impl ModuleInner {
    /// The signature of a function type index. Validation guarantees `ty` is a function type.
    pub(crate) fn func_type_of_type(&self, ty: u32) -> &Arc<FuncType> {
        self.types[ty as usize].func.as_ref().expect("validated: function type index")
    }

    /// The signature of function `func` (module function index).
    pub(crate) fn func_type(&self, func: u32) -> &Arc<FuncType> {
        self.func_type_of_type(self.funcs[func as usize])
    }

    /// The layout of struct or array type `ty` (module type index). Validation guarantees
    /// that the GC instructions naming `ty` name a struct or array type.
    pub(crate) fn gc_type(&self, ty: u32) -> &Arc<gc_types::GcType> {
        self.types[ty as usize].gc.as_ref().expect("validated: struct or array type index")
    }

    /// Whether the module declares struct or array types.
    pub(crate) fn uses_gc_types(&self) -> bool {
        self.types.iter().any(|t| t.gc.is_some())
    }

    pub(crate) fn func_name(&self, func: u32) -> Option<&str> {
        self.func_names.get(&func).map(|s| s.as_str())
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.inner.name).finish_non_exhaustive()
    }
}
