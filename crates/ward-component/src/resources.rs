//! Resources: run-time resource types, the per-instance handle tables with the borrow rules of
//! the canonical ABI, the component-instance flags (`may_enter`, `may_leave`), and a simple
//! table for host-side resource representations.

use crate::abi::trap;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The most handles one instance's table may hold (the canonical ABI's `Table.MAX_LENGTH`).
const MAX_HANDLES: usize = (1 << 28) - 1;

/// A resource type. Each definition in a component gets a fresh one per instantiation
/// (resource types are generative); a host defines its own with [`ResourceType::host`].
#[derive(Clone)]
pub struct ResourceType(Arc<ResourceTypeInner>);

struct ResourceTypeInner {
    id: u64,
    name: String,
    /// The implementing component instance and its destructor, for guest resources.
    guest: Option<GuestResource>,
    /// For host resources: an `Arc<HostDrop<T>>` run when a component drops an owned handle.
    host_drop: Option<Arc<dyn Any + Send + Sync>>,
}

/// What a host runs when a component drops an owned handle of its resource type: the store and
/// the handle's representation.
pub type HostDrop<T> = dyn Fn(ward::StoreContextMut<'_, T>, u32) -> crate::Result<()> + Send + Sync;

pub(crate) struct GuestResource {
    pub(crate) instance: Weak<InstanceState>,
    pub(crate) dtor: Option<ward::Func>,
}

impl ResourceType {
    /// A fresh resource type implemented by the host; `name` is only used in messages.
    ///
    /// ```
    /// let a = ward_component::ResourceType::host("file");
    /// let b = ward_component::ResourceType::host("file");
    /// assert_ne!(a, b);
    /// assert_eq!(a, a.clone());
    /// ```
    pub fn host(name: &str) -> ResourceType {
        ResourceType(Arc::new(ResourceTypeInner {
            id: next_id(),
            name: name.to_string(),
            guest: None,
            host_drop: None,
        }))
    }

    /// A fresh host resource type whose owned handles, when a component drops them
    /// (`resource.drop`), are passed to `drop` with their representation, so the host can free
    /// what stands behind them. An error from `drop` traps the dropping component.
    ///
    /// The store's data type `T` must be the one of the stores the type is used in; in a store
    /// of another type the destructor is not run.
    pub fn host_with_drop<T: 'static>(
        name: &str,
        drop: impl Fn(ward::StoreContextMut<'_, T>, u32) -> crate::Result<()> + Send + Sync + 'static,
    ) -> ResourceType {
        let drop: Arc<HostDrop<T>> = Arc::new(drop);
        ResourceType(Arc::new(ResourceTypeInner {
            id: next_id(),
            name: name.to_string(),
            guest: None,
            host_drop: Some(Arc::new(drop)),
        }))
    }

    pub(crate) fn guest(name: String, guest: GuestResource) -> ResourceType {
        ResourceType(Arc::new(ResourceTypeInner {
            id: next_id(),
            name,
            guest: Some(guest),
            host_drop: None,
        }))
    }

    /// The host destructor, if this is a host type made with [`host_with_drop`] for `T`.
    ///
    /// [`host_with_drop`]: ResourceType::host_with_drop
    pub(crate) fn host_drop<T: 'static>(&self) -> Option<&Arc<HostDrop<T>>> {
        self.0.host_drop.as_ref()?.downcast_ref::<Arc<HostDrop<T>>>()
    }

    /// Whether a component (rather than the host) implements this resource.
    pub fn is_guest(&self) -> bool {
        self.0.guest.is_some()
    }

    pub(crate) fn guest_info(&self) -> Option<&GuestResource> {
        self.0.guest.as_ref()
    }

    fn kind_name(&self) -> &'static str {
        if self.is_guest() {
            "guest-defined resource"
        } else {
            "host-defined resource"
        }
    }
}

impl PartialEq for ResourceType {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ResourceType {}

impl fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceType({} #{})", self.0.name, self.0.id)
    }
}

