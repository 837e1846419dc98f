//! [`Instance`]: handles to instantiated modules, and export lookup.

use super::context::{AsContext, AsContextMut};
use super::externs::Extern;
use super::func::Func;
use super::global::Global;
use super::instantiate::instantiate;
use super::into_func::{WasmParams, WasmResults};
use super::memory::Memory;
use super::table::Table;
use super::tag::Tag;
use super::typed::TypedFunc;
use crate::error::{Error, Result};
use crate::module::{ExportKind, Module};
use crate::runtime::InstanceData;

/// An instantiated module in a store.
///
/// An `Instance` is a small `Copy` handle. Using it with a store other than the one that created
/// it panics with `object used with the wrong store`.
///
/// ```
/// use ward::{Engine, Instance, Module, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"(module (global (export "answer") i32 (i32.const 42)))"#)?;
/// let mut store = Store::new(&engine, ());
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let answer = instance.get_global(&mut store, "answer").unwrap();
/// assert_eq!(answer.get(&store).i32(), Some(42));
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Instance {
    /// Instantiates `module` with `imports`, given in the order of the module's imports.
    ///
    /// Imports are checked against the module's import types: a missing one or one of the wrong
    /// kind or type fails with [`Error::IncompatibleImport`] (or [`Error::Usage`] if the count
    /// is wrong). Then memories, tables, globals and functions are created, element and data
    /// segments are written in order, and the start function runs. A trap during segment
    /// initialisation or in the start function fails instantiation with [`Error::Trap`], but
    /// writes already made to imported memories and tables stay.
    ///
    /// ```
    /// use ward::{Engine, Func, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module
    ///     (import "env" "f" (func $f (result i32)))
    ///     (func (export "g") (result i32) (i32.add (call $f) (i32.const 1))))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let f = Func::wrap(&mut store, || 41i32);
    /// let instance = Instance::new(&mut store, &module, &[f.into()])?;
    /// let g = instance.get_typed_func::<(), i32>(&mut store, "g")?;
    /// assert_eq!(g.call(&mut store, ())?, 42);
    ///
    /// let wrong = Func::wrap(&mut store, || 1i64);
    /// let err = Instance::new(&mut store, &module, &[wrong.into()]).unwrap_err();
    /// assert!(err.to_string().contains("incompatible import type"));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn new(
        mut store: impl AsContextMut,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        instantiate(store.as_context_mut().0, module, imports)
    }

    /// The instance's data. Panics if the instance belongs to another store.
    fn data<'s>(&self, store: &'s super::store::Store<impl Sized>) -> &'s InstanceData {
        store.check(self.store_id);
        &store.inner.instances[self.index as usize]
    }

    /// The export named `name`, if any.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (memory (export "mem") 1))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// assert!(instance.get_export(&store, "mem").unwrap().into_memory().is_some());
    /// assert!(instance.get_export(&store, "nope").is_none());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_export(&self, store: impl AsContext, name: &str) -> Option<Extern> {
        let store = store.as_context().0;
        let data = self.data(store);
        let &i = data.module.export_map.get(name)?;
        Some(export_item(data, self.store_id, i))
    }

    /// Every export, in the module's export order.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (func (export "a")) (table (export "b") 1 funcref))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let names: Vec<String> = instance.exports(&store).into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn exports(&self, store: impl AsContext) -> Vec<(String, Extern)> {
        let store = store.as_context().0;
        let data = self.data(store);
        (0..data.module.exports.len())
            .map(|i| (data.module.exports[i].0.clone(), export_item(data, self.store_id, i)))
            .collect()
    }

    /// The exported function `name`, if there is one.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (func (export "f")))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// assert!(instance.get_func(&mut store, "f").is_some());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_func(&self, store: impl AsContext, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported function `name` as a [`TypedFunc`]. The error names the export if it is
    /// missing, not a function, or of another type.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (func (export "id") (param i64) (result i64) local.get 0))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// assert_eq!(instance.get_typed_func::<i64, i64>(&mut store, "id")?.call(&mut store, 5)?, 5);
    /// let err = instance.get_typed_func::<i32, i64>(&mut store, "id").unwrap_err();
    /// assert!(err.to_string().contains("`id`"));
    /// let err = instance.get_typed_func::<(), ()>(&mut store, "missing").unwrap_err();
    /// assert!(err.to_string().contains("`missing`"));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        let store = store.as_context();
        let func = self
            .get_func(&store, name)
            .ok_or_else(|| Error::usage(format!("no exported function named `{name}`")))?;
        func.typed(&store).map_err(|e| Error::usage(format!("exported function `{name}`: {e}")))
    }

    /// The exported memory `name`, if there is one.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (memory (export "memory") 2))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// assert_eq!(instance.get_memory(&mut store, "memory").unwrap().size(&store), 2);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_memory(&self, store: impl AsContext, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported global `name`, if there is one.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store, Val};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (global (export "g") (mut f64) (f64.const 0.5)))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// assert_eq!(instance.get_global(&mut store, "g").unwrap().get(&store), Val::from(0.5f64));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_global(&self, store: impl AsContext, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The exported table `name`, if there is one.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (table (export "t") 3 funcref))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// assert_eq!(instance.get_table(&mut store, "t").unwrap().size(&store), 3);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_table(&self, store: impl AsContext, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// The exported tag `name`, if there is one.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store, ValType};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (tag (export "e") (param i32)))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let tag = instance.get_tag(&mut store, "e").unwrap();
    /// assert_eq!(tag.ty(&store).params(), &[ValType::I32]);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn get_tag(&self, store: impl AsContext, name: &str) -> Option<Tag> {
        self.get_export(store, name)?.into_tag()
    }
}

/// The item of export `i` of an instance.
fn export_item(data: &InstanceData, store_id: u64, i: usize) -> Extern {
    let (_, kind, idx) = &data.module.exports[i];
    let idx = *idx as usize;
    match kind {
        ExportKind::Func => Extern::Func(Func {
            store_id,
            index: data.funcs[idx],
            raw: data.vmctx.funcref(idx as u32) as usize as u64,
        }),
        ExportKind::Table => Extern::Table(Table { store_id, index: data.tables[idx] }),
        ExportKind::Memory => Extern::Memory(Memory { store_id, index: data.memories[idx] }),
        ExportKind::Global => Extern::Global(Global { store_id, index: data.globals[idx] }),
        ExportKind::Tag => Extern::Tag(Tag { store_id, index: data.tags[idx] }),
    }
}
