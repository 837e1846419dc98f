//! [`SharedMemory`]: a linear memory shared by stores on several OS threads (threads proposal).

use std::sync::Arc;

use super::context::AsContextMut;
use super::memory::Memory;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::runtime::{LinearMemory, SharedBytes};
use crate::types::MemoryType;
use crate::TrapCode;

/// A shared linear memory (`(memory min max shared)`): one block of bytes that instances in
/// several stores, on several OS threads, import at once.
///
/// A `SharedMemory` is a reference-counted handle (cloning it is cheap; the bytes go when the
/// last handle and the last store using them are gone). It reserves its declared maximum when
/// it is created, so its bytes never move; its size only grows, and every thread sees growth
/// at once. Give it to a store with [`SharedMemory::memory`], which returns that store's
/// [`Memory`] handle for it, to import like any memory:
///
/// ```
/// use ward::{Engine, Instance, MemoryType, Module, SharedMemory, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"(module
///     (import "env" "memory" (memory 1 4 shared))
///     (func (export "bump") (result i32)
///       (i32.atomic.rmw.add (i32.const 0) (i32.const 1))))"#)?;
/// let shared = SharedMemory::new(&engine, MemoryType::shared(1, 4))?;
/// let threads: Vec<_> = (0..2).map(|_| {
///     let (engine, module, shared) = (engine.clone(), module.clone(), shared.clone());
///     std::thread::spawn(move || -> ward::Result<()> {
///         let mut store = Store::new(&engine, ());
///         let memory = shared.memory(&mut store)?;
///         let instance = Instance::new(&mut store, &module, &[memory.into()])?;
///         let bump = instance.get_typed_func::<(), i32>(&store, "bump")?;
///         for _ in 0..1000 {
///             bump.call(&mut store, ())?;
///         }
///         Ok(())
///     })
/// }).collect();
/// for t in threads {
///     t.join().unwrap()?;
/// }
/// let mut counter = [0u8; 4];
/// shared.read(0, &mut counter)?;
/// assert_eq!(u32::from_le_bytes(counter), 2000);
/// # Ok::<(), ward::Error>(())
/// ```
///
/// Unlike Wasmtime's, Ward's [`Extern`](crate::Extern) has no shared-memory variant: a
/// store's `Memory` handle stands for the shared memory in that store, and
/// [`Memory::shared`] gives the `SharedMemory` back (for exports of shared memories too).
/// No `&[u8]` over the bytes is ever handed out (other threads may write them at any time):
/// use [`read`](Self::read), [`write`](Self::write) or [`data_ptr`](Self::data_ptr).
#[derive(Clone)]
pub struct SharedMemory {
    pub(crate) bytes: Arc<SharedBytes>,
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory").field("ty", &self.ty()).finish()
    }
}

impl SharedMemory {
    /// A new shared memory of type `ty`, which must be shared and declare a maximum (see
    /// [`MemoryType::shared`]); `ty.minimum()` pages are zeroed and accessible.
    ///
    /// ```
    /// use ward::{Engine, MemoryType, SharedMemory};
    /// let engine = Engine::default();
    /// assert!(SharedMemory::new(&engine, MemoryType::new(1, Some(2))).is_err(), "not shared");
    /// let m = SharedMemory::new(&engine, MemoryType::shared(1, 2))?;
    /// assert_eq!(m.size(), 1);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn new(_engine: &Engine, ty: MemoryType) -> Result<SharedMemory> {
        if !ty.shared {
            return Err(Error::usage("SharedMemory::new needs a shared memory type"));
        }
        match ty.max {
            None => return Err(Error::usage("a shared memory must declare a maximum size")),
            Some(max) if ty.min > max => {
                return Err(Error::usage(format!(
                    "memory minimum ({} pages) exceeds its maximum ({max} pages)",
                    ty.min
                )))
            }
            Some(max) if max > ty.absolute_max_pages() => {
                return Err(Error::usage(format!(
                    "memory size must be at most {} pages",
                    ty.absolute_max_pages()
                )))
            }
            Some(_) => {}
        }
        Ok(SharedMemory { bytes: Arc::new(SharedBytes::new(ty, None)?) })
    }

    /// The memory's type, with its current size as the minimum.
    pub fn ty(&self) -> MemoryType {
        MemoryType { min: self.bytes.pages(), ..self.bytes.ty }
    }

    /// The current size in pages.
    pub fn size(&self) -> u64 {
        self.bytes.pages()
    }

    /// The current size in bytes (another thread may grow it at any time; it never shrinks).
    pub fn data_size(&self) -> usize {
        self.bytes.len()
    }

    /// The address of the first byte. It never changes, and the first
    /// [`data_size`](Self::data_size) bytes stay accessible as long as this handle lives.
    /// Other threads may read and write them concurrently: access them with raw-pointer or
    /// atomic operations only, never through a Rust reference.
    pub fn data_ptr(&self) -> *mut u8 {
        self.bytes.base()
    }

    /// Grows the memory by `delta` zeroed pages, returning the old size in pages; fails with
    /// [`Error::Limit`] beyond the declared maximum. Growth by different threads is serialised.
    ///
    /// ```
    /// use ward::{Engine, MemoryType, SharedMemory};
    /// let m = SharedMemory::new(&Engine::default(), MemoryType::shared(1, 2))?;
    /// assert_eq!(m.grow(1)?, 1);
    /// assert!(m.grow(1).is_err());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn grow(&self, delta: u64) -> Result<u64> {
        self.bytes.grow(delta, u64::MAX).ok_or_else(|| {
            Error::Limit(format!(
                "cannot grow shared memory of {} pages by {delta} pages",
                self.bytes.pages()
            ))
        })
    }

    /// Copies `buf.len()` bytes at `offset` into `buf` (an `out of bounds memory access` trap
    /// if the range is not inside the memory). Concurrent writes by other threads may tear.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        if self.bytes.read_at(offset as u64, buf) {
            Ok(())
        } else {
            Err(TrapCode::MemoryOutOfBounds.into())
        }
    }

    /// Copies `buf` to `offset` (an `out of bounds memory access` trap, and nothing written,
    /// if the range is not inside the memory).
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result<()> {
        if self.bytes.write_at(offset as u64, buf) {
            Ok(())
        } else {
            Err(TrapCode::MemoryOutOfBounds.into())
        }
    }

    /// Wakes up to `count` threads waiting (`memory.atomic.wait32/64`) at byte address `addr`;
    /// returns how many were woken.
    pub fn atomic_notify(&self, addr: u64, count: u32) -> u32 {
        self.bytes.notify(addr, count)
    }

    /// This memory in `store`: the [`Memory`] handle to import it with. The first call for a
    /// store adds the memory to it (within the store's memory size limit, which then caps how
    /// far code in this store may grow it); later calls return the same handle.
    pub fn memory(&self, mut store: impl AsContextMut) -> Result<Memory> {
        let store = store.as_context_mut().0;
        let key = Arc::as_ptr(&self.bytes) as usize;
        let store_id = store.id();
        let inner = &mut store.inner;
        if let Some(&index) = inner.shared_views.get(&key) {
            return Ok(Memory { store_id, index });
        }
        let view = LinearMemory::view_of(self.bytes.clone(), inner.limits.memory_bytes)?;
        let index = u32::try_from(inner.memories.len()).expect("too many memories");
        inner.memories.push(Box::new(view));
        inner.shared_views.insert(key, index);
        Ok(Memory { store_id, index })
    }

    /// Whether `self` and `other` are the same memory.
    pub fn same(&self, other: &SharedMemory) -> bool {
        Arc::ptr_eq(&self.bytes, &other.bytes)
    }
}
