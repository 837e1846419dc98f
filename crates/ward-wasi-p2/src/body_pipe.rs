//! Bodies streamed between the embedder and the guest: a response body from the guest to the
//! embedder while the guest writes it ([`BodyReader`]), and a request body from the embedder
//! to the guest while the client sends it ([`BodySender`], [`BodySource`]).
//!
//! The guest's writes (on the thread running it) go into a bounded queue; the embedder reads
//! chunks out of it (woken when the guest flushes, when [`WAKE_AT`] bytes are queued, and when
//! the body ends, so that a body written in small pieces and finished at once reads as one), blocking ([`BodyReader::next_chunk`]) or from async code
//! ([`BodyReader::poll_chunk`]). A writer waits while [`CAPACITY`] bytes are queued, until the
//! reader takes some, the reader goes away (the write fails: the client is gone), or the
//! writer's deadline passes (the write fails: a client that stops reading cannot hold the
//! guest's thread past the request's deadline). A body whose writer goes away without
//! finishing reads as [`BodyError::Incomplete`].

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Header or trailer fields: names and values, in order.
pub type FieldList = Vec<(String, Vec<u8>)>;

/// Bytes a body may have queued before its writer waits for the reader.
pub const CAPACITY: usize = 1 << 20;

/// Queued bytes that wake the reader without a flush.
const WAKE_AT: usize = 64 << 10;

/// Why a streamed body ended without being finished.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The guest trapped, returned or stopped before finishing the body (or finished it at a
    /// length other than its `content-length`).
    #[error("the handler did not finish the response body")]
    Incomplete,
}

#[derive(Default)]
struct State {
    chunks: VecDeque<Vec<u8>>,
    queued: usize,
    /// The guest flushed, or is about to wait: what it wrote so far (maybe nothing) is all
    /// there is for now.
    flushed: bool,
    finished: bool,
    /// The trailer fields the guest finished the body with.
    trailers: Vec<(String, Vec<u8>)>,
    /// The writer went away without finishing.
    abandoned: bool,
    /// The reader went away.
    closed: bool,
    /// The reader waiting for a chunk.
    waker: Option<Waker>,
}

/// A body's state between its two ends, and the condition the blocking end waits on (for a
/// response body, room: the reader took bytes or went away; for a request body, data: bytes
/// arrived or the body ended).
struct Pipe<S> {
    state: Mutex<S>,
    cv: Condvar,
}

impl<S> std::fmt::Debug for Pipe<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pipe")
    }
}

impl<S: Default> Pipe<S> {
    fn new() -> Arc<Pipe<S>> {
        Arc::new(Pipe { state: Mutex::default(), cv: Condvar::new() })
    }

    fn lock(&self) -> MutexGuard<'_, S> {
        // Nothing panics while holding the lock; if something did, the state is still whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Shared = Pipe<State>;

/// A new body: the writer for the guest's side, the reader for the embedder's. Writes wait
/// for room at most until `deadline`.
pub(crate) fn body_pipe(deadline: Option<Instant>) -> (BodyWriter, BodyReader) {
    let shared = Shared::new();
    (BodyWriter { shared: shared.clone(), deadline }, BodyReader { shared })
}

/// Why a write was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PipeWriteError {
    /// The reader is gone.
    Closed,
    /// No room before the deadline.
    TimedOut,
}

/// The guest's end of a streamed body.
#[derive(Debug)]
pub(crate) struct BodyWriter {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

impl BodyWriter {
    /// Queues `bytes`, waiting while the queue is full (a write into an empty queue is never
    /// refused for its size).
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<(), PipeWriteError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut st = self.shared.lock();
        loop {
            if st.closed {
                return Err(PipeWriteError::Closed);
            }
            if st.queued == 0 || st.queued + bytes.len() <= CAPACITY {
                break;
            }
            st = match self.deadline {
                None => self.shared.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(PipeWriteError::TimedOut);
                    }
                    self.shared.cv.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
        st.queued += bytes.len();
        st.chunks.push_back(bytes.to_vec());
        if st.queued >= WAKE_AT {
            if let Some(w) = st.waker.take() {
                w.wake();
            }
        }
        Ok(())
    }

    /// Wakes the reader for what is queued.
    pub(crate) fn flush(&self) {
        let mut st = self.shared.lock();
        st.flushed = true;
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }

    /// Ends the body: the reader sees its end once it has read what is queued.
    pub(crate) fn finish(&self) {
        self.finish_with(Vec::new());
    }

