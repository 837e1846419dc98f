//! The host objects behind a guest's resources, kept in one [`ResourceTable`] per context.
//! Each resource type of the WASI interfaces is a distinct component resource type, so the
//! canonical ABI already refuses a handle of one type where another is expected; the table
//! checks the kind again and answers a mismatch with a trap, never a panic.

use crate::ctx::{DirAccess, Output};
use crate::fs::DirId;
use crate::http_types::{HttpObject, SharedBody};
use crate::sockets::tcp::TcpShared;
use crate::sockets::{SockWait, SocketObject};
use std::fs::File;
use std::sync::Arc;
use std::time::Instant;
use ward_component::{Error, ResourceTable};

/// At most this many live resources per guest: each may hold a host file descriptor.
pub(crate) const MAX_RESOURCES: usize = 16 * 1024;

/// A descriptor: a directory or a file, with what the guest may do through it.
pub(crate) struct Descriptor {
    pub(crate) kind: DescKind,
    /// `read` of `descriptor-flags` (for files).
    pub(crate) read: bool,
    /// `write` of `descriptor-flags` (for files).
    pub(crate) write: bool,
    /// Whether the guest may change what is beneath (directories) — false beneath a
    /// read-only preopen.
    pub(crate) access: DirAccess,
    /// The preopen this descriptor was reached from, for the symlink rule.
    pub(crate) root: Option<DirId>,
    /// Flags the guest asked for and got (`descriptor-flags` names), reported by `get-flags`.
    pub(crate) flags: Vec<String>,
}

pub(crate) enum DescKind {
    Dir(Arc<cap_std::fs::Dir>),
    File(Arc<File>),
}

/// A stream the guest reads.
pub(crate) enum InputStream {
    Stdin,
    File {
        file: Arc<File>,
        pos: u64,
    },
    /// Bytes the host holds (an HTTP body), read from `pos` on.
    Bytes {
        data: Arc<[u8]>,
        pos: usize,
    },
    /// A connected TCP socket's receiving side.
    Tcp(Arc<TcpShared>),
    /// A request body the embedder streams in.
    Source(crate::body_pipe::BodySource),
}

/// A stream the guest writes.
pub(crate) enum OutputStream {
    Std(Output),
    File {
        file: Arc<File>,
        pos: u64,
    },
    Append(Arc<File>),
    /// An HTTP body being written (`outgoing-body.write`).
    Body(SharedBody),
    /// A connected TCP socket's sending side.
    Tcp(Arc<TcpShared>),
}

/// What a pollable waits for.
pub(crate) enum Pollable {
    Ready,
    /// Ready at the instant; `None`: never (the instant lies beyond what the host can represent).
    Deadline(Option<Instant>),
    /// A socket, a socket stream or a name lookup.
    Socket(SockWait),
    /// A request body the embedder streams in: bytes or its end.
    Source(crate::body_pipe::SourceReady),
    /// The end of a request body the embedder streams in (its trailers).
    Trailers(crate::body_pipe::SourceReady),
}

pub(crate) enum Object {
    Descriptor(Descriptor),
    DirEntries(Box<cap_std::fs::ReadDir>),
    Input(InputStream),
    Output(OutputStream),
    Pollable(Pollable),
    Error(std::io::Error),
    Terminal,
    /// A `wasi:http/types` resource.
    Http(HttpObject),
    /// A `wasi:sockets` resource.
    Socket(SocketObject),
}

#[derive(Default)]
pub(crate) struct Table {
    inner: ResourceTable,
    live: usize,
}

pub(crate) fn wrong(what: &str) -> Error {
    Error::Wasm(ward::Error::Trap(ward::Trap::host(format!("not a live {what} resource"))))
}

impl Table {
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    pub(crate) fn push(&mut self, o: Object) -> Result<u32, Error> {
        if self.live >= MAX_RESOURCES {
            return Err(Error::Wasm(ward::Error::Trap(ward::Trap::host(format!(
                "the guest holds {MAX_RESOURCES} WASI resources, the most allowed"
            )))));
        }
        let rep = self.inner.push(o)?;
        self.live += 1;
        Ok(rep)
    }

    pub(crate) fn get(&self, rep: u32) -> Option<&Object> {
        self.inner.get::<Object>(rep)
    }

    pub(crate) fn get_mut(&mut self, rep: u32) -> Option<&mut Object> {
        self.inner.get_mut::<Object>(rep)
    }

    pub(crate) fn delete(&mut self, rep: u32) -> Option<Object> {
        let o = self.inner.delete::<Object>(rep);
        if o.is_some() {
            self.live -= 1;
        }
        o
    }

    pub(crate) fn descriptor(&self, rep: u32) -> Result<&Descriptor, Error> {
        match self.get(rep) {
            Some(Object::Descriptor(d)) => Ok(d),
            _ => Err(wrong("descriptor")),
        }
    }
}
