//! Instantiation: replaying a component's definitions in order, building its index spaces
//! (core modules, core instances and their items, functions, instances, nested components,
//! resource types) out of Ward core instances and component functions.
//!
//! Resource types are generative: each resource definition makes a fresh [`ResourceType`] per
//! instantiation. The validator gives every resource a static id; each component instance keeps
//! a map from those ids to its run-time resource types, filled by definitions, by imports
//! (walking the import's type against what was supplied), by aliases, and by instantiations
//! (walking the new instance's type against the child's exports).

use crate::abi::Options;
use crate::decode::{ComponentDef, Def, Kind};
use crate::error::Error;
use crate::func::{self, Func};
use crate::resources::{GuestResource, InstanceState, ResourceType};
use crate::sig_cache::SigCache;
use crate::types::ResourceMap;
use std::sync::Arc;
use ward::{Extern, StoreContextMut};
use wasmparser::component_types::{ComponentAnyTypeId, ComponentEntityType, ResourceId};
use wasmparser::types::Types;
use wasmparser::{ComponentOuterAliasKind, ExternalKind};

/// An item of a component's index spaces that can be imported, exported or passed to
/// `instantiate`.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    Func(Func),
    Module(ward::Module),
    Instance(Arc<Exports>),
    Component(Closure),
    /// A type: its run-time resource type if it is a resource.
    Type(Option<ResourceType>),
}

impl Item {
    /// The async-ABI scheduler of the component instance behind this item, if any.
    pub(crate) fn sched(&self) -> Option<Arc<crate::concurrent::Sched>> {
        match self {
            Item::Func(f) => f.sched(),
            Item::Instance(e) => e.items.iter().find_map(|(_, i)| i.sched()),
            _ => None,
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Item::Func(_) => Kind::Func,
            Item::Module(_) => Kind::Module,
            Item::Instance(_) => Kind::Instance,
            Item::Component(_) => Kind::Component,
            Item::Type(_) => Kind::Type,
        }
    }
}

/// The exports of a component instance, in order.
#[derive(Debug, Default)]
pub(crate) struct Exports {
    pub(crate) items: Vec<(String, Item)>,
}

impl Exports {
    pub(crate) fn get(&self, name: &str) -> Option<&Item> {
        self.items.iter().find(|(n, _)| n == name).map(|(_, i)| i)
    }
}

/// What a decoded component shares with all its nested components.
pub(crate) struct Shared {
    pub(crate) types: Types,
    pub(crate) modules: Vec<ward::Module>,
    /// Function types already converted, for the next instantiation.
    pub(crate) sigs: SigCache,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shared({} modules)", self.modules.len())
    }
}

/// A component definition together with what its outer aliases can see.
#[derive(Clone, Debug)]
pub(crate) struct Closure {
    pub(crate) shared: Arc<Shared>,
    pub(crate) def: Arc<ComponentDef>,
    pub(crate) env: Option<Arc<Env>>,
}

/// A snapshot of an enclosing component's index spaces, for outer aliases.
#[derive(Debug)]
pub(crate) struct Env {
    modules: Vec<ward::Module>,
    components: Vec<Closure>,
    resources: ResourceMap,
    parent: Option<Arc<Env>>,
}

#[derive(Clone, Debug)]
enum CoreInstance {
    Instance(ward::Instance),
    Exports(Vec<(String, Extern)>),
}

#[derive(Default)]
struct Scope {
    core_funcs: Vec<ward::Func>,
    core_tables: Vec<ward::Table>,
    core_memories: Vec<ward::Memory>,
    core_globals: Vec<ward::Global>,
    core_tags: Vec<ward::Tag>,
    core_instances: Vec<CoreInstance>,
    modules: Vec<ward::Module>,
    funcs: Vec<Func>,
    instances: Vec<Arc<Exports>>,
    components: Vec<Closure>,
    types: Vec<Option<ResourceType>>,
    resources: ResourceMap,
}

fn bad_index(space: &str, i: u32) -> Error {
    Error::Invalid { message: format!("{space} index {i} out of range"), offset: 0 }
}

fn at<'a, V>(v: &'a [V], i: u32, space: &str) -> Result<&'a V, Error> {
    v.get(i as usize).ok_or_else(|| bad_index(space, i))
}

