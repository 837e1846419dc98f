//! Function types converted once per component instead of once per instantiation.
//!
//! Every instantiation gives each imported, lifted and lowered function its type: the
//! validator's type converted to a [`FuncType`] (resources resolved to their run-time types)
//! and flattened to a [`Plan`](crate::func::Plan). Both depend only on the validator's type
//! and on the run-time resource types it mentions, so a component remembers them per type,
//! keyed by those resource types: an instantiation whose resources are the same (host
//! resources, or none) reuses the [`Sig`]; one with fresh guest resources (resource types are
//! generative) converts again. At most [`MAX_KEYS`] resolutions are kept per type, so a
//! component instantiated many times with fresh resources does not grow its cache.

use crate::error::Error;
use crate::func::Sig;
use crate::resources::ResourceType;
use crate::types::{convert_func, ResourceMap};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wasmparser::component_types::{
    ComponentDefinedType, ComponentFuncTypeId, ComponentValType, ResourceId,
};
use wasmparser::types::Types;

/// Resolutions remembered per function type (the oldest is forgotten first).
pub(crate) const MAX_KEYS: usize = 4;

/// One function type's remembered conversions.
struct Entry {
    /// The resources its parameters and result mention, in a fixed order.
    resources: Arc<[ResourceId]>,
    /// For each remembered resolution of `resources`, the converted signature.
    seen: Vec<(Vec<Option<ResourceType>>, Sig)>,
}

/// A component's remembered function types (shared by its nested components).
#[derive(Default)]
pub(crate) struct SigCache {
    entries: Mutex<HashMap<ComponentFuncTypeId, Entry>>,
}

impl std::fmt::Debug for SigCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        write!(f, "SigCache({n} types)")
    }
}

impl SigCache {
    /// Function type `id` with its resources resolved through `map`, converted and flattened.
    pub(crate) fn get(
        &self,
        types: &Types,
        id: ComponentFuncTypeId,
        map: &ResourceMap,
    ) -> Result<Sig, Error> {
        // A poisoned lock only means another thread panicked while inserting: the entries
        // themselves are always whole, so the cache stays usable.
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.entry(id).or_insert_with(|| Entry {
            resources: resources_of(types, id).into(),
            seen: Vec::new(),
        });
        let key: Vec<Option<ResourceType>> =
            entry.resources.iter().map(|r| map.get(r).cloned()).collect();
        if let Some((_, sig)) = entry.seen.iter().find(|(k, _)| *k == key) {
            return Ok(sig.clone());
        }
        let sig = Sig::new(convert_func(types, id, map)?);
        if entry.seen.len() == MAX_KEYS {
            entry.seen.remove(0);
        }
        entry.seen.push((key, sig.clone()));
        Ok(sig)
    }

    /// How many resolutions are remembered in all (for tests).
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.entries.lock().unwrap().values().map(|e| e.seen.len()).sum()
    }
}

/// The resources function type `id` mentions (in `own` and `borrow` handles anywhere in its
/// parameters and result), each once, in the order first met.
fn resources_of(types: &Types, id: ComponentFuncTypeId) -> Vec<ResourceId> {
    let ft = &types[id];
    let mut found = Vec::new();
    for t in ft.params.iter().map(|(_, t)| *t).chain(ft.result) {
        walk(types, t, &mut found);
    }
    found
}

fn walk(types: &Types, ty: ComponentValType, found: &mut Vec<ResourceId>) {
    let ComponentValType::Type(id) = ty else { return };
    match &types[id] {
        ComponentDefinedType::Primitive(_)
        | ComponentDefinedType::Flags(_)
        | ComponentDefinedType::Enum(_) => {}
        ComponentDefinedType::Record(r) => r.fields.values().for_each(|t| walk(types, *t, found)),
        ComponentDefinedType::Variant(v) => {
            v.cases.values().filter_map(|c| c.ty).for_each(|t| walk(types, t, found))
        }
        ComponentDefinedType::List { element, .. }
        | ComponentDefinedType::FixedLengthList { element, .. } => walk(types, *element, found),
        ComponentDefinedType::Tuple(t) => t.types.iter().for_each(|t| walk(types, *t, found)),
        ComponentDefinedType::Option { ty, .. } => walk(types, *ty, found),
        ComponentDefinedType::Result { ok, err, .. } => {
            ok.iter().chain(err).for_each(|t| walk(types, *t, found))
        }
        ComponentDefinedType::Map { key, value, .. } => {
            walk(types, *key, found);
            walk(types, *value, found);
        }
        ComponentDefinedType::Future { ty, .. } | ComponentDefinedType::Stream { ty, .. } => {
            ty.iter().for_each(|t| walk(types, *t, found))
        }
        ComponentDefinedType::Own(r) | ComponentDefinedType::Borrow(r) => {
            let r = r.resource();
            if !found.contains(&r) {
                found.push(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_KEYS;
    use crate::{Component, Linker};

    /// A component with one function type mentioning a resource it defines (converted again
    /// for every instance) and one mentioning none (converted once).
    const COMPONENT: &str = r#"(component
      (type $r (resource (rep i32)))
      (core func $new (canon resource.new $r))
      (core module $m
        (import "r" "new" (func $new (param i32) (result i32)))
        (func (export "make") (param i32) (result i32) (call $new (local.get 0)))
        (func (export "twice") (param i32) (result i32) (i32.add (local.get 0) (local.get 0))))
      (core instance $i (instantiate $m (with "r" (instance (export "new" (func $new))))))
      (export $rx "r" (type $r))
      (func (export "make") (param "n" u32) (result (own $rx)) (canon lift (core func $i "make")))
      (func (export "twice") (param "n" u32) (result u32) (canon lift (core func $i "twice"))))"#;

    #[test]
    fn fresh_resources_are_converted_again_within_a_bound() {
        let engine = ward::Engine::default();
        let component = Component::new(&engine, COMPONENT).unwrap();
        let sigs = &component.closure.shared.sigs;
        let linker = Linker::<()>::new(&engine);
        let mut store = ward::Store::new(&engine, ());
        let first = linker.instantiate(&mut store, &component).unwrap();
        assert_eq!(sigs.remembered(), 2);
        for n in 0..10 {
            let i = linker.instantiate(&mut store, &component).unwrap();
            // `twice` mentions no resource: one conversion, shared by every instance.
            assert!(std::sync::Arc::ptr_eq(
                i.get_func("twice").unwrap().plan().unwrap(),
                first.get_func("twice").unwrap().plan().unwrap()
            ));
            assert_eq!(sigs.remembered(), 1 + (n + 2).min(MAX_KEYS));
        }
    }
}
