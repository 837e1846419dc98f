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
/// ```
/// let out = ward_wasi::OutputPipe::new();
/// let ctx = ward_wasi::WasiCtxBuilder::new().stdout(out.clone()).build();
/// # drop(ctx);
/// assert!(out.contents().is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct OutputPipe(Arc<Mutex<Vec<u8>>>);

impl OutputPipe {
    /// An empty pipe.
    pub fn new() -> OutputPipe {
        OutputPipe::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn append(&self, data: &[u8]) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(data);
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
            Output::Pipe(p) => {
                p.append(data);
                Ok(data.len())
            }
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