    /// Ends the body with trailer fields.
    pub(crate) fn finish_with(&self, trailers: Vec<(String, Vec<u8>)>) {
        let mut st = self.shared.lock();
        st.finished = true;
        st.trailers = trailers;
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if !st.finished {
            st.abandoned = true;
        }
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }
}

/// The embedder's end of a streamed response body.
#[derive(Debug)]
pub struct BodyReader {
    shared: Arc<Shared>,
}

impl BodyReader {
    /// The next chunk; `None` at the end of a finished body. Registers `cx`'s waker when
    /// nothing is ready yet.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, BodyError>>> {
        let mut st = self.shared.lock();
        match take(&mut st) {
            Some(ready) => {
                drop(st);
                self.shared.cv.notify_all();
                Poll::Ready(ready)
            }
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Ready once the body has begun: bytes are queued, the guest flushed or waits (having
    /// written nothing, maybe), or the body ended. What to answer with can then be decided
    /// (the head need not wait for bytes a guest that waits has not written).
    pub fn poll_begun(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.shared.lock();
        if !st.chunks.is_empty() || st.flushed || st.finished || st.abandoned {
            return Poll::Ready(());
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The trailer fields of a finished body (taken: empty the second time, and while the
    /// body has not ended).
    pub fn take_trailers(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut st = self.shared.lock();
        if st.finished {
            std::mem::take(&mut st.trailers)
        } else {
            Vec::new()
        }
    }

    /// The names of the trailer fields the body ended with (not yet taken), each once.
    pub fn trailer_names(&self) -> Vec<String> {
        let st = self.shared.lock();
        let mut names: Vec<String> = Vec::new();
        for (n, _) in &st.trailers {
            if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
                names.push(n.clone());
            }
        }
        names
    }

    /// Whether the body ended with trailer fields (not yet taken).
    pub fn has_trailers(&self) -> bool {
        let st = self.shared.lock();
        st.finished && !st.trailers.is_empty()
    }

    /// What is ready now, without waiting: `None` if nothing is; otherwise the next chunk,
    /// or `Some(None)` at the end of a finished body.
    #[allow(clippy::option_option)]
    pub fn try_next(&mut self) -> Option<Option<Result<Vec<u8>, BodyError>>> {
        let ready = take(&mut self.shared.lock());
        if ready.is_some() {
            self.shared.cv.notify_all();
        }
        ready
    }

    /// The next chunk, waiting for it; `None` at the end of a finished body.
    pub fn next_chunk(&mut self) -> Option<Result<Vec<u8>, BodyError>> {
        let waiter = Arc::new(Wakeup::default());
        let waker = Waker::from(waiter.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(r) = self.poll_chunk(&mut cx) {
                return r;
            }
            waiter.wait();
        }
    }

    /// The rest of the body, read to its end.
    pub fn read_to_end(mut self) -> Result<Vec<u8>, BodyError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next_chunk() {
            all.extend_from_slice(&chunk?);
        }
        Ok(all)
    }
}

/// What is ready for the reader: a chunk, the end, or the error of an abandoned body.
fn take(st: &mut State) -> Option<Option<Result<Vec<u8>, BodyError>>> {
    if let Some(chunk) = st.chunks.pop_front() {
        st.queued -= chunk.len();
        return Some(Some(Ok(chunk)));
    }
    if st.finished {
        return Some(None);
    }
    if st.abandoned {
        return Some(Some(Err(BodyError::Incomplete)));
    }
    None
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        st.chunks.clear();
        st.queued = 0;
        drop(st);
        self.shared.cv.notify_all();
    }
}

/// Wakes a thread blocked in [`BodyReader::next_chunk`].
#[derive(Default)]
struct Wakeup {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Wakeup {
    fn wait(&self) {
        let mut woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        while !*woken {
            woken = self.cv.wait(woken).unwrap_or_else(|e| e.into_inner());
        }
        *woken = false;
    }
}

impl std::task::Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_one();
    }
}

// --- request bodies: embedder -> guest --------------------------------------------------------

/// Why a request body's sender cannot go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the handler no longer reads the request body")]
pub struct BodyGone;

#[derive(Default)]
struct InState {
    chunks: VecDeque<Vec<u8>>,
    queued: usize,
    finished: bool,
    /// The sender went away without finishing (the client's body ended early or broke).
    failed: bool,
    /// The guest's side is gone.
    closed: bool,
    /// The sender waiting for room.
    waker: Option<Waker>,
    /// The trailer fields the body ended with.
    trailers: Vec<(String, Vec<u8>)>,
}

type InShared = Pipe<InState>;

/// A request body the embedder sends while the guest reads it: the sender for the embedder,
/// the source to hand to [`HttpProxy::handle_streaming`](crate::HttpProxy::handle_streaming).
pub fn request_body() -> (BodySender, BodySource) {
    let shared = InShared::new();
    (BodySender { shared: shared.clone() }, BodySource { shared })
}

/// The embedder's end of a streamed request body. Dropped without [`BodySender::finish`],
/// the guest's reads fail (the body ended early).
#[derive(Debug)]
pub struct BodySender {
    shared: Arc<InShared>,
}

impl BodySender {
    /// Ready once the guest has room for more ([`CAPACITY`] bytes wait at most), or with
    /// [`BodyGone`] once the guest's side is gone.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BodyGone>> {
        let mut st = self.shared.lock();
        if st.closed {
            return Poll::Ready(Err(BodyGone));
        }
        if st.queued < CAPACITY {
            return Poll::Ready(Ok(()));
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Queues `bytes` for the guest (after [`BodySender::poll_ready`]: the queue may pass
    /// its capacity by this one chunk).
    pub fn send(&mut self, bytes: Vec<u8>) -> Result<(), BodyGone> {
        let mut st = self.shared.lock();
        if st.closed {
            return Err(BodyGone);
        }
        if !bytes.is_empty() {
            st.queued += bytes.len();
            st.chunks.push_back(bytes);
            self.shared.cv.notify_all();
        }
        Ok(())
    }

    /// Ends the body: the guest reads its end once it has read what is queued.
    pub fn finish(self) {
        self.finish_with(Vec::new());
    }

    /// Ends the body with trailer fields (the guest gets them from `incoming-body.finish`).
    pub fn finish_with(self, trailers: Vec<(String, Vec<u8>)>) {
        let mut st = self.shared.lock();
        st.finished = true;
        st.trailers = trailers;
        drop(st);
        self.shared.cv.notify_all();
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if !st.finished {
            st.failed = true;
        }
        drop(st);
        self.shared.cv.notify_all();
    }
}

/// The guest's end of a streamed request body.
#[derive(Debug)]
pub struct BodySource {
    shared: Arc<InShared>,
}

/// How a read of a streamed request body ended without bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SourceEnd {
    /// The body's end.
    Closed,
    /// The body ended early.
    Failed,
    /// The wait was interrupted (the store's deadline).
    Interrupted,
}

impl BodySource {
    /// At most `want` bytes: what is queued, or with `blocking` the next bytes to arrive
    /// (waiting in slices of `slice`, between which `interrupted` is asked). Without
    /// `blocking` and nothing queued: no bytes.
    pub(crate) fn read(
        &self,
        want: usize,
        blocking: bool,
        slice: std::time::Duration,
        interrupted: impl Fn() -> bool,
    ) -> Result<Vec<u8>, SourceEnd> {
        let mut st = self.shared.lock();
        loop {
            if let Some(chunk) = st.chunks.front_mut() {
                let bytes = if chunk.len() <= want {
                    st.chunks.pop_front().unwrap_or_default()
                } else {
                    let rest = chunk.split_off(want);
                    std::mem::replace(chunk, rest)
                };
                st.queued -= bytes.len();
                if let Some(w) = st.waker.take() {
                    w.wake();
                }
                return Ok(bytes);
            }
            if st.finished {
                return Err(SourceEnd::Closed);
            }
            if st.failed {
                return Err(SourceEnd::Failed);
            }
            if !blocking || want == 0 {
                return Ok(Vec::new());
            }
            if interrupted() {
                return Err(SourceEnd::Interrupted);
            }
            st = self.shared.cv.wait_timeout(st, slice).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// What a pollable on this body waits for.
    pub(crate) fn readiness(&self) -> SourceReady {
        SourceReady(self.shared.clone())
    }
}

impl Drop for BodySource {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        st.chunks.clear();
        st.queued = 0;
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }
}

/// Whether a streamed request body has something for the guest: bytes or its end.
#[derive(Clone, Debug)]
pub(crate) struct SourceReady(Arc<InShared>);

impl SourceReady {
    pub(crate) fn is_ready(&self) -> bool {
        let st = self.0.lock();
        !st.chunks.is_empty() || st.finished || st.failed
    }

