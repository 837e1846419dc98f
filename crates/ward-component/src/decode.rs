//! Decoding and validation: one pass over the binary with `wasmparser`'s validator (component
//! model on), producing a tree of [`ComponentDef`]s — each the ordered list of definitions that
//! instantiation replays — and compiling every nested core module with `ward::Module`.
//!
//! Static type information the runtime needs (function types of `canon lift`/`lower`, the
//! resource ids of resource types, the types of instances and imports) is captured as
//! validator type ids while the validator still knows each nested component's index spaces;
//! the ids resolve in the root's [`Types`] arena afterwards.

use crate::error::Error;
use std::ops::Range;
use std::sync::Arc;
use wasmparser::component_types::{
    ComponentAnyTypeId, ComponentEntityType, ComponentFuncTypeId, ComponentInstanceTypeId,
    ResourceId,
};
use wasmparser::types::Types;
use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind,
    ComponentOuterAliasKind, ComponentType, ComponentTypeRef, Encoding, ExternalKind, Instance,
    Parser, Payload, ValidPayload, Validator, WasmFeatures,
};

/// The `canonopt`s of a `canon` definition, by index.
#[derive(Clone, Debug, Default)]
pub(crate) struct OptsDef {
    pub(crate) memory: Option<u32>,
    pub(crate) realloc: Option<u32>,
    pub(crate) post_return: Option<u32>,
    pub(crate) encoding: crate::abi::Encoding,
    /// `async`: the async ABI of `canon lift`/`lower` (and of the stream/future built-ins).
    pub(crate) is_async: bool,
    /// `callback` of an async `canon lift`.
    pub(crate) callback: Option<u32>,
}

/// A value type as the validator knows it (resolved at instantiation).
pub(crate) type ValTy = wasmparser::component_types::ComponentValType;

/// The async-ABI built-ins (`canon task.return`, `waitable-set.*`, streams, ...), each a core
/// function of the type the validator gave it.
#[derive(Debug, Clone)]
pub(crate) enum Builtin {
    ContextGet(u32),
    ContextSet(u32),
    BackpressureInc,
    BackpressureDec,
    TaskReturn {
        result: Option<ValTy>,
        opts: OptsDef,
    },
    TaskCancel,
    ThreadYield,
    ThreadIndex,
    /// `thread.new-indirect`: the start function is taken from core table `table`.
    ThreadNewIndirect {
        table: u32,
    },
    ThreadSuspend,
    ThreadYieldThenResume,
    ThreadSuspendThenResume,
    ThreadResumeLater,
    WaitableSetNew,
    WaitableSetWait {
        memory: u32,
    },
    WaitableSetPoll {
        memory: u32,
    },
    WaitableSetDrop,
    WaitableJoin,
    SubtaskCancel {
        is_async: bool,
    },
    SubtaskDrop,
    /// `stream.new` / `future.new` (`future` set for futures) of element type `elem`.
    CopyNew {
        future: bool,
        elem: Option<ValTy>,
    },
    /// `{stream,future}.{read,write}`.
    Copy {
        future: bool,
        write: bool,
        elem: Option<ValTy>,
        opts: OptsDef,
    },
    /// `{stream,future}.cancel-{read,write}`.
    CancelCopy {
        future: bool,
        write: bool,
        elem: Option<ValTy>,
        is_async: bool,
    },
    /// `{stream,future}.drop-{readable,writable}`.
    DropEnd {
        future: bool,
        write: bool,
        elem: Option<ValTy>,
    },
    /// A built-in Ward does not implement (`thread.*-then-promote`, error contexts, ...): a
    /// core function that traps when called.
    Unimplemented(&'static str),
}

/// The kinds of component-level items, as in `ComponentExternalKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Module,
    Func,
    Value,
    Type,
    Instance,
    Component,
}

impl From<ComponentExternalKind> for Kind {
    fn from(k: ComponentExternalKind) -> Kind {
        match k {
            ComponentExternalKind::Module => Kind::Module,
            ComponentExternalKind::Func => Kind::Func,
            ComponentExternalKind::Value => Kind::Value,
            ComponentExternalKind::Type => Kind::Type,
            ComponentExternalKind::Instance => Kind::Instance,
            ComponentExternalKind::Component => Kind::Component,
        }
    }
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Module => "core module",
            Kind::Func => "func",
            Kind::Value => "value",
            Kind::Type => "type",
            Kind::Instance => "instance",
            Kind::Component => "component",
        }
    }
}