/// Binds the resource ids in `ty` to the run-time resource types found in `item`.
pub(crate) fn bind(types: &Types, ty: &ComponentEntityType, item: &Item, map: &mut ResourceMap) {
    match (ty, item) {
        (ComponentEntityType::Type { referenced, created }, Item::Type(Some(rt))) => {
            for id in [referenced, created] {
                if let ComponentAnyTypeId::Resource(r) = id {
                    map.insert(r.resource(), rt.clone());
                }
            }
        }
        (ComponentEntityType::Instance(id), Item::Instance(exports)) => {
            for (name, export) in types[*id].exports.iter() {
                if let Some(sub) = exports.get(name) {
                    bind(types, &export.ty, sub, map);
                }
            }
        }
        _ => {}
    }
}

/// The exports of an imported instance with its host functions seen at the types the import
/// declares, so that they keep their result arity when aliased and re-exported.
fn type_host_funcs(
    shared: &Shared,
    id: wasmparser::component_types::ComponentInstanceTypeId,
    exports: Arc<Exports>,
    resources: &ResourceMap,
    import: &str,
) -> Result<Arc<Exports>, Error> {
    let types = &shared.types;
    let declared = &types[id].exports;
    if !exports.items.iter().any(|(_, i)| matches!(i, Item::Func(f) if f.is_host())) {
        return Ok(exports);
    }
    let mut typed = Exports::default();
    for (name, item) in &exports.items {
        let item = match (item, declared.get(name.as_str()).map(|e| &e.ty)) {
            (Item::Func(f), Some(ComponentEntityType::Func(fid))) if f.is_host() => {
                let typed = f.at_type(shared.sigs.get(types, *fid, resources)?);
                Item::Func(typed.map_err(|reason| Error::IncompatibleImport {
                    name: format!("{import}#{name}"),
                    reason,
                })?)
            }
            (item, _) => item.clone(),
        };
        typed.items.push((name.clone(), item));
    }
    Ok(Arc::new(typed))
}

/// The export `name` of `items`, searched from `*cursor` on (wrapping around); the cursor is
/// left after the match.
fn find_from<E: Copy>(items: &[(String, E)], name: &str, cursor: &mut usize) -> Option<E> {
    let start = (*cursor).min(items.len());
    let (head, tail) = items.split_at(start);
    let (i, (_, e)) = tail
        .iter()
        .enumerate()
        .map(|(i, item)| (start + i, item))
        .chain(head.iter().enumerate())
        .find(|(_, (n, _))| n == name)?;
    *cursor = i + 1;
    Some(*e)
}

impl Scope {
    fn core_extern(&self, kind: ExternalKind, i: u32) -> Result<Extern, Error> {
        Ok(match kind {
            ExternalKind::Func | ExternalKind::FuncExact => {
                Extern::Func(*at(&self.core_funcs, i, "core func")?)
            }
            ExternalKind::Table => Extern::Table(*at(&self.core_tables, i, "core table")?),
            ExternalKind::Memory => Extern::Memory(*at(&self.core_memories, i, "core memory")?),
            ExternalKind::Global => Extern::Global(*at(&self.core_globals, i, "core global")?),
            ExternalKind::Tag => Extern::Tag(*at(&self.core_tags, i, "core tag")?),
        })
    }

    fn push_core(&mut self, e: Extern) {
        match e {
            Extern::Func(f) => self.core_funcs.push(f),
            Extern::Table(t) => self.core_tables.push(t),
            Extern::Memory(m) => self.core_memories.push(m),
            Extern::Global(g) => self.core_globals.push(g),
            Extern::Tag(t) => self.core_tags.push(t),
        }
    }

    fn item(&self, kind: Kind, i: u32) -> Result<Item, Error> {
        Ok(match kind {
            Kind::Func => Item::Func(at(&self.funcs, i, "func")?.clone()),
            Kind::Module => Item::Module(at(&self.modules, i, "core module")?.clone()),
            Kind::Instance => Item::Instance(at(&self.instances, i, "instance")?.clone()),
            Kind::Component => Item::Component(at(&self.components, i, "component")?.clone()),
            Kind::Type => Item::Type(at(&self.types, i, "type")?.clone()),
            Kind::Value => return Err(Error::Unsupported("component values".into())),
        })
    }

