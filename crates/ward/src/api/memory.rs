//! [`Memory`]: handles to linear memories.

use super::context::{AsContext, AsContextMut, StoreContext, StoreContextMut};
use crate::error::{Error, Result};
use crate::runtime::LinearMemory;
use crate::types::MemoryType;
use crate::SharedMemory;
use crate::TrapCode;

/// A linear memory in a store, created by the host or exported by an instance.
///
/// A `Memory` is a small `Copy` handle. Using it with a store other than the one that created it
/// panics with `object used with the wrong store`.
///
/// A `Memory` may stand for a [`SharedMemory`] in this store (one created by a module that
/// declares `(memory min max shared)`, or given to the store with [`SharedMemory::memory`]).
/// Other threads may then write its bytes at any time, so [`data`](Self::data),
/// [`data_mut`](Self::data_mut) and [`data_and_store_mut`](Self::data_and_store_mut) panic for
/// it; [`read`](Self::read), [`write`](Self::write), [`grow`](Self::grow) and
/// [`shared`](Self::shared) work for every memory.
///
/// ```
/// use ward::{Engine, Memory, MemoryType, Store};
/// let mut store = Store::new(&Engine::default(), ());
/// let memory = Memory::new(&mut store, MemoryType::new(1, Some(4)))?;
/// memory.write(&mut store, 100, b"hello")?;
/// let mut buf = [0u8; 5];
/// memory.read(&store, 100, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// assert_eq!(memory.grow(&mut store, 1)?, 1);
/// assert_eq!(memory.size(&store), 2);
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Memory {
    /// A new memory of `ty.minimum()` zeroed pages.
    ///
    /// Fails with [`Error::Limit`] if the size exceeds the store's
    /// [memory limit](crate::StoreLimitsBuilder::memory_size) or the address space cannot be
    /// reserved, and with [`Error::Usage`] if the minimum exceeds the maximum.
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// assert!(Memory::new(&mut store, MemoryType::new(2, Some(1))).is_err());
    /// let m = Memory::new(&mut store, MemoryType::new(0, None))?;
    /// assert_eq!(m.data_size(&store), 0);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        let store = store.as_context_mut().0;
        if ty.max.is_some_and(|max| ty.min > max) {
            return Err(Error::usage(format!(
                "memory minimum ({} pages) exceeds its maximum ({} pages)",
                ty.min,
                ty.max.unwrap_or_default()
            )));
        }
        if ty.min > ty.absolute_max_pages() || ty.max.is_some_and(|m| m > ty.absolute_max_pages()) {
            return Err(Error::usage(format!(
                "memory size must be at most {} pages",
                ty.absolute_max_pages()
            )));
        }
        let mem = store.inner.new_memory(ty)?;
        let index = u32::try_from(store.inner.memories.len()).expect("too many memories");
        store.inner.memories.push(Box::new(mem));
        Ok(Memory { store_id: store.id(), index })
    }

    /// The memory's type, with its current size as the minimum.
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(1, Some(3)))?;
    /// m.grow(&mut store, 1)?;
    /// assert_eq!(m.ty(&store), MemoryType::new(2, Some(3)));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        let store = store.as_context().0;
        store.check(self.store_id);
        let mem = &store.inner.memories[self.index as usize];
        MemoryType { min: mem.pages(), ..mem.ty }
    }

    /// The current size in pages (64 KiB each).
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(3, None))?;
    /// assert_eq!(m.size(&store), 3);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn size(&self, store: impl AsContext) -> u64 {
        let store = store.as_context().0;
        store.check(self.store_id);
        store.inner.memories[self.index as usize].pages()
    }

    /// The current size in bytes.
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// assert_eq!(m.data_size(&store), 65536);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn data_size(&self, store: impl AsContext) -> usize {
        let store = store.as_context().0;
        store.check(self.store_id);
        store.inner.memories[self.index as usize].len()
    }

    /// The memory's bytes.
    ///
    /// # Panics
    /// If the memory is shared (see [`Memory::is_shared`]).
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// assert!(m.data(&store).iter().all(|b| *b == 0));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn data<'a, T: 'a>(&self, store: impl Into<StoreContext<'a, T>>) -> &'a [u8] {
        let store = store.into().0;
        store.check(self.store_id);
        store.inner.memories[self.index as usize].data()
    }

    /// The memory's bytes, mutably.
    ///
    /// # Panics
    /// If the memory is shared (see [`Memory::is_shared`]).
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// m.data_mut(&mut store)[7] = 1;
    /// assert_eq!(m.data(&store)[7], 1);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn data_mut<'a, T: 'a>(&self, store: impl Into<StoreContextMut<'a, T>>) -> &'a mut [u8] {
        let store = store.into().0;
        store.check(self.store_id);
        store.inner.memories[self.index as usize].data_mut()
    }

    /// The memory's bytes and the store's data, both mutably: what a host function needs to
    /// move data between a guest buffer and host state.
    ///
    /// # Panics
    /// If the memory is shared (see [`Memory::is_shared`]).
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), Vec::<u8>::new());
    /// let m = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// m.write(&mut store, 0, b"abc")?;
    /// let (bytes, log) = m.data_and_store_mut(&mut store);
    /// log.extend_from_slice(&bytes[..3]);
    /// assert_eq!(store.data(), b"abc");
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn data_and_store_mut<'a, T: 'a>(
        &self,
        store: impl Into<StoreContextMut<'a, T>>,
    ) -> (&'a mut [u8], &'a mut T) {
        let store = store.into().0;
        store.check(self.store_id);
        let (inner, data) = store.inner_and_data_mut();
        (inner.memories[self.index as usize].data_mut(), data)
    }

    /// Grows the memory by `delta` zeroed pages, returning the old size in pages.
    ///
    /// Fails with [`Error::Limit`] if the new size would exceed the memory's maximum, the store's
    /// memory limit or the address space reserved for it; the memory is then unchanged.
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(1, Some(2)))?;
    /// assert_eq!(m.grow(&mut store, 1)?, 1);
    /// assert!(m.grow(&mut store, 1).is_err());
    /// assert_eq!(m.size(&store), 2);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<u64> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        let mem: *mut LinearMemory = &mut *store.inner.memories[self.index as usize];
        // SAFETY: the memory is boxed in the store, so the pointer stays valid while
        // `grow_memory` borrows the rest of the store; nothing else touches this memory meanwhile.
        let mem = unsafe { &mut *mem };
        store.inner.grow_memory(mem, delta).ok_or_else(|| {
            Error::Limit(format!("cannot grow memory of {} pages by {delta} pages", mem.pages()))
        })
    }

    /// Copies `buf.len()` bytes starting at `offset` into `buf`. Fails with an
    /// `out of bounds memory access` trap if the range is not inside the memory.
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// let mut buf = [0u8; 2];
    /// assert!(m.read(&store, 65535, &mut buf).is_err());
    /// m.read(&store, 65534, &mut buf)?;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn read(&self, store: impl AsContext, offset: usize, buf: &mut [u8]) -> Result<()> {
        let store = store.as_context().0;
        store.check(self.store_id);
        if store.inner.memories[self.index as usize].read_at(offset as u64, buf) {
            Ok(())
        } else {
            Err(TrapCode::MemoryOutOfBounds.into())
        }
    }

    /// Copies `buf` into the memory at `offset`. Fails with an `out of bounds memory access` trap
    /// (and writes nothing) if the range is not inside the memory.
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store, TrapCode};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let m = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// let err = m.write(&mut store, 65535, b"xy").unwrap_err();
    /// assert_eq!(err.as_trap().unwrap().code(), TrapCode::MemoryOutOfBounds);
    /// m.write(&mut store, 65534, b"xy")?;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, buf: &[u8]) -> Result<()> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        if store.inner.memories[self.index as usize].write_at(offset as u64, buf) {
            Ok(())
        } else {
            Err(TrapCode::MemoryOutOfBounds.into())
        }
    }

    /// Whether this is a shared memory (threads proposal).
    ///
    /// ```
    /// use ward::{Engine, MemoryType, SharedMemory, Store};
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, ());
    /// let m = SharedMemory::new(&engine, MemoryType::shared(1, 1))?.memory(&mut store)?;
    /// assert!(m.is_shared(&store));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn is_shared(&self, store: impl AsContext) -> bool {
        self.shared(store).is_some()
    }

    /// The [`SharedMemory`] this handle stands for in its store, if the memory is shared: what
    /// another store (on another thread) imports to share it.
    ///
    /// ```
    /// use ward::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (memory (export "m") 1 2 shared))"#)?;
    /// let mut a = Store::new(&engine, ());
    /// let m = Instance::new(&mut a, &module, &[])?.get_memory(&a, "m").unwrap();
    /// let shared = m.shared(&a).unwrap();
    /// let mut b = Store::new(&engine, ());
    /// let in_b = shared.memory(&mut b)?;
    /// in_b.write(&mut b, 8, b"hi")?;
    /// let mut buf = [0u8; 2];
    /// m.read(&a, 8, &mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn shared(&self, store: impl AsContext) -> Option<SharedMemory> {
        let store = store.as_context().0;
        store.check(self.store_id);
        let bytes = store.inner.memories[self.index as usize].shared()?.clone();
        Some(SharedMemory { bytes })
    }

    /// The address of the memory's first byte. Under the dense strategy it may change when
    /// the memory grows; a shared memory's never does.
    pub fn data_ptr(&self, store: impl AsContext) -> *mut u8 {
        let store = store.as_context().0;
        store.check(self.store_id);
        store.inner.memories[self.index as usize].base()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Store, StoreLimitsBuilder};

    #[test]
    fn limits_apply_to_new_memories() {
        let mut store = Store::new(&Engine::default(), ());
        store.limiter(StoreLimitsBuilder::new().memory_size(3 * 65536).build());
        let e = Memory::new(&mut store, MemoryType::new(4, None)).unwrap_err();
        assert!(matches!(e, Error::Limit(_)), "{e}");
        let m = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
        assert_eq!(m.grow(&mut store, 2).unwrap(), 1);
        assert!(matches!(m.grow(&mut store, 1), Err(Error::Limit(_))));
        assert_eq!(m.size(&store), 3);
    }

    #[test]
    fn offsets_near_usize_max_do_not_wrap() {
        let mut store = Store::new(&Engine::default(), ());
        let m = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
        assert!(m.write(&mut store, usize::MAX, b"a").is_err());
        assert!(m.read(&store, usize::MAX - 1, &mut [0; 4]).is_err());
    }

    #[test]
    #[should_panic(expected = "object used with the wrong store")]
    fn wrong_store_panics() {
        let mut a = Store::new(&Engine::default(), ());
        let b = Store::new(&Engine::default(), ());
        let m = Memory::new(&mut a, MemoryType::new(1, None)).unwrap();
        let _ = m.data(&b);
    }
}