/// One definition, in the order instantiation replays them.
#[derive(Debug)]
pub(crate) enum Def {
    CoreModule(usize),
    CoreInstantiate {
        module: u32,
        args: Vec<(String, u32)>,
    },
    CoreFromExports(Vec<(String, ExternalKind, u32)>),
    CoreAlias {
        instance: u32,
        name: String,
    },
    /// A type definition that is not a resource (nothing happens at run time).
    Type,
    /// A resource type definition: a fresh resource type per instantiation.
    Resource {
        id: ResourceId,
        dtor: Option<u32>,
    },
    Import {
        name: String,
        kind: Kind,
        ty: ComponentEntityType,
    },
    Lift {
        core_func: u32,
        ty: ComponentFuncTypeId,
        opts: OptsDef,
    },
    Lower {
        func: u32,
        ty: ComponentFuncTypeId,
        opts: OptsDef,
    },
    ResourceNew(ResourceId),
    ResourceDrop(ResourceId),
    ResourceRep(ResourceId),
    /// An async-ABI built-in and its core function type.
    Builtin(Builtin, ward::FuncType),
    /// A built-in Ward does not implement yet (async ABI, threads, ...): a core function that
    /// fails instantiation.
    Unsupported(&'static str),
    Component(Arc<ComponentDef>),
    Instantiate {
        component: u32,
        args: Vec<(String, Kind, u32)>,
        ty: ComponentInstanceTypeId,
    },
    FromExports(Vec<(String, Kind, u32)>),
    Alias {
        instance: u32,
        name: String,
        kind: Kind,
    },
    OuterAlias {
        kind: ComponentOuterAliasKind,
        count: u32,
        index: u32,
    },
    Export {
        name: String,
        kind: Kind,
        index: u32,
    },
}

/// A component definition (the root or a nested one).
#[derive(Debug, Default)]
pub(crate) struct ComponentDef {
    pub(crate) defs: Vec<Def>,
    /// The static id of each index of the component type index space.
    pub(crate) type_ids: Vec<ComponentAnyTypeId>,
    /// Import names and types, in order.
    pub(crate) imports: Vec<(String, ComponentEntityType)>,
    /// Export names and kinds, in order.
    pub(crate) exports: Vec<(String, Kind)>,
}

/// A decoded and validated component.
pub(crate) struct Decoded {
    pub(crate) root: Arc<ComponentDef>,
    pub(crate) types: Types,
    pub(crate) modules: Vec<ward::Module>,
}

/// The wasmparser features components are validated with: the defaults (component model on)
/// plus the component-model extensions the reference suite is written against.
pub(crate) fn features() -> WasmFeatures {
    WasmFeatures::default()
        | WasmFeatures::COMPONENT_MODEL
        | WasmFeatures::CM_ASYNC
        | WasmFeatures::CM_ASYNC_STACKFUL
        | WasmFeatures::CM_MORE_ASYNC_BUILTINS
        | WasmFeatures::CM_THREADING
        | WasmFeatures::CM_FIXED_LENGTH_LISTS
        | WasmFeatures::CM_MAP
        | WasmFeatures::CM_IMPLEMENTS
        | WasmFeatures::CM_ERROR_CONTEXT
}

enum Frame {
    Component(ComponentDef),
    Module(Range<usize>),
}

fn wasm_err(e: wasmparser::BinaryReaderError) -> Error {
    Error::invalid(&e)
}

fn opts(options: &[CanonicalOption]) -> Result<OptsDef, &'static str> {
    let mut o = OptsDef::default();
    for opt in options {
        match *opt {
            CanonicalOption::UTF8 => o.encoding = crate::abi::Encoding::Utf8,
            CanonicalOption::UTF16 => o.encoding = crate::abi::Encoding::Utf16,
            CanonicalOption::CompactUTF16 => o.encoding = crate::abi::Encoding::Latin1Utf16,
            CanonicalOption::Memory(m) => o.memory = Some(m),
            CanonicalOption::Realloc(f) => o.realloc = Some(f),
            CanonicalOption::PostReturn(f) => o.post_return = Some(f),
            CanonicalOption::Async => o.is_async = true,
            CanonicalOption::Callback(f) => o.callback = Some(f),
            CanonicalOption::CoreType(_) | CanonicalOption::Gc => {
                return Err("GC canonical options (`core-type`, `gc`)")
            }
        }
    }
    Ok(o)
}