    /// Whether the body has ended (finished or failed): its trailers are known.
    pub(crate) fn has_ended(&self) -> bool {
        let st = self.0.lock();
        st.finished || st.failed
    }

    /// How the body ended: its trailer fields, or `Err` if it ended early; `None` while it
    /// goes on.
    pub(crate) fn ending(&self) -> Option<Result<FieldList, ()>> {
        let st = self.0.lock();
        if st.finished {
            Some(Ok(st.trailers.clone()))
        } else if st.failed {
            Some(Err(()))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn chunks_arrive_in_order_then_the_end() {
        let (w, mut r) = body_pipe(None);
        let t = std::thread::spawn(move || {
            for i in 0..100u8 {
                w.write(&[i; 1000]).unwrap();
                if i % 7 == 0 {
                    w.flush();
                }
            }
            w.finish();
        });
        let mut all = Vec::new();
        while let Some(c) = r.next_chunk() {
            all.extend(c.unwrap());
        }
        t.join().unwrap();
        assert_eq!(all.len(), 100_000);
        assert!(all.chunks(1000).enumerate().all(|(i, c)| c.iter().all(|b| *b == i as u8)));
    }

    #[test]
    fn try_next_reports_only_what_is_ready() {
        let (w, mut r) = body_pipe(None);
        assert_eq!(r.try_next(), None);
        w.write(b"one").unwrap();
        assert_eq!(r.try_next(), Some(Some(Ok(b"one".to_vec()))));
        assert_eq!(r.try_next(), None);
        w.finish();
        assert_eq!(r.try_next(), Some(None));
    }

    #[test]
    fn a_writer_gone_without_finishing_is_an_incomplete_body() {
        let (w, r) = body_pipe(None);
        w.write(b"partial").unwrap();
        drop(w);
        assert_eq!(r.read_to_end(), Err(BodyError::Incomplete));
    }

    /// The attack: a client that never reads. The guest's writes stop at the capacity and
    /// fail at the deadline instead of holding its thread or growing the queue.
    #[test]
    fn a_reader_that_never_reads_bounds_the_queue_and_times_out_the_writer() {
        let deadline = Instant::now() + Duration::from_millis(200);
        let (w, r) = body_pipe(Some(deadline));
        let chunk = vec![0u8; 64 << 10];
        let mut written = 0;
        let err = loop {
            match w.write(&chunk) {
                Ok(()) => written += chunk.len(),
                Err(e) => break e,
            }
        };
        assert_eq!(err, PipeWriteError::TimedOut);
        assert!(Instant::now() >= deadline);
        assert_eq!(written, CAPACITY);
        assert_eq!(r.shared.lock().queued, CAPACITY);
    }

    #[test]
    fn a_reader_gone_fails_the_writer_at_once() {
        let (w, r) = body_pipe(None);
        w.write(&vec![0u8; CAPACITY]).unwrap();
        let t = std::thread::spawn(move || w.write(b"more"));
        std::thread::sleep(Duration::from_millis(50));
        drop(r);
        assert_eq!(t.join().unwrap(), Err(PipeWriteError::Closed));
    }

    #[test]
    fn a_request_body_reaches_the_guest_in_pieces_and_ends() {
        let (mut tx, rx) = request_body();
        let never = || false;
        let slice = Duration::from_millis(5);
        assert_eq!(rx.read(10, false, slice, never), Ok(Vec::new()));
        assert!(!rx.readiness().is_ready());
        tx.send(b"hello world".to_vec()).unwrap();
        assert!(rx.readiness().is_ready());
        assert_eq!(rx.read(5, true, slice, never), Ok(b"hello".to_vec()));
        assert_eq!(rx.read(100, true, slice, never), Ok(b" world".to_vec()));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            tx.send(b"late".to_vec()).unwrap();
            tx.finish();
        });
        assert_eq!(rx.read(100, true, slice, never), Ok(b"late".to_vec()));
        assert_eq!(rx.read(100, true, slice, never), Err(SourceEnd::Closed));
        t.join().unwrap();
    }

