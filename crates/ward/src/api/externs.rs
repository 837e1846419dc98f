//! [`Extern`]: any importable or exportable item.

use super::context::AsContext;
use super::func::Func;
use super::global::Global;
use super::memory::Memory;
use super::table::Table;
use super::tag::Tag;
use crate::types::ExternType;

/// An importable or exportable item: a function, table, memory, global or tag.
///
/// ```
/// use ward::{Engine, Extern, Func, Store};
/// let mut store = Store::new(&Engine::default(), ());
/// let item: Extern = Func::wrap(&mut store, || {}).into();
/// assert!(item.into_func().is_some());
/// assert!(item.into_memory().is_none());
/// assert_eq!(item.ty(&store).kind_name(), "func");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A linear memory.
    Memory(Memory),
    /// A global.
    Global(Global),
    /// An exception tag.
    Tag(Tag),
}

impl Extern {
    /// The function, if this is one.
    ///
    /// ```
    /// # let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let f = ward::Func::wrap(&mut store, || {});
    /// assert_eq!(ward::Extern::Func(f).into_func(), Some(f));
    /// ```
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The table, if this is one.
    ///
    /// ```
    /// # let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let f = ward::Func::wrap(&mut store, || {});
    /// assert_eq!(ward::Extern::Func(f).into_table(), None);
    /// ```
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The memory, if this is one.
    ///
    /// ```
    /// # let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let m = ward::Memory::new(&mut store, ward::MemoryType::new(0, None))?;
    /// assert_eq!(ward::Extern::from(m).into_memory(), Some(m));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The global, if this is one.
    ///
    /// ```
    /// # use ward::{GlobalType, Mutability, Val, ValType};
    /// # let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let g = ward::Global::new(&mut store, GlobalType::new(ValType::I32, Mutability::Const), Val::I32(0))?;
    /// assert_eq!(ward::Extern::from(g).into_global(), Some(g));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The tag, if this is one.
    ///
    /// ```
    /// # let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let t = ward::Tag::new(&mut store, &ward::FuncType::new([], []));
    /// assert_eq!(ward::Extern::from(t).into_tag(), Some(t));
    /// ```
    pub fn into_tag(self) -> Option<Tag> {
        match self {
            Extern::Tag(t) => Some(t),
            _ => None,
        }
    }

    /// The item's type.
    ///
    /// Panics with `object used with the wrong store` if the item belongs to another store.
    ///
    /// ```
    /// # let mut store = ward::Store::new(&ward::Engine::default(), ());
    /// let m = ward::Memory::new(&mut store, ward::MemoryType::new(1, None))?;
    /// assert_eq!(ward::Extern::from(m).ty(&store), ward::ExternType::Memory(ward::MemoryType::new(1, None)));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn ty(&self, store: impl AsContext) -> ExternType {
        match self {
            Extern::Func(f) => ExternType::Func(f.ty(store)),
            Extern::Table(t) => ExternType::Table(t.ty(store)),
            Extern::Memory(m) => ExternType::Memory(m.ty(store)),
            Extern::Global(g) => ExternType::Global(g.ty(store)),
            Extern::Tag(t) => ExternType::Tag(t.ty(store)),
        }
    }

    /// The id of the store the item belongs to.
    pub(crate) fn store_id(&self) -> u64 {
        match self {
            Extern::Func(f) => f.store_id,
            Extern::Table(t) => t.store_id,
            Extern::Memory(m) => m.store_id,
            Extern::Global(g) => g.store_id,
            Extern::Tag(t) => t.store_id,
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}

impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}

impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}

impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}

impl From<Tag> for Extern {
    fn from(t: Tag) -> Extern {
        Extern::Tag(t)
    }
}