    /// Adds a type to the type index space, binding its static id if it is a resource.
    fn push_type(&mut self, def: &ComponentDef, rt: Option<ResourceType>) {
        if let (Some(rt), Some(ComponentAnyTypeId::Resource(r))) =
            (&rt, def.type_ids.get(self.types.len()))
        {
            self.resources.insert(r.resource(), rt.clone());
        }
        let rt = rt.or_else(|| match def.type_ids.get(self.types.len()) {
            Some(ComponentAnyTypeId::Resource(r)) => self.resources.get(&r.resource()).cloned(),
            _ => None,
        });
        self.types.push(rt);
    }

    fn push_item(&mut self, def: &ComponentDef, item: Item) -> Result<(), Error> {
        match item {
            Item::Func(f) => self.funcs.push(f),
            Item::Module(m) => self.modules.push(m),
            Item::Instance(i) => self.instances.push(i),
            Item::Component(c) => self.components.push(c),
            Item::Type(t) => self.push_type(def, t),
        }
        Ok(())
    }

    fn options<T>(
        &self,
        ctx: &StoreContextMut<'_, T>,
        o: &crate::decode::OptsDef,
    ) -> Result<Options, Error> {
        let realloc = o
            .realloc
            .map(|i| at(&self.core_funcs, i, "core func").copied())
            .transpose()?
            .map(|f| f.typed::<(i32, i32, i32, i32), i32>(ctx))
            .transpose()
            .map_err(|e| Error::Invalid { message: format!("realloc: {e}"), offset: 0 })?;
        Ok(Options {
            memory: o
                .memory
                .map(|i| at(&self.core_memories, i, "core memory").copied())
                .transpose()?,
            realloc,
            post_return: o
                .post_return
                .map(|i| at(&self.core_funcs, i, "core func").copied())
                .transpose()?,
            encoding: o.encoding,
            is_async: o.is_async,
            callback: o
                .callback
                .map(|i| at(&self.core_funcs, i, "core func").copied())
                .transpose()?,
        })
    }

    /// What a built-in needs resolved from this scope: its memory, options and types.
    fn builtin_env<T>(
        &self,
        ctx: &StoreContextMut<'_, T>,
        types: &Types,
        b: &crate::decode::Builtin,
    ) -> Result<crate::concurrent::BuiltinEnv, Error> {
        use crate::decode::Builtin as B;
        let conv = |t: &Option<crate::decode::ValTy>| {
            t.map(|t| crate::types::convert(types, t, &self.resources)).transpose()
        };
        Ok(match b {
            B::TaskReturn { result, opts } => crate::concurrent::BuiltinEnv {
                opts: self.options(ctx, opts)?,
                elem: conv(result)?,
                table: None,
            },
            B::Copy { elem, opts, .. } => crate::concurrent::BuiltinEnv {
                opts: self.options(ctx, opts)?,
                elem: conv(elem)?,
                table: None,
            },
            B::CopyNew { elem, .. } | B::CancelCopy { elem, .. } | B::DropEnd { elem, .. } => {
                crate::concurrent::BuiltinEnv {
                    opts: Options::default(),
                    elem: conv(elem)?,
                    table: None,
                }
            }
            B::WaitableSetWait { memory } | B::WaitableSetPoll { memory } => {
                crate::concurrent::BuiltinEnv {
                    opts: Options {
                        memory: Some(*at(&self.core_memories, *memory, "core memory")?),
                        ..Options::default()
                    },
                    elem: None,
                    table: None,
                }
            }
            B::ThreadNewIndirect { table } => crate::concurrent::BuiltinEnv {
                opts: Options::default(),
                elem: None,
                table: Some(*at(&self.core_tables, *table, "core table")?),
            },
            _ => {
                crate::concurrent::BuiltinEnv { opts: Options::default(), elem: None, table: None }
            }
        })
    }

    /// Export `name` of instance `instance`, aliased as a `kind`.
    fn alias(
        &self,
        def: &ComponentDef,
        instance: u32,
        name: &str,
        kind: Kind,
    ) -> Result<Item, Error> {
        let found = at(&self.instances, instance, "instance")?.get(name).cloned();
        let is_resource =
            matches!(def.type_ids.get(self.types.len()), Some(ComponentAnyTypeId::Resource(_)));
        let item = match found {
            Some(item) => item,
            // A host need not define the value types an interface exports: only
            // resource types have a run-time identity.
            None if kind == Kind::Type && !is_resource => Item::Type(None),
            None => {
                return Err(Error::Invalid {
                    message: format!("instance {instance} has no export `{name}`"),
                    offset: 0,
                })
            }
        };
        if item.kind() != kind {
            return Err(Error::Invalid {
                message: format!("export `{name}` is not a {}", kind.name()),
                offset: 0,
            });
        }
        Ok(item)
    }