    #[test]
    fn a_sender_gone_early_fails_the_read_and_an_interrupt_ends_the_wait() {
        let (tx, rx) = request_body();
        let slice = Duration::from_millis(5);
        assert_eq!(rx.read(10, true, slice, || true), Err(SourceEnd::Interrupted));
        drop(tx);
        assert_eq!(rx.read(10, true, slice, || false), Err(SourceEnd::Failed));
    }

    /// The attack: a guest that never reads. The sender stops at the capacity (it is not
    /// ready), and learns when the guest is gone.
    #[test]
    fn a_guest_that_never_reads_holds_the_sender_at_the_capacity() {
        let (mut tx, rx) = request_body();
        let waker = Waker::from(Arc::new(Wakeup::default()));
        let mut cx = Context::from_waker(&waker);
        let mut sent = 0;
        while let Poll::Ready(Ok(())) = tx.poll_ready(&mut cx) {
            tx.send(vec![0; 64 << 10]).unwrap();
            sent += 64 << 10;
        }
        assert_eq!(sent, CAPACITY);
        drop(rx);
        assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Err(BodyGone)));
        assert_eq!(tx.send(vec![1]), Err(BodyGone));
    }

    #[test]
    fn a_flush_without_bytes_begins_the_body() {
        let (w, mut r) = body_pipe(None);
        let waiter = Arc::new(Wakeup::default());
        let waker = Waker::from(waiter.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(r.poll_begun(&mut cx), Poll::Pending);
        w.write(b"small").unwrap();
        assert_eq!(r.try_next(), Some(Some(Ok(b"small".to_vec()))));
        let (w, mut r) = body_pipe(None);
        assert_eq!(r.poll_begun(&mut cx), Poll::Pending);
        w.flush();
        assert_eq!(r.poll_begun(&mut cx), Poll::Ready(()));
        assert_eq!(r.try_next(), None, "begun, with nothing to read yet");
    }
}
