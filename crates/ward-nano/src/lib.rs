//! # Nanoprocesses on Ward
//!
//! Many isolated WebAssembly processes in one host process. A *nanoprocess* is one store and
//! one instance made from a pre-linked template ([`ward::InstancePre`]): its own linear memory,
//! its own WASI context, its own limits (memory, tables, fuel per time slice, a wall-clock
//! deadline), its own mailbox, and a pid. A [`Runtime`] schedules them over worker threads with
//! work stealing. A process waiting in `receive` is plain data — a suspended async call held in
//! its record — with no OS thread and no native stack. A busy process yields its worker after
//! each fuel slice, so an endless loop cannot starve the others; a trap or exit ends only its own
//! process (and, by design, its children and the processes linked to it).
//!
//! Processes talk by byte messages, copied out of the sender's memory into the receiver's;
//! receive is selective (by tag) with a timeout. Links, monitors and supervision (restart on
//! crash, at most N times in a window) tell a process when another ends and why.
//!
//! Authority flows down the process tree and by explicit hand-over only: a child gets the
//! capabilities its template asks for *intersected with* its parent's ([`Caps::attenuate`]);
//! a process may message only the processes whose handles it holds (itself, its parent, its
//! children, handles received in messages, and those the host granted).
//!
//! The guest interface is the `ward:nano` import module; see [`guest`] and
//! `guest/ward_nano.h`. An application can be described by a TOML manifest ([`manifest`]).

mod caps;
pub mod guest;
pub mod manifest;
mod proc;
mod runtime;
mod sched;

pub use caps::{Caps, DirGrant, Limits, RestartPolicy};
pub use manifest::{run_manifest, Manifest};
pub use proc::{tags, ExitReason, Message, Pid};
pub use runtime::{
    Endpoint, Exited, ProcData, ProcHandle, Runtime, RuntimeConfig, SpawnOptions, TemplateSpec,
    MAX_TEMPLATE_NAME,
};