/// A resource handle lifted out of a component, or made by the host to be lowered into one:
/// its type, its representation (`rep`), and whether it is owned or borrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceAny {
    pub(crate) ty: ResourceType,
    pub(crate) rep: u32,
    pub(crate) own: bool,
}

impl ResourceAny {
    /// An owned handle of a host resource type with representation `rep`.
    ///
    /// ```
    /// use ward_component::{ResourceAny, ResourceType};
    /// let ty = ResourceType::host("counter");
    /// let r = ResourceAny::new_own(&ty, 7);
    /// assert_eq!((r.rep(), r.is_owned()), (7, true));
    /// ```
    pub fn new_own(ty: &ResourceType, rep: u32) -> ResourceAny {
        ResourceAny { ty: ty.clone(), rep, own: true }
    }

    /// A borrowed handle of a host resource type.
    pub fn new_borrow(ty: &ResourceType, rep: u32) -> ResourceAny {
        ResourceAny { ty: ty.clone(), rep, own: false }
    }

    /// The resource type.
    pub fn ty(&self) -> &ResourceType {
        &self.ty
    }

    /// The representation the implementation gave this resource.
    pub fn rep(&self) -> u32 {
        self.rep
    }

    /// Whether this is an owned handle (rather than a borrow).
    pub fn is_owned(&self) -> bool {
        self.own
    }
}

/// One entry of a component instance's handle table.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) ty: ResourceType,
    pub(crate) rep: u32,
    pub(crate) own: bool,
    /// Borrows lent out of this (owned) handle for calls still running.
    pub(crate) lends: u32,
    /// For a borrow handle: the call (task) it was lent to.
    pub(crate) scope: Option<u64>,
}

/// The state the canonical ABI keeps per component instance.
pub(crate) struct InstanceState {
    pub(crate) id: u64,
    pub(crate) parent: Option<Arc<InstanceState>>,
    /// The scheduler of the async ABI, shared by every instance that can call this one.
    pub(crate) sched: Arc<crate::concurrent::Sched>,
    /// The spec's `may_enter` and `may_leave` flags. A store (and so every call through these
    /// instances) runs on one thread at a time; atomics only make the state `Sync`.
    may_enter: AtomicBool,
    may_leave: AtomicBool,
    inner: Mutex<StateInner>,
}

#[derive(Default)]
pub(crate) struct StateInner {
    /// The instance's handle table: resources and the async ABI's waitables and sets share
    /// one index space, as in the canonical ABI.
    pub(crate) handles: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Live borrow handles per running call (task id).
    borrows: HashMap<u64, u32>,
    /// The async ABI's per-instance state (`backpressure`, the exclusive lock, thread
    /// indices).
    pub(crate) conc: crate::concurrent::InstConc,
}

/// One entry of an instance's handle table.
pub(crate) enum Entry {
    Resource(Handle),
    Set(crate::concurrent::WaitSet),
    Waitable(crate::concurrent::Waitable),
}

impl fmt::Debug for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceState(#{})", self.id)
    }
}

