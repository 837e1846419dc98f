//! Standard input, output and error as the guest sees them.
//!
//! By default a guest's stdin is empty and its output goes nowhere; the embedder chooses to
//! inherit the host's streams, or to feed and capture them in memory (see
//! [`WasiCtxBuilder`](crate::WasiCtxBuilder)).

use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};

/// Where a guest's standard input comes from.
#[derive(Debug)]
pub(crate) enum Input {
    /// Always at end of file.
    Null,
    /// The host process's stdin.
    Inherit,
    /// A fixed sequence of bytes, then end of file.
    Bytes(io::Cursor<Vec<u8>>),
}

/// Where a guest's standard output or error goes.
#[derive(Debug)]
pub(crate) enum Output {
    /// Discarded.
    Null,
    /// The host process's stdout (`stderr == false`) or stderr (`stderr == true`).
    Inherit { stderr: bool },
    /// An in-memory pipe the embedder can read.
    Pipe(OutputPipe),
}

/// An in-memory sink for a guest's output that the embedder can read afterwards. Clones share
/// the same buffer.
///
/// A pipe holds at most its capacity ([`OutputPipe::DEFAULT_CAPACITY`] unless made with
/// [`OutputPipe::with_capacity`]), so a guest cannot grow host memory without bound by
/// writing. A write that does not fit stores what fits and reports a short write; once the
/// pipe is full, further writes fail with `ENOSPC` ([`Errno::NoSpc`](crate::Errno::NoSpc)),
/// as on a full disk, and [`overflowed`](OutputPipe::overflowed) becomes true.
///
/// ```
/// let out = ward_wasi::OutputPipe::with_capacity(1024);
/// let ctx = ward_wasi::WasiCtxBuilder::new().stdout(out.clone()).build();
/// # drop(ctx);
/// assert!(out.contents().is_empty());
/// assert_eq!(out.capacity(), 1024);
/// assert!(!out.overflowed());
/// ```
#[derive(Clone, Debug)]
pub struct OutputPipe(Arc<Mutex<PipeState>>);

#[derive(Debug)]
struct PipeState {
    data: Vec<u8>,
    capacity: usize,
    overflowed: bool,
}

impl Default for OutputPipe {
    fn default() -> Self {
        OutputPipe::with_capacity(OutputPipe::DEFAULT_CAPACITY)
    }
}

impl OutputPipe {
    /// The capacity of a pipe made with [`new`](OutputPipe::new): 16 MiB.
    pub const DEFAULT_CAPACITY: usize = 16 << 20;

    /// An empty pipe holding up to [`DEFAULT_CAPACITY`](OutputPipe::DEFAULT_CAPACITY) bytes.
    pub fn new() -> OutputPipe {
        OutputPipe::default()
    }

    /// An empty pipe holding up to `capacity` bytes. Nothing is allocated up front: the buffer
    /// grows as the guest writes.
    pub fn with_capacity(capacity: usize) -> OutputPipe {
        OutputPipe(Arc::new(Mutex::new(PipeState {
            data: Vec::new(),
            capacity,
            overflowed: false,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PipeState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Everything written so far (at most the capacity).
    pub fn contents(&self) -> Vec<u8> {
        self.state().data.clone()
    }

    /// The most bytes the pipe holds.
    pub fn capacity(&self) -> usize {
        self.state().capacity
    }

    /// Whether the guest tried to write more than the capacity: some of its output was refused.
    pub fn overflowed(&self) -> bool {
        self.state().overflowed
    }

    /// Appends what fits of `data` as the guest's writes do, returning how much did; fails with
    /// `ENOSPC` when nothing does. Both WASI versions write through this.
    ///
    /// ```
    /// let pipe = ward_wasi::OutputPipe::with_capacity(4);
    /// assert_eq!(pipe.write(b"hello").unwrap(), 4);
    /// assert!(pipe.write(b"!").is_err());
    /// assert_eq!(pipe.contents(), b"hell");
    /// assert!(pipe.overflowed());
    /// ```
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        let mut st = self.state();
        let room = st.capacity.saturating_sub(st.data.len());
        let n = data.len().min(room);
        if n < data.len() {
            st.overflowed = true;
            if n == 0 {
                return Err(io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error()));
            }
        }
        st.data.extend_from_slice(&data[..n]);
        Ok(n)
    }
}

impl Input {
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Null => Ok(0),
            // Unbuffered, straight from descriptor 0: bytes held in a user-space buffer would be
            // invisible to `poll_oneoff`, which asks the host descriptor for readiness.
            Input::Inherit => Ok(rustix::io::read(stdin_fd(), buf)?),
            Input::Bytes(c) => c.read(buf),
        }
    }

    /// The host descriptor behind this stream, if it is a real one (for polling and `fstat`).
    pub(crate) fn host_fd(&self) -> Option<BorrowedFd<'static>> {
        match self {
            Input::Inherit => Some(stdin_fd()),
            _ => None,
        }
    }
}

impl Output {
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Output::Null => Ok(data.len()),
            Output::Inherit { stderr: false } => {
                let mut out = io::stdout().lock();
                out.write_all(data)?;
                out.flush()?;
                Ok(data.len())
            }
            Output::Inherit { stderr: true } => {
                let mut err = io::stderr().lock();
                err.write_all(data)?;
                err.flush()?;
                Ok(data.len())
            }
            Output::Pipe(p) => p.write(data),
        }
    }

    pub(crate) fn host_fd(&self) -> Option<BorrowedFd<'static>> {
        match self {
            Output::Inherit { stderr: false } => Some(stdout_fd()),
            Output::Inherit { stderr: true } => Some(stderr_fd()),
            _ => None,
        }
    }
}

fn stdin_fd() -> BorrowedFd<'static> {
    rustix::stdio::stdin()
}

fn stdout_fd() -> BorrowedFd<'static> {
    rustix::stdio::stdout()
}

fn stderr_fd() -> BorrowedFd<'static> {
    rustix::stdio::stderr()
}

/// Whether a host descriptor is a terminal.
pub(crate) fn is_tty(fd: BorrowedFd<'_>) -> bool {
    rustix::termios::isatty(fd)
}