/// Decodes and validates `bytes` (a binary component), compiling its core modules for
/// `engine`.
pub(crate) fn decode(engine: &ward::Engine, bytes: &[u8]) -> Result<Decoded, Error> {
    let mut validator = Validator::new_with_features(features());
    let mut stack: Vec<Frame> = Vec::new();
    let mut modules = Vec::new();
    let mut root = None;
    let mut final_types = None;
    let mut first = true;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(wasm_err)?;
        if first {
            first = false;
            if let Payload::Version { encoding: Encoding::Module, .. } = payload {
                return Err(Error::NotAComponent);
            }
        }
        if let Payload::End(_) = payload {
            match stack.pop() {
                Some(Frame::Component(mut def)) => {
                    // Capture the type index space before the validator leaves this component.
                    let types = validator.types(0).ok_or_else(|| unexpected(0))?;
                    def.type_ids = (0..types.component_type_count())
                        .map(|i| types.component_any_type_at(i))
                        .collect();
                    match stack.last_mut() {
                        Some(Frame::Component(parent)) => {
                            parent.defs.push(Def::Component(Arc::new(def)))
                        }
                        Some(Frame::Module(_)) => return Err(unexpected(0)),
                        None => root = Some(def),
                    }
                }
                Some(Frame::Module(range)) => {
                    validator.payload(&payload).map_err(wasm_err)?;
                    let module = ward::Module::from_binary(engine, &bytes[range])?;
                    modules.push(module);
                    match stack.last_mut() {
                        Some(Frame::Component(parent)) => {
                            parent.defs.push(Def::CoreModule(modules.len() - 1))
                        }
                        _ => return Err(unexpected(0)),
                    }
                    continue;
                }
                None => return Err(unexpected(0)),
            }
        }
        if let ValidPayload::End(t) = validator.payload(&payload).map_err(wasm_err)? {
            final_types = Some(t);
        }
        match (stack.last_mut(), payload) {
            // Payloads of a nested core module are only validated here (function bodies are
            // validated by Ward when the module is compiled at its end).
            (Some(Frame::Module(_)), _) | (_, Payload::End(_)) => {}
            (_, Payload::Version { encoding: Encoding::Component, .. }) => {
                stack.push(Frame::Component(ComponentDef::default()))
            }
            (_, Payload::ModuleSection { unchecked_range, .. }) => {
                let (start, end) = (unchecked_range.start as usize, unchecked_range.end as usize);
                if start > end || end > bytes.len() {
                    return Err(unexpected(bytes.len()));
                }
                stack.push(Frame::Module(start..end))
            }
            (Some(Frame::Component(def)), payload) => {
                let types = validator.types(0).ok_or_else(|| unexpected(0))?;
                section(def, &types, payload)?;
            }
            (None, _) => {}
        }
    }
    let root = root.ok_or_else(|| unexpected(bytes.len()))?;
    let types = final_types.ok_or_else(|| unexpected(bytes.len()))?;
    Ok(Decoded { root: Arc::new(root), types, modules })
}

fn unexpected(offset: usize) -> Error {
    Error::Invalid { message: "unexpected end or structure of the component".into(), offset }
}