impl InstanceState {
    pub(crate) fn new(
        parent: Option<Arc<InstanceState>>,
        sched: Arc<crate::concurrent::Sched>,
    ) -> Arc<InstanceState> {
        Arc::new(InstanceState {
            id: next_id(),
            parent,
            sched,
            may_enter: AtomicBool::new(true),
            may_leave: AtomicBool::new(true),
            inner: Mutex::new(StateInner { handles: vec![None], ..StateInner::default() }),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, StateInner> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than the panic itself; keep going with the data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether instance `id` is this one or one of its ancestors.
    pub(crate) fn is_self_or_ancestor(&self, id: u64) -> bool {
        let mut cur = Some(self);
        while let Some(i) = cur {
            if i.id == id {
                return true;
            }
            cur = i.parent.as_deref();
        }
        false
    }

    pub(crate) fn may_enter(&self) -> bool {
        self.may_enter.load(Ordering::Relaxed)
    }

    pub(crate) fn set_may_enter(&self, v: bool) {
        self.may_enter.store(v, Ordering::Relaxed);
    }

    pub(crate) fn may_leave(&self) -> bool {
        self.may_leave.load(Ordering::Relaxed)
    }

    pub(crate) fn set_may_leave(&self, v: bool) {
        self.may_leave.store(v, Ordering::Relaxed);
    }

    pub(crate) fn check_may_leave(&self) -> ward::Result<()> {
        if self.may_leave() {
            Ok(())
        } else {
            Err(trap("cannot leave component instance"))
        }
    }

    pub(crate) fn add(&self, h: Handle) -> ward::Result<u32> {
        self.lock().add(Entry::Resource(h))
    }

    fn with_handle<R>(
        &self,
        i: u32,
        f: impl FnOnce(&mut Handle) -> ward::Result<R>,
    ) -> ward::Result<R> {
        let mut s = self.lock();
        match s.handles.get_mut(i as usize).and_then(Option::as_mut) {
            Some(Entry::Resource(h)) => f(h),
            Some(_) => Err(trap(format!("handle index {i} is not a resource"))),
            None => Err(trap(format!("unknown handle index {i}"))),
        }
    }

    fn check_type(i: u32, h: &Handle, ty: &ResourceType) -> ward::Result<()> {
        if &h.ty == ty {
            Ok(())
        } else {
            Err(trap(format!(
                "handle index {i} used with the wrong type, expected {} but found a different {}",
                ty.kind_name(),
                h.ty.kind_name()
            )))
        }
    }

    /// `resource.rep`: the representation of handle `i`, which must be of type `ty`.
    pub(crate) fn rep(&self, i: u32, ty: &ResourceType) -> ward::Result<u32> {
        self.with_handle(i, |h| {
            Self::check_type(i, h, ty)?;
            Ok(h.rep)
        })
    }

    /// Removes handle `i` for `lift_own` / `resource.drop`; checks type and lends.
    pub(crate) fn remove(&self, i: u32, ty: &ResourceType) -> ward::Result<Handle> {
        let mut s = self.lock();
        let h = match s.handles.get(i as usize).and_then(Option::as_ref) {
            Some(Entry::Resource(h)) => h,
            Some(_) => return Err(trap(format!("handle index {i} is not a resource"))),
            None => return Err(trap(format!("unknown handle index {i}"))),
        };
        Self::check_type(i, h, ty)?;
        if h.lends != 0 {
            return Err(trap("cannot remove owned resource while borrowed"));
        }
        let Some(Entry::Resource(h)) = s.take(i) else { unreachable!("checked above") };
        if let Some(task) = h.scope {
            if let Some(n) = s.borrows.get_mut(&task) {
                *n = n.saturating_sub(1);
            }
        }
        Ok(h)
    }

    /// `lift_borrow`: reads handle `i` and lends it for the duration of the call.
    pub(crate) fn lend(&self, i: u32, ty: &ResourceType) -> ward::Result<u32> {
        self.with_handle(i, |h| {
            Self::check_type(i, h, ty)?;
            h.lends += 1;
            Ok(h.rep)
        })
    }

    /// Ends a lend made by [`lend`](Self::lend).
    pub(crate) fn unlend(&self, i: u32) {
        let _ = self.with_handle(i, |h| {
            h.lends = h.lends.saturating_sub(1);
            Ok(())
        });
    }

    /// `lower_borrow` into a call (task) of this instance.
    pub(crate) fn add_borrow(&self, ty: &ResourceType, rep: u32, task: u64) -> ward::Result<u32> {
        let i =
            self.add(Handle { ty: ty.clone(), rep, own: false, lends: 0, scope: Some(task) })?;
        *self.lock().borrows.entry(task).or_insert(0) += 1;
        Ok(i)
    }

    /// Ends a call (task): its borrow handles must all have been dropped.
    pub(crate) fn end_task(&self, task: u64) -> ward::Result<()> {
        let left = self.lock().borrows.remove(&task).unwrap_or(0);
        if left > 0 {
            return Err(trap("borrow handles still remain at the end of the call"));
        }
        Ok(())
    }
}

impl StateInner {
    /// Adds an entry to the handle table (index 0 is never used).
    pub(crate) fn add(&mut self, e: Entry) -> ward::Result<u32> {
        if !matches!(e, Entry::Resource(_)) {
            self.conc.count_entry()?;
        }
        if let Some(i) = self.free.pop() {
            self.handles[i as usize] = Some(e);
            return Ok(i);
        }
        if self.handles.len() > MAX_HANDLES {
            return Err(trap("handle table is full"));
        }
        self.handles.push(Some(e));
        Ok((self.handles.len() - 1) as u32)
    }

    /// Removes entry `i` (which must be there).
    pub(crate) fn take(&mut self, i: u32) -> Option<Entry> {
        let e = self.handles.get_mut(i as usize)?.take()?;
        self.free.push(i);
        if !matches!(e, Entry::Resource(_)) {
            self.conc.uncount_entry();
        }
        Some(e)
    }

    /// The entry at `i`, or the canonical ABI's trap.
    pub(crate) fn get_mut(&mut self, i: u32) -> ward::Result<&mut Entry> {
        self.handles
            .get_mut(i as usize)
            .and_then(Option::as_mut)
            .ok_or_else(|| trap(format!("unknown handle index {i}")))
    }
}

/// A table where a host keeps the state behind the resources it implements, handing out the
/// `u32` representations a component sees.
///
/// ```
/// let mut table = ward_component::ResourceTable::new();
/// let rep = table.push(String::from("hello"))?;
/// assert_eq!(table.get::<String>(rep).map(String::as_str), Some("hello"));
/// assert_eq!(table.delete::<String>(rep), Some("hello".to_string()));
/// assert!(table.get::<String>(rep).is_none());
/// # Ok::<(), ward_component::Error>(())
/// ```
#[derive(Default)]
pub struct ResourceTable {
    entries: Vec<Option<Box<dyn Any + Send + Sync>>>,
    free: Vec<u32>,
}

impl fmt::Debug for ResourceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceTable")
            .field("live", &(self.entries.len() - self.free.len()))
            .finish()
    }
}

impl ResourceTable {
    /// An empty table.
    pub fn new() -> ResourceTable {
        ResourceTable::default()
    }