    fn resource(
        &self,
        id: &wasmparser::component_types::ResourceId,
    ) -> Result<ResourceType, Error> {
        self.resources
            .get(id)
            .cloned()
            .ok_or_else(|| Error::Unsupported("a resource type not bound in this instance".into()))
    }
}

/// An import resolved and given its declared type: what the instantiation pushes, and the
/// resource types its type binds.
#[derive(Clone, Debug)]
pub(crate) struct ResolvedImport {
    item: Item,
    bindings: Vec<(ResourceId, ResourceType)>,
}

/// The imports of a component resolved once for many instantiations, by definition index
/// (`None`: resolved at each instantiation).
pub(crate) type PreImports = [Option<ResolvedImport>];

/// Checks `item` against the import `name` of kind `kind` and type `ty`, and gives it the
/// declared type. The resource types the import binds are added to `resources` (which the
/// type is read with) and returned with the item.
fn resolve_import(
    shared: &Shared,
    (name, kind, ty): (&str, Kind, &ComponentEntityType),
    item: Item,
    resources: &mut ResourceMap,
) -> Result<ResolvedImport, Error> {
    let types = &shared.types;
    if item.kind() != kind {
        return Err(Error::IncompatibleImport {
            name: name.to_string(),
            reason: format!("expected a {}, found a {}", kind.name(), item.kind().name()),
        });
    }
    let mut bound = ResourceMap::new();
    bind(types, ty, &item, &mut bound);
    resources.extend(bound.iter().map(|(id, rt)| (*id, rt.clone())));
    let item =
        match (item, ty) {
            (Item::Func(f), ComponentEntityType::Func(id)) => {
                let typed = f.at_type(shared.sigs.get(types, *id, resources)?);
                Item::Func(typed.map_err(|reason| Error::IncompatibleImport {
                    name: name.to_string(),
                    reason,
                })?)
            }
            (Item::Instance(e), ComponentEntityType::Instance(id)) => {
                Item::Instance(type_host_funcs(shared, *id, e, resources, name)?)
            }
            (item, _) => item,
        };
    Ok(ResolvedImport { item, bindings: bound.into_iter().collect() })
}

/// Resolves the imports of `closure` that every instantiation resolves alike: those among its
/// leading definitions that only import, alias imported instances, and name types or core
/// modules, so that no resource type is made before them (resource types are generative: an
/// import after one is resolved at each instantiation). Returns them by definition index.
pub(crate) fn pre_resolve(
    closure: &Closure,
    import: &mut dyn FnMut(&str) -> Option<Item>,
) -> Result<Vec<Option<ResolvedImport>>, Error> {
    let shared = &*closure.shared;
    let def = &*closure.def;
    let mut s = Scope {
        resources: closure.env.as_ref().map(|e| e.resources.clone()).unwrap_or_default(),
        ..Scope::default()
    };
    let mut pre = vec![None; def.defs.len()];
    for (index, d) in def.defs.iter().enumerate() {
        match d {
            Def::Import { name, kind, ty } => {
                let item = import(name).ok_or_else(|| Error::UnknownImport(name.clone()))?;
                let resolved = resolve_import(shared, (name, *kind, ty), item, &mut s.resources)?;
                s.push_item(def, resolved.item.clone())?;
                pre[index] = Some(resolved);
            }
            Def::Type => s.push_type(def, None),
            Def::CoreModule(i) => s.modules.push(at(&shared.modules, *i as u32, "module")?.clone()),
            Def::Alias { instance, name, kind } => {
                let item = s.alias(def, *instance, name, *kind)?;
                s.push_item(def, item)?;
            }
            _ => break,
        }
    }
    Ok(pre)
}