fn section(
    def: &mut ComponentDef,
    types: &wasmparser::types::TypesRef<'_>,
    payload: Payload<'_>,
) -> Result<(), Error> {
    match payload {
        Payload::InstanceSection(reader) => {
            for inst in reader {
                def.defs.push(match inst.map_err(wasm_err)? {
                    Instance::Instantiate { module_index, args } => Def::CoreInstantiate {
                        module: module_index,
                        args: args.iter().map(|a| (a.name.to_string(), a.index)).collect(),
                    },
                    Instance::FromExports(exports) => Def::CoreFromExports(
                        exports.iter().map(|e| (e.name.to_string(), e.kind, e.index)).collect(),
                    ),
                });
            }
        }
        Payload::CoreTypeSection(_) => {}
        Payload::ComponentInstanceSection(reader) => {
            let count = reader.count();
            let first = types.component_instance_count() - count;
            for (i, inst) in reader.into_iter().enumerate() {
                def.defs.push(match inst.map_err(wasm_err)? {
                    wasmparser::ComponentInstance::Instantiate { component_index, args } => {
                        Def::Instantiate {
                            component: component_index,
                            args: args
                                .iter()
                                .map(|a| (a.name.to_string(), a.kind.into(), a.index))
                                .collect(),
                            ty: types.component_instance_at(first + i as u32),
                        }
                    }
                    wasmparser::ComponentInstance::FromExports(exports) => Def::FromExports(
                        exports
                            .iter()
                            .map(|e| (e.name.name.to_string(), e.kind.into(), e.index))
                            .collect(),
                    ),
                });
            }
        }
        Payload::ComponentAliasSection(reader) => {
            for alias in reader {
                def.defs.push(match alias.map_err(wasm_err)? {
                    ComponentAlias::InstanceExport { kind, instance_index, name } => Def::Alias {
                        instance: instance_index,
                        name: name.to_string(),
                        kind: kind.into(),
                    },
                    ComponentAlias::CoreInstanceExport { instance_index, name, .. } => {
                        Def::CoreAlias { instance: instance_index, name: name.to_string() }
                    }
                    ComponentAlias::Outer { kind, count, index } => {
                        Def::OuterAlias { kind, count, index }
                    }
                });
            }
        }
        Payload::ComponentTypeSection(reader) => {
            let count = reader.count();
            let first = types.component_type_count() - count;
            for (i, ty) in reader.into_iter().enumerate() {
                def.defs.push(match ty.map_err(wasm_err)? {
                    ComponentType::Resource { dtor, .. } => {
                        match types.component_any_type_at(first + i as u32) {
                            ComponentAnyTypeId::Resource(r) => {
                                Def::Resource { id: r.resource(), dtor }
                            }
                            _ => Def::Type,
                        }
                    }
                    _ => Def::Type,
                });
            }
        }
        Payload::ComponentCanonicalSection(reader) => {
            let canons = reader.into_iter().collect::<Result<Vec<_>, _>>().map_err(wasm_err)?;
            // Every definition but `lift` adds a core function; the validator has typed them.
            let n_core =
                canons.iter().filter(|c| !matches!(c, CanonicalFunction::Lift { .. })).count();
            let mut core_index = types.function_count().saturating_sub(n_core as u32);
            for canon in canons {
                let core_ty = if matches!(canon, CanonicalFunction::Lift { .. }) {
                    None
                } else {
                    core_index += 1;
                    Some(core_func_type(types, core_index - 1))
                };
                def.defs.push(canonical(types, canon, core_ty));
            }
        }
        Payload::ComponentStartSection { .. } => {
            def.defs.push(Def::Unsupported("component start functions (value imports)"))
        }
        Payload::ComponentImportSection(reader) => {
            for import in reader {
                let import = import.map_err(wasm_err)?;
                let name = import.name.name.to_string();
                let item = types.component_item_for_import(&name).ok_or_else(|| {
                    Error::Invalid { message: format!("import `{name}` has no type"), offset: 0 }
                })?;
                let kind = match import.ty {
                    ComponentTypeRef::Module(_) => Kind::Module,
                    ComponentTypeRef::Func(_) => Kind::Func,
                    ComponentTypeRef::Value(_) => Kind::Value,
                    ComponentTypeRef::Type(_) => Kind::Type,
                    ComponentTypeRef::Instance(_) => Kind::Instance,
                    ComponentTypeRef::Component(_) => Kind::Component,
                };
                def.imports.push((name.clone(), item.ty));
                def.defs.push(Def::Import { name, kind, ty: item.ty });
            }
        }
        Payload::ComponentExportSection(reader) => {
            for export in reader {
                let export = export.map_err(wasm_err)?;
                let name = export.name.name.to_string();
                def.exports.push((name.clone(), export.kind.into()));
                def.defs.push(Def::Export { name, kind: export.kind.into(), index: export.index });
            }
        }
        _ => {}
    }
    Ok(())
}