    /// Stores `value`; returns its representation.
    pub fn push<V: Any + Send + Sync>(&mut self, value: V) -> Result<u32, crate::Error> {
        if let Some(i) = self.free.pop() {
            self.entries[i as usize] = Some(Box::new(value));
            return Ok(i);
        }
        if self.entries.len() >= MAX_HANDLES {
            return Err(crate::Error::Usage("resource table is full".into()));
        }
        self.entries.push(Some(Box::new(value)));
        Ok((self.entries.len() - 1) as u32)
    }

    /// The value behind `rep`, if it is there and of type `V`.
    pub fn get<V: Any>(&self, rep: u32) -> Option<&V> {
        self.entries.get(rep as usize)?.as_ref()?.downcast_ref()
    }

    /// The value behind `rep`, mutably.
    pub fn get_mut<V: Any>(&mut self, rep: u32) -> Option<&mut V> {
        self.entries.get_mut(rep as usize)?.as_mut()?.downcast_mut()
    }

    /// Removes and returns the value behind `rep` if it is of type `V`.
    pub fn delete<V: Any>(&mut self, rep: u32) -> Option<V> {
        let slot = self.entries.get_mut(rep as usize)?;
        if !slot.as_ref()?.is::<V>() {
            return None;
        }
        let value = slot.take()?.downcast().ok()?;
        self.free.push(rep);
        Some(*value)
    }
}