/// Instantiates `closure` with imports from `import`; `parent` is the instantiating component
/// instance (None for the host). Returns the instance's exports and its state.
pub(crate) fn instantiate<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    closure: &Closure,
    import: &mut dyn FnMut(&str) -> Option<Item>,
    parent: Option<Arc<InstanceState>>,
    sched: Arc<crate::concurrent::Sched>,
    pre: Option<&PreImports>,
) -> Result<(Arc<Exports>, Arc<InstanceState>), Error> {
    let shared = &closure.shared;
    let types = &shared.types;
    let def = &*closure.def;
    let state = InstanceState::new(parent, sched.clone());
    let mut s = Scope {
        resources: closure.env.as_ref().map(|e| e.resources.clone()).unwrap_or_default(),
        ..Scope::default()
    };
    let mut exports = Exports::default();
    for (index, d) in def.defs.iter().enumerate() {
        match d {
            Def::CoreModule(i) => s.modules.push(at(&shared.modules, *i as u32, "module")?.clone()),
            Def::CoreInstantiate { module, args } => {
                let module = at(&s.modules, *module, "core module")?.clone();
                let mut imports = Vec::with_capacity(module.imports().len());
                // Where the last search in each argument's export list ended: a module's
                // imports usually come in the order of the instance made for them, so each
                // search starts there and finds its name at once.
                let mut cursors = vec![0usize; args.len()];
                for (m, n, _) in module.imports() {
                    let a = args.iter().position(|(name, _)| name == m).ok_or_else(|| {
                        Error::UnknownImport(format!("{m}::{n} (no instance named `{m}` given)"))
                    })?;
                    let found = match at(&s.core_instances, args[a].1, "core instance")? {
                        CoreInstance::Instance(i) => i.get_export(&*ctx, n),
                        CoreInstance::Exports(items) => find_from(items, n, &mut cursors[a]),
                    };
                    imports.push(found.ok_or_else(|| Error::UnknownImport(format!("{m}::{n}")))?);
                }
                let instance = ward::Instance::new(&mut *ctx, &module, &imports)?;
                s.core_instances.push(CoreInstance::Instance(instance));
            }
            Def::CoreFromExports(items) => {
                let items = items
                    .iter()
                    .map(|(n, k, i)| Ok((n.clone(), s.core_extern(*k, *i)?)))
                    .collect::<Result<_, Error>>()?;
                s.core_instances.push(CoreInstance::Exports(items));
            }
            Def::CoreAlias { instance, name, .. } => {
                let e = match at(&s.core_instances, *instance, "core instance")? {
                    CoreInstance::Instance(i) => i.get_export(&*ctx, name),
                    CoreInstance::Exports(items) => {
                        items.iter().find(|(n, _)| n == name).map(|(_, e)| *e)
                    }
                };
                let e = e.ok_or_else(|| Error::Invalid {
                    message: format!("core instance {instance} has no export `{name}`"),
                    offset: 0,
                })?;
                s.push_core(e);
            }
            Def::Type => s.push_type(def, None),
            Def::Resource { id, dtor } => {
                let dtor = dtor.map(|i| at(&s.core_funcs, i, "core func").copied()).transpose()?;
                let guest = GuestResource { instance: Arc::downgrade(&state), dtor };
                let rt = ResourceType::guest(format!("{id:?}"), guest);
                s.resources.insert(*id, rt.clone());
                s.push_type(def, Some(rt));
            }
            Def::Import { name, kind, ty } => {
                let item = match pre.and_then(|p| p.get(index)).and_then(Option::as_ref) {
                    Some(resolved) => {
                        s.resources
                            .extend(resolved.bindings.iter().map(|(id, rt)| (*id, rt.clone())));
                        resolved.item.clone()
                    }
                    None => {
                        let item =
                            import(name).ok_or_else(|| Error::UnknownImport(name.clone()))?;
                        resolve_import(shared, (name, *kind, ty), item, &mut s.resources)?.item
                    }
                };
                s.push_item(def, item)?;
            }
            Def::Lift { core_func, ty, opts } => {
                let core = *at(&s.core_funcs, *core_func, "core func")?;
                let sig = shared.sigs.get(types, *ty, &s.resources)?;
                let opts = s.options(ctx, opts)?;
                s.funcs.push(Func::lifted(core, opts, state.clone(), sig));
            }
            Def::Lower { func, ty, opts } => {
                let callee = at(&s.funcs, *func, "func")?.clone();
                let sig = shared.sigs.get(types, *ty, &s.resources)?;
                let opts = s.options(ctx, opts)?;
                let core = func::lower(ctx, callee, sig, opts, state.clone())
                    .map_err(|e| Error::Invalid { message: e, offset: 0 })?;
                s.core_funcs.push(core);
            }
            Def::ResourceNew(id) => {
                let rt = s.resource(id)?;
                s.core_funcs.push(func::resource_new(ctx, rt, state.clone()));
            }
            Def::ResourceDrop(id) => {
                let rt = s.resource(id)?;
                s.core_funcs.push(func::resource_drop(ctx, rt, state.clone()));
            }
            Def::ResourceRep(id) => {
                let rt = s.resource(id)?;
                s.core_funcs.push(func::resource_rep(ctx, rt, state.clone()));
            }
            Def::Builtin(b, core_ty) => {
                let f = crate::concurrent::builtin(
                    ctx,
                    &s.builtin_env(ctx, types, b)?,
                    b,
                    core_ty,
                    state.clone(),
                )?;
                s.core_funcs.push(f);
            }
            Def::Unsupported(what) => return Err(Error::Unsupported((*what).to_string())),
            Def::Component(child) => {
                let env = Env {
                    modules: s.modules.clone(),
                    components: s.components.clone(),
                    resources: s.resources.clone(),
                    parent: closure.env.clone(),
                };
                s.components.push(Closure {
                    shared: shared.clone(),
                    def: child.clone(),
                    env: Some(Arc::new(env)),
                });
            }
            Def::Instantiate { component, args, ty } => {
                let child = at(&s.components, *component, "component")?.clone();
                let mut given = Vec::with_capacity(args.len());
                for (name, kind, i) in args {
                    given.push((name.clone(), s.item(*kind, *i)?));
                }
                let mut lookup =
                    |n: &str| given.iter().find(|(g, _)| g == n).map(|(_, i)| i.clone());
                let (child_exports, _) = instantiate(
                    ctx,
                    &child,
                    &mut lookup,
                    Some(state.clone()),
                    sched.clone(),
                    None,
                )?;
                let item = Item::Instance(child_exports.clone());
                bind(types, &ComponentEntityType::Instance(*ty), &item, &mut s.resources);
                s.instances.push(child_exports);
            }
            Def::FromExports(items) => {
                let mut e = Exports::default();
                for (name, kind, i) in items {
                    e.items.push((name.clone(), s.item(*kind, *i)?));
                }
                s.instances.push(Arc::new(e));
            }
            Def::Alias { instance, name, kind } => {
                let item = s.alias(def, *instance, name, *kind)?;
                s.push_item(def, item)?;
            }
            Def::OuterAlias { kind, count, index } => {
                let mut env = closure.env.clone();
                for _ in 1..*count {
                    env = env.and_then(|e| e.parent.clone());
                }
                let env = if *count == 0 {
                    None
                } else {
                    Some(env.ok_or_else(|| bad_index("outer", *count))?)
                };
                match kind {
                    ComponentOuterAliasKind::CoreModule => {
                        let m = match &env {
                            Some(e) => at(&e.modules, *index, "core module")?.clone(),
                            None => at(&s.modules, *index, "core module")?.clone(),
                        };
                        s.modules.push(m);
                    }
                    ComponentOuterAliasKind::Component => {
                        let c = match &env {
                            Some(e) => at(&e.components, *index, "component")?.clone(),
                            None => at(&s.components, *index, "component")?.clone(),
                        };
                        s.components.push(c);
                    }
                    ComponentOuterAliasKind::Type => s.push_type(def, None),
                    ComponentOuterAliasKind::CoreType => {}
                }
            }
            Def::Export { name, kind, index } => {
                let item = s.item(*kind, *index)?;
                exports.items.push((name.clone(), item.clone()));
                s.push_item(def, item)?;
            }
        }
    }
    Ok((Arc::new(exports), state))
}

#[cfg(test)]
mod tests {
    use super::find_from;

    #[test]
    fn find_from_searches_from_the_cursor_and_wraps_around() {
        let items: Vec<(String, u32)> =
            ["a", "b", "c"].iter().enumerate().map(|(i, n)| (n.to_string(), i as u32)).collect();
        let mut cursor = 0;
        assert_eq!(find_from(&items, "b", &mut cursor), Some(1));
        assert_eq!(cursor, 2);
        assert_eq!(find_from(&items, "a", &mut cursor), Some(0), "wraps around");
        assert_eq!(cursor, 1);
        assert_eq!(find_from(&items, "c", &mut cursor), Some(2));
        assert_eq!(find_from(&items, "d", &mut cursor), None);
        assert_eq!(cursor, 3, "a miss leaves the cursor");
        let mut past = 10;
        assert_eq!(find_from(&items, "a", &mut past), Some(0));
        assert_eq!(find_from::<u32>(&[], "a", &mut past), None);
    }
}