fn resource_id(types: &wasmparser::types::TypesRef<'_>, index: u32) -> Option<ResourceId> {
    match types.component_any_type_at(index) {
        ComponentAnyTypeId::Resource(r) => Some(r.resource()),
        _ => None,
    }
}

/// The core type of core function `index`, as Ward's type (the built-ins take and return only
/// numbers).
fn core_func_type(types: &wasmparser::types::TypesRef<'_>, index: u32) -> Option<ward::FuncType> {
    let id = types.core_function_at(index);
    let f = types[id].unwrap_func();
    let conv = |t: &wasmparser::ValType| match t {
        wasmparser::ValType::I32 => Some(ward::ValType::I32),
        wasmparser::ValType::I64 => Some(ward::ValType::I64),
        wasmparser::ValType::F32 => Some(ward::ValType::F32),
        wasmparser::ValType::F64 => Some(ward::ValType::F64),
        _ => None,
    };
    let params = f.params().iter().map(conv).collect::<Option<Vec<_>>>()?;
    let results = f.results().iter().map(conv).collect::<Option<Vec<_>>>()?;
    Some(ward::FuncType::new(params, results))
}

fn val_ty(types: &wasmparser::types::TypesRef<'_>, t: wasmparser::ComponentValType) -> ValTy {
    match t {
        wasmparser::ComponentValType::Primitive(p) => ValTy::Primitive(p),
        wasmparser::ComponentValType::Type(i) => ValTy::Type(types.component_defined_type_at(i)),
    }
}

/// The element type of stream or future type `ty`.
fn elem_of(types: &wasmparser::types::TypesRef<'_>, ty: u32) -> Option<ValTy> {
    use wasmparser::component_types::ComponentDefinedType as D;
    match &types[types.component_defined_type_at(ty)] {
        D::Stream { ty, .. } | D::Future { ty, .. } => *ty,
        _ => None,
    }
}

