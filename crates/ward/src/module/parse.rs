//! One pass over the binary: validate every payload with the engine's shared validator and record
//! what the runtime needs.

use super::*;
use crate::error::Error;
use crate::module::bodies;
use crate::types::{core_type_index, HeapType, ValType};
use gc_types::{Field, GcKind, GcType, RefKind, Storage, StructLayout};
use wasmparser::{
    types::Types, CompositeInnerType, ElementItems, ElementKind, ExternalKind, KnownCustom, Name,
    Parser, Payload, TypeRef, ValidPayload, Validator,
};

pub(super) fn parse(engine: &Engine, bytes: ModuleBytes, check: Bodies) -> Result<ModuleInner> {
    // Pass 1 validates everything, function bodies included, with a fresh validator: a
    // validator that saw an error cannot be reused. Pass 2 (below) feeds the now known-valid
    // module to the engine's shared validator, skipping bodies, for canonical type ids.
    let mut validator = Validator::new_with_features(engine.config().features);
    let binary: &[u8] = &bytes;
    let mut m = ModuleInner {
        engine: engine.clone(),
        bytes: bytes.clone(),
        types: Vec::new(),
        imports: Vec::new(),
        funcs: Vec::new(),
        num_imported_funcs: 0,
        tables: Vec::new(),
        num_imported_tables: 0,
        memories: Vec::new(),
        num_imported_memories: 0,
        globals: Vec::new(),
        num_imported_globals: 0,
        tags: Vec::new(),
        num_imported_tags: 0,
        exports: Vec::new(),
        export_map: HashMap::new(),
        start: None,
        elems: Vec::new(),
        datas: Vec::new(),
        bodies: Vec::new(),
        code: Box::new([]),
        module_code: OnceLock::new(),
        name: None,
        func_names: HashMap::new(),
        line_tables: Default::default(),
    };
    let invalid = |e: wasmparser::BinaryReaderError| Error::invalid(&e);
    // Bodies are validated together when the code section ends (before anything after it),
    // so that a large code section is validated on several threads.
    let mut pending = Vec::new();
    let mut types_done = None;
    for payload in Parser::new(0).parse_all(&bytes) {
        let payload = payload.map_err(invalid)?;
        if !pending.is_empty() && !matches!(payload, Payload::CodeSectionEntry(_)) {
            bodies::validate(std::mem::take(&mut pending)).map_err(invalid)?;
        }
        match validator.payload(&payload).map_err(invalid)? {
            ValidPayload::Func(func, body) => {
                m.bodies.push(FuncBody {
                    range: body.range().start as usize..body.range().end as usize,
                });
                if check == Bodies::Validate {
                    pending.push((func, body));
                }
                continue;
            }
            ValidPayload::End(types) => {
                types_done = Some(types);
                continue;
            }
            ValidPayload::Ok | ValidPayload::Parser(_) => {}
        }
        match payload {
            Payload::TypeSection(_) => {}
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    let kind = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            m.funcs.push(t);
                            m.num_imported_funcs += 1;
                            ImportKind::Func(t)
                        }
                        TypeRef::Table(_) => {
                            m.num_imported_tables += 1;
                            // Filled in from the validator's canonical types at the end.
                            ImportKind::Table(TableType::new(RefType::FUNCREF, 0, None))
                        }
                        TypeRef::Memory(mt) => {
                            let mt = MemoryType::from_wasmparser(&mt);
                            m.memories.push(mt);
                            m.num_imported_memories += 1;
                            ImportKind::Memory(mt)
                        }
                        TypeRef::Global(_) => {
                            m.num_imported_globals += 1;
                            ImportKind::Global(GlobalType::new(
                                crate::ValType::I32,
                                crate::Mutability::Const,
                            ))
                        }
                        TypeRef::Tag(t) => {
                            m.tags.push(t.func_type_idx);
                            m.num_imported_tags += 1;
                            ImportKind::Tag(t.func_type_idx)
                        }
                    };
                    m.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    m.funcs.push(t.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    let t = t.map_err(invalid)?;
                    let init = match &t.init {
                        wasmparser::TableInit::RefNull => None,
                        wasmparser::TableInit::Expr(e) => Some(ConstExpr::decode(e)?),
                    };
                    m.tables.push(TableDef { ty: TableType::from_wasmparser(&t.ty), init });
                }
            }
            Payload::MemorySection(reader) => {
                for t in reader {
                    m.memories.push(MemoryType::from_wasmparser(&t.map_err(invalid)?));
                }
            }
            Payload::TagSection(reader) => {
                for t in reader {
                    m.tags.push(t.map_err(invalid)?.func_type_idx);
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader {
                    let g = g.map_err(invalid)?;
                    m.globals.push(GlobalDef {
                        ty: GlobalType::from_wasmparser(&g.ty),
                        init: ConstExpr::decode(&g.init_expr)?,
                    });
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(invalid)?;
                    let kind = match e.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
                        ExternalKind::Table => ExportKind::Table,
                        ExternalKind::Memory => ExportKind::Memory,
                        ExternalKind::Global => ExportKind::Global,
                        ExternalKind::Tag => ExportKind::Tag,
                    };
                    m.export_map.insert(e.name.to_string(), m.exports.len());
                    m.exports.push((e.name.to_string(), kind, e.index));
                }
            }
            Payload::StartSection { func, .. } => m.start = Some(func),
            Payload::ElementSection(reader) => {
                for e in reader {
                    let e = e.map_err(invalid)?;
                    let mode = match e.kind {
                        ElementKind::Passive => SegmentMode::Passive,
                        ElementKind::Declared => SegmentMode::Declared,
                        ElementKind::Active { table_index, offset_expr } => SegmentMode::Active {
                            index: table_index.unwrap_or(0),
                            offset: ConstExpr::decode(&offset_expr)?,
                        },
                    };
                    let (ty, items) = match e.items {
                        ElementItems::Functions(r) => {
                            let mut items = Vec::new();
                            for f in r {
                                items.push(f.map_err(invalid)?);
                            }
                            // Refined to `(ref func)` below; only the top type matters at runtime.
                            (RefType::FUNCREF, ElemItems::Funcs(items.into()))
                        }
                        ElementItems::Expressions(ty, r) => {
                            let mut exprs = Vec::new();
                            for ex in r {
                                exprs.push(ConstExpr::decode(&ex.map_err(invalid)?)?);
                            }
                            (RefType::from_wasmparser(ty), compact_items(exprs))
                        }
                    };
                    m.elems.push(ElemSegment { mode, ty, items });
                }
            }
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d.map_err(invalid)?;
                    let mode = match d.kind {
                        wasmparser::DataKind::Passive => SegmentMode::Passive,
                        wasmparser::DataKind::Active { memory_index, offset_expr } => {
                            SegmentMode::Active {
                                index: memory_index,
                                offset: ConstExpr::decode(&offset_expr)?,
                            }
                        }
                    };
                    let start = d.data.as_ptr() as usize - bytes.as_ptr() as usize;
                    m.datas.push(DataSegment { mode, range: start..start + d.data.len() });
                }
            }
            Payload::CustomSection(c) => {
                if let KnownCustom::Name(names) = c.as_known() {
                    // A malformed name section is ignored, as the spec allows.
                    for n in names.into_iter().flatten() {
                        match n {
                            Name::Module { name, .. } => m.name = Some(name.to_string()),
                            Name::Function(map) => {
                                for naming in map.into_iter().flatten() {
                                    m.func_names.insert(naming.index, naming.name.to_string());
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if !pending.is_empty() {
        bodies::validate(pending).map_err(invalid)?;
    }
    types_done.ok_or_else(|| Error::Invalid {
        message: "unexpected end of module".into(),
        offset: binary.len(),
    })?;
    let types = canonical_types(engine, &bytes)?;
    let t = types.as_ref();
    // What kind of type each canonical id is, to resolve concrete reference types.
    let kinds: HashMap<u32, HeapType> = (0..t.core_type_count_in_module())
        .map(|i| {
            let cid = t.core_type_at_in_module(i);
            let id = core_type_index(cid);
            let k = match &types[cid].composite_type.inner {
                CompositeInnerType::Struct(_) => HeapType::ConcreteStruct(id),
                CompositeInnerType::Array(_) => HeapType::ConcreteArray(id),
                _ => HeapType::Concrete(id),
            };
            (id, k)
        })
        .collect();
    let kind = |id: u32| kinds.get(&id).copied().unwrap_or(HeapType::Concrete(id));
    for i in 0..t.core_type_count_in_module() {
        let id = t.core_type_at_in_module(i);
        let sub = &types[id];
        let mut supers = Vec::new();
        let mut cur = t.supertype_of(id);
        while let Some(s) = cur {
            supers.push(core_type_index(s));
            cur = t.supertype_of(s);
        }
        let supers: Arc<[u32]> = supers.into();
        let (func, gc) = match &sub.composite_type.inner {
            CompositeInnerType::Func(f) => {
                (Some(Arc::new(FuncType::from_wasmparser(f).resolve_concrete(&kind))), None)
            }
            CompositeInnerType::Struct(st) => {
                let fields = st.fields.iter().map(|f| gc_field(f, &kind)).collect();
                let layout = GcKind::Struct(StructLayout::new(fields));
                (None, Some(gc_type(core_type_index(id), &supers, layout)))
            }
            CompositeInnerType::Array(a) => {
                let layout = GcKind::Array(gc_field(&a.0, &kind));
                (None, Some(gc_type(core_type_index(id), &supers, layout)))
            }
            _ => (None, None),
        };
        m.types.push(ModuleType { id: core_type_index(id), func, supers, gc });
    }
    // Canonicalised table, global and memory types (concrete reference types resolved to ids).
    let (mut ti, mut gi) = (0u32, 0u32);
    for imp in m.imports.iter_mut() {
        match &mut imp.kind {
            ImportKind::Table(tt) => {
                *tt = TableType::from_wasmparser(&t.table_at(ti)).resolve_concrete(&kind);
                ti += 1;
            }
            ImportKind::Global(g) => {
                *g = GlobalType::from_wasmparser(&t.global_at(gi)).resolve_concrete(&kind);
                gi += 1;
            }
            _ => {}
        }
    }
    for (i, def) in m.tables.iter_mut().enumerate() {
        def.ty = TableType::from_wasmparser(&t.table_at(m.num_imported_tables + i as u32))
            .resolve_concrete(&kind);
    }
    for (i, def) in m.globals.iter_mut().enumerate() {
        def.ty = GlobalType::from_wasmparser(&t.global_at(m.num_imported_globals + i as u32))
            .resolve_concrete(&kind);
    }
    for (i, seg) in m.elems.iter_mut().enumerate() {
        seg.ty = RefType::from_wasmparser(t.element_at(i as u32)).resolve_concrete(&kind);
    }
    // The table/global vectors above hold only definitions; prepend the imported ones so that
    // `tables[i]`/`globals[i]` is indexed by the module index space.
    let imported_tables: Vec<TableDef> = m
        .imports
        .iter()
        .filter_map(|i| match &i.kind {
            ImportKind::Table(tt) => Some(TableDef { ty: *tt, init: None }),
            _ => None,
        })
        .collect();
    m.tables.splice(0..0, imported_tables);
    let imported_globals: Vec<GlobalDef> = m
        .imports
        .iter()
        .filter_map(|i| match &i.kind {
            ImportKind::Global(g) => Some(GlobalDef { ty: *g, init: ConstExpr { ops: [].into() } }),
            _ => None,
        })
        .collect();
    m.globals.splice(0..0, imported_globals);
    m.code = (0..m.bodies.len()).map(|_| OnceLock::new()).collect();
    Ok(m)
}

/// Runs a module that pass 1 found valid through the engine's shared validator (module-level
/// checks only) and returns its types, whose ids are canonical across the engine.
fn canonical_types(engine: &Engine, bytes: &[u8]) -> Result<Types> {
    let mut shared = engine.inner.validator.lock().unwrap_or_else(|p| p.into_inner());
    // Every earlier use of the shared validator completed successfully, so it can be reset.
    shared.reset();
    let mut result = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let step = payload.and_then(|p| shared.payload(&p));
        match step {
            // Bodies were validated in pass 1.
            Ok(ValidPayload::Func(..)) | Ok(ValidPayload::Ok) | Ok(ValidPayload::Parser(_)) => {}
            Ok(ValidPayload::End(types)) => result = Some(types),
            Err(e) => {
                // Cannot happen for a module pass 1 accepted; keep the shared validator usable.
                *shared = Validator::new_with_features(engine.config().features);
                return Err(Error::invalid(&e));
            }
        }
    }
    result.ok_or_else(|| Error::Invalid {
        message: "unexpected end of module".into(),
        offset: bytes.len(),
    })
}

fn gc_type(id: u32, supers: &Arc<[u32]>, kind: GcKind) -> Arc<GcType> {
    Arc::new(GcType { id, supers: supers.clone(), kind })
}

/// A struct field or array element as stored.
fn gc_field(f: &wasmparser::FieldType, kind: &dyn Fn(u32) -> HeapType) -> Field {
    use wasmparser::StorageType as S;
    let storage = match f.element_type {
        S::I8 => Storage::I8,
        S::I16 => Storage::I16,
        S::Val(v) => match ValType::from_wasmparser(v).resolve_concrete(kind) {
            ValType::I32 | ValType::F32 => Storage::I32,
            ValType::I64 | ValType::F64 => Storage::I64,
            ValType::V128 => Storage::V128,
            ValType::Ref(r) => Storage::Ref(RefKind::of(r)),
        },
    };
    Field { storage, mutable: f.mutable }
}

/// Element items as function indices when every item is a lone `ref.func` or `ref.null`.
fn compact_items(exprs: Vec<ConstExpr>) -> ElemItems {
    let single = |e: &ConstExpr| match *e.ops {
        [const_expr::ConstOp::RefFunc(f)] if f != ElemItems::NULL => Some(f),
        [const_expr::ConstOp::RefNull] => Some(ElemItems::NULL),
        _ => None,
    };
    match exprs.iter().map(single).collect::<Option<Vec<u32>>>() {
        Some(funcs) => ElemItems::Funcs(funcs.into()),
        None => ElemItems::Exprs(exprs.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Module};

    fn segment_items(wat: &str) -> Vec<ElemItems> {
        let m = Module::new(&Engine::default(), wat).unwrap();
        m.inner.elems.iter().map(|s| s.items.clone()).collect()
    }

    /// Function-reference segments (in either encoding) cost 4 bytes an item, not a boxed
    /// expression each: a module of millions of items must not expand 70-fold in memory.
    #[test]
    fn function_reference_segments_are_kept_as_indices() {
        let items = segment_items(
            r#"(module (func $f) (func $g)
                (elem func $f $g)
                (elem funcref (ref.func $g) (ref.null func))
                (global $r funcref (ref.func $f))
                (elem funcref (global.get $r)))"#,
        );
        assert!(matches!(&items[0], ElemItems::Funcs(f) if **f == [0, 1]));
        assert!(matches!(&items[1], ElemItems::Funcs(f) if **f == [1, ElemItems::NULL]));
        assert!(matches!(&items[2], ElemItems::Exprs(e) if e.len() == 1));
    }
}