fn builtin(
    types: &wasmparser::types::TypesRef<'_>,
    canon: CanonicalFunction,
) -> Result<Builtin, &'static str> {
    use Builtin as B;
    use CanonicalFunction as C;
    Ok(match canon {
        C::ContextGet { slot, .. } => B::ContextGet(slot),
        C::ContextSet { slot, .. } => B::ContextSet(slot),
        C::BackpressureInc => B::BackpressureInc,
        C::BackpressureDec => B::BackpressureDec,
        C::TaskReturn { result, options } => {
            B::TaskReturn { result: result.map(|t| val_ty(types, t)), opts: opts(&options)? }
        }
        C::TaskCancel => B::TaskCancel,
        C::ThreadYield => B::ThreadYield,
        C::ThreadIndex => B::ThreadIndex,
        C::WaitableSetNew => B::WaitableSetNew,
        C::WaitableSetWait { memory } => B::WaitableSetWait { memory },
        C::WaitableSetPoll { memory } => B::WaitableSetPoll { memory },
        C::WaitableSetDrop => B::WaitableSetDrop,
        C::WaitableJoin => B::WaitableJoin,
        C::SubtaskCancel { async_ } => B::SubtaskCancel { is_async: async_ },
        C::SubtaskDrop => B::SubtaskDrop,
        C::StreamNew { ty } => B::CopyNew { future: false, elem: elem_of(types, ty) },
        C::FutureNew { ty } => B::CopyNew { future: true, elem: elem_of(types, ty) },
        C::StreamRead { ty, options } => {
            B::Copy { future: false, write: false, elem: elem_of(types, ty), opts: opts(&options)? }
        }
        C::StreamWrite { ty, options } => {
            B::Copy { future: false, write: true, elem: elem_of(types, ty), opts: opts(&options)? }
        }
        C::FutureRead { ty, options } => {
            B::Copy { future: true, write: false, elem: elem_of(types, ty), opts: opts(&options)? }
        }
        C::FutureWrite { ty, options } => {
            B::Copy { future: true, write: true, elem: elem_of(types, ty), opts: opts(&options)? }
        }
        C::StreamCancelRead { ty, async_ } => B::CancelCopy {
            future: false,
            write: false,
            elem: elem_of(types, ty),
            is_async: async_,
        },
        C::StreamCancelWrite { ty, async_ } => {
            B::CancelCopy { future: false, write: true, elem: elem_of(types, ty), is_async: async_ }
        }
        C::FutureCancelRead { ty, async_ } => {
            B::CancelCopy { future: true, write: false, elem: elem_of(types, ty), is_async: async_ }
        }
        C::FutureCancelWrite { ty, async_ } => {
            B::CancelCopy { future: true, write: true, elem: elem_of(types, ty), is_async: async_ }
        }
        C::StreamDropReadable { ty } => {
            B::DropEnd { future: false, write: false, elem: elem_of(types, ty) }
        }
        C::StreamDropWritable { ty } => {
            B::DropEnd { future: false, write: true, elem: elem_of(types, ty) }
        }
        C::FutureDropReadable { ty } => {
            B::DropEnd { future: true, write: false, elem: elem_of(types, ty) }
        }
        C::FutureDropWritable { ty } => {
            B::DropEnd { future: true, write: true, elem: elem_of(types, ty) }
        }
        C::ErrorContextNew { .. } | C::ErrorContextDebugMessage { .. } | C::ErrorContextDrop => {
            B::Unimplemented("error contexts")
        }
        C::StreamForward { .. } | C::FutureForward { .. } => {
            B::Unimplemented("stream/future forwarding")
        }
        C::ThreadNewIndirect { table_index, .. } => B::ThreadNewIndirect { table: table_index },
        C::ThreadSuspend => B::ThreadSuspend,
        C::ThreadYieldThenResume => B::ThreadYieldThenResume,
        C::ThreadSuspendThenResume => B::ThreadSuspendThenResume,
        C::ThreadResumeLater => B::ThreadResumeLater,
        C::ThreadSuspendThenPromote | C::ThreadYieldThenPromote => {
            B::Unimplemented("`thread.suspend-then-promote` and `thread.yield-then-promote`")
        }
        _ => B::Unimplemented(
            "shared-everything threads (`thread.spawn-*`, `thread.available-parallelism`)",
        ),
    })
}

fn canonical(
    types: &wasmparser::types::TypesRef<'_>,
    canon: CanonicalFunction,
    core_ty: Option<Option<ward::FuncType>>,
) -> Def {
    match canon {
        CanonicalFunction::Lift { core_func_index, type_index, options } => {
            let ComponentAnyTypeId::Func(ty) = types.component_any_type_at(type_index) else {
                return Def::Unsupported("canon lift of a non-function type");
            };
            match opts(&options) {
                Ok(opts) => Def::Lift { core_func: core_func_index, ty, opts },
                Err(what) => Def::Unsupported(what),
            }
        }
        CanonicalFunction::Lower { func_index, options } => {
            let ty = types.component_function_at(func_index);
            match opts(&options) {
                Ok(opts) => Def::Lower { func: func_index, ty, opts },
                Err(what) => Def::Unsupported(what),
            }
        }
        CanonicalFunction::ResourceNew { resource } => match resource_id(types, resource) {
            Some(id) => Def::ResourceNew(id),
            None => Def::Unsupported("resource.new of a non-resource type"),
        },
        CanonicalFunction::ResourceDrop { resource } => match resource_id(types, resource) {
            Some(id) => Def::ResourceDrop(id),
            None => Def::Unsupported("resource.drop of a non-resource type"),
        },
        CanonicalFunction::ResourceRep { resource } => match resource_id(types, resource) {
            Some(id) => Def::ResourceRep(id),
            None => Def::Unsupported("resource.rep of a non-resource type"),
        },
        canon => match (builtin(types, canon), core_ty.flatten()) {
            (Ok(b), Some(ty)) => Def::Builtin(b, ty),
            (Err(what), _) => Def::Unsupported(what),
            (Ok(_), None) => Def::Unsupported("a built-in of a non-numeric core type"),
        },
    }
}
