//! `wasi:io` (error, poll, streams), `wasi:cli` (environment, exit, standard streams,
//! terminals), `wasi:clocks` and `wasi:random`.
//!
//! Every transfer is bounded by the host, not the guest: a read returns at most
//! [`MAX_READ`] bytes whatever length is asked for (streams may return fewer), a write may
//! carry at most what the guest's memory held (it was lifted byte for byte), and
//! `write-zeroes`, `splice` and `get-random-bytes` work in bounded chunks.

use crate::body_pipe::SourceEnd;
use crate::ctx::{Input, Output, WasiP2Ctx};
use crate::host::*;
use crate::http_types::BodyWriteError;
use crate::sockets::{tcp, SockWait};
use crate::table::{wrong, InputStream, Object, OutputStream, Pollable};
use crate::wait::{self, Interest};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant, SystemTime};
use ward_component::{Error, Result, Val};

/// The most bytes one read returns.
pub(crate) const MAX_READ: u64 = 1 << 20;
/// What `check-write` permits at once.
pub(crate) const WRITE_PERMIT: u64 = 1 << 20;
/// The most bytes `get-random-bytes` hands out at once (the canonical ABI's list bound).
const MAX_RANDOM: u64 = (1 << 28) - 1;

const POLL: &str = "wasi:io/poll";
const ERROR: &str = "wasi:io/error";
const STREAMS: &str = "wasi:io/streams";

/// How a stream operation failed.
pub(crate) enum StreamErr {
    Closed,
    Failed(io::Error),
    Fatal(Error),
}

impl From<Error> for StreamErr {
    fn from(e: Error) -> Self {
        StreamErr::Fatal(e)
    }
}

/// The `result<T, stream-error>` for `r`.
fn stream_result(
    ctx: &mut WasiP2Ctx,
    ty: &Types,
    r: Result<Option<Val>, StreamErr>,
) -> Result<Option<Val>> {
    Ok(Some(match r {
        Ok(v) => ok(v),
        Err(StreamErr::Closed) => err(Some(Val::Variant("closed".into(), None))),
        Err(StreamErr::Failed(e)) => {
            let rep = ctx.push(Object::Error(e))?;
            err(Some(Val::Variant(
                "last-operation-failed".into(),
                Some(Box::new(own(&ty.error, rep))),
            )))
        }
        Err(StreamErr::Fatal(e)) => return Err(e),
    }))
}

fn input(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut InputStream> {
    match ctx.table.get_mut(rep) {
        Some(Object::Input(s)) => Ok(s),
        _ => Err(wrong("input-stream")),
    }
}

/// Reads at most `len` (and [`MAX_READ`]) bytes from input stream `rep`; with `blocking`, a
/// socket's stream waits for at least one byte (the other streams never wait).
fn read(ctx: &mut WasiP2Ctx, rep: u32, len: u64, blocking: bool) -> Result<Vec<u8>, StreamErr> {
    let want = len.min(MAX_READ) as usize;
    // Split borrows: the stdin source lives beside the table.
    let WasiP2Ctx { table, stdin, interrupt, .. } = ctx;
    let stream = match table.get_mut(rep) {
        Some(Object::Input(s)) => s,
        _ => return Err(StreamErr::Fatal(wrong("input-stream"))),
    };
    if let InputStream::Tcp(s) = stream {
        return tcp::read(s, len, blocking, interrupt.as_ref());
    }
    if let InputStream::Source(source) = stream {
        let interrupted = || interrupt.as_ref().is_some_and(|h| h.is_interrupted());
        return match source.read(want, blocking, wait::SLICE, interrupted) {
            Ok(bytes) => Ok(bytes),
            Err(SourceEnd::Closed) => Err(StreamErr::Closed),
            Err(SourceEnd::Failed) => {
                Err(StreamErr::Failed(io::Error::other("the request body ended early")))
            }
            Err(SourceEnd::Interrupted) => Err(StreamErr::Fatal(wait::interrupted())),
        };
    }
    if want == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; want];
    let n = match stream {
        InputStream::Stdin => match stdin {
            Input::Empty => 0,
            Input::Inherit => loop {
                match io::stdin().lock().read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r.map_err(StreamErr::Failed)?,
                }
            },
            Input::Bytes(bytes, pos) => {
                let rest = bytes.get(*pos..).unwrap_or(&[]);
                let n = rest.len().min(want);
                buf[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                n
            }
        },
        InputStream::File { file, pos } => {
            let n = file.read_at(&mut buf, *pos).map_err(StreamErr::Failed)?;
            *pos = pos.saturating_add(n as u64);
            n
        }
        InputStream::Bytes { data, pos } => {
            let rest = data.get(*pos..).unwrap_or(&[]);
            let n = rest.len().min(want);
            buf[..n].copy_from_slice(&rest[..n]);
            *pos += n;
            n
        }
        // Read above, without the buffer.
        InputStream::Tcp(_) | InputStream::Source(_) => 0,
    };
    if n == 0 {
        return Err(StreamErr::Closed);
    }
    buf.truncate(n);
    Ok(buf)
}

fn output(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut OutputStream> {
    match ctx.table.get_mut(rep) {
        Some(Object::Output(s)) => Ok(s),
        _ => Err(wrong("output-stream")),
    }
}

/// Writes all of `bytes` to output stream `rep`.
fn write(ctx: &mut WasiP2Ctx, rep: u32, bytes: &[u8]) -> Result<(), StreamErr> {
    match output(ctx, rep)? {
        OutputStream::Std(out) => write_std(out, bytes),
        OutputStream::File { file, pos } => {
            file.write_all_at(bytes, *pos).map_err(StreamErr::Failed)?;
            *pos = pos.saturating_add(bytes.len() as u64);
            Ok(())
        }
        OutputStream::Append(file) => {
            let end = file.metadata().map_err(StreamErr::Failed)?.len();
            file.write_all_at(bytes, end).map_err(StreamErr::Failed)
        }
        OutputStream::Body(body) => match body.lock().write(bytes) {
            Ok(()) => Ok(()),
            Err(BodyWriteError::Closed) => Err(StreamErr::Closed),
            Err(BodyWriteError::TooLarge(limit)) => Err(StreamErr::Failed(io::Error::other(
                format!("the body passes the guest's limit of {limit} bytes of HTTP data"),
            ))),
            Err(BodyWriteError::TimedOut) => Err(StreamErr::Failed(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of the response body before the request's deadline",
            ))),
        },
        OutputStream::Tcp(s) => tcp::write(s, bytes),
    }
}

/// `blocking-write-and-flush` of `bytes` to output stream `rep`.
fn write_and_flush(ctx: &mut WasiP2Ctx, rep: u32, bytes: &[u8]) -> Result<(), StreamErr> {
    let interrupt = ctx.interrupt.clone();
    match output(ctx, rep)? {
        OutputStream::Tcp(s) => tcp::write_all(s, bytes, interrupt.as_ref()),
        _ => {
            write(ctx, rep, bytes)?;
            flush(ctx, rep, true)
        }
    }
}

/// `flush` (or `blocking-flush`) of output stream `rep`.
fn flush(ctx: &mut WasiP2Ctx, rep: u32, blocking: bool) -> Result<(), StreamErr> {
    let interrupt = ctx.interrupt.clone();
    match output(ctx, rep)? {
        OutputStream::Tcp(s) => tcp::flush(s, blocking, interrupt.as_ref()),
        OutputStream::Body(body) => {
            body.lock().flush();
            Ok(())
        }
        _ => Ok(()),
    }
}

/// What `check-write` permits on output stream `rep` now.
fn permit(ctx: &mut WasiP2Ctx, rep: u32) -> Result<u64, StreamErr> {
    match output(ctx, rep)? {
        OutputStream::Tcp(s) => tcp::check_write(s),
        _ => Ok(WRITE_PERMIT),
    }
}

fn write_std(out: &Output, bytes: &[u8]) -> Result<(), StreamErr> {
    let r = match out {
        Output::Discard => Ok(()),
        Output::Stdout => {
            let mut s = io::stdout().lock();
            s.write_all(bytes).and_then(|_| s.flush())
        }
        Output::Stderr => {
            let mut s = io::stderr().lock();
            s.write_all(bytes).and_then(|_| s.flush())
        }
        Output::Pipe(p) => match p.write(bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(_) => Err(io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error())),
            Err(e) => Err(e),
        },
    };
    r.map_err(StreamErr::Failed)
}

fn pollable(ctx: &WasiP2Ctx, rep: u32) -> Result<&Pollable> {
    match ctx.table.get(rep) {
        Some(Object::Pollable(p)) => Ok(p),
        _ => Err(wrong("pollable")),
    }
}

/// What pollable `p` waits for now.
fn interest(p: &Pollable) -> Interest<'_> {
    match p {
        Pollable::Ready => Interest::Ready,
        Pollable::Deadline(d) => Interest::Deadline(*d),
        Pollable::Socket(w) => w.interest(),
        Pollable::Source(s) if s.is_ready() => Interest::Ready,
        Pollable::Trailers(s) if s.has_ended() => Interest::Ready,
        Pollable::Source(_) | Pollable::Trailers(_) => Interest::Later,
    }
}

fn is_ready(p: &Pollable, now: Instant) -> bool {
    match interest(p) {
        Interest::Ready => true,
        Interest::Deadline(Some(d)) => d <= now,
        Interest::Deadline(None) | Interest::Later => false,
        Interest::Fd(fd, flags) => wait::fd_ready(fd, flags),
    }
}

/// Waits until one of the pollables `reps` is ready; their indices.
fn wait_for(ctx: &WasiP2Ctx, reps: &[u32]) -> Result<Vec<usize>> {
    crate::http::flush_streamed(ctx);
    wait::wait_any(
        || reps.iter().map(|rep| pollable(ctx, *rep).map(interest)).collect(),
        ctx.interrupt.as_ref(),
    )
}

/// A new pollable resource.
pub(crate) fn new_pollable(ctx: &mut WasiP2Ctx, ty: &Types, p: Pollable) -> Result<Option<Val>> {
    let rep = ctx.push(Object::Pollable(p))?;
    Ok(Some(own(&ty.pollable, rep)))
}

/// `wasi:io/*`.
pub(crate) fn add_io<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    r.resource(ERROR, "error", &t.error)?;
    r.func(ERROR, "[method]error.to-debug-string", |ctx, _, p| {
        match ctx.table.get(arg_rep(p, 0)?) {
            Some(Object::Error(e)) => Ok(Some(Val::String(e.to_string()))),
            _ => Err(wrong("error")),
        }
    })?;

    r.resource(POLL, "pollable", &t.pollable)?;
    r.func(POLL, "[method]pollable.ready", |ctx, _, p| {
        Ok(Some(Val::Bool(is_ready(pollable(ctx, arg_rep(p, 0)?)?, Instant::now()))))
    })?;
    r.func(POLL, "[method]pollable.block", |ctx, _, p| {
        wait_for(ctx, &[arg_rep(p, 0)?])?;
        Ok(None)
    })?;
    r.func(POLL, "poll", |ctx, _, p| {
        let Some(Val::List(items)) = p.first() else { return Err(bad_arg(0, "list")) };
        if items.is_empty() {
            return Err(trap("poll: the list of pollables is empty"));
        }
        let reps = items
            .iter()
            .map(|item| match item {
                Val::Resource(r) => Ok(r.rep()),
                _ => Err(bad_arg(0, "list<pollable>")),
            })
            .collect::<Result<Vec<u32>>>()?;
        let ready = wait_for(ctx, &reps)?;
        Ok(Some(Val::List(ready.into_iter().map(|i| Val::U32(i as u32)).collect())))
    })?;

    r.resource(STREAMS, "error", &t.error)?;
    r.resource(STREAMS, "pollable", &t.pollable)?;
    r.resource(STREAMS, "input-stream", &t.input)?;
    r.resource(STREAMS, "output-stream", &t.output)?;
    for (name, blocking) in [("read", false), ("blocking-read", true)] {
        r.func(STREAMS, &format!("[method]input-stream.{name}"), move |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let got = arg_u64(p, 1)
                .map_err(StreamErr::Fatal)
                .and_then(|len| read(ctx, rep, len, blocking));
            stream_result(ctx, ty, got.map(|b| Some(Val::Bytes(b))))
        })?;
    }
    for (name, blocking) in [("skip", false), ("blocking-skip", true)] {
        r.func(STREAMS, &format!("[method]input-stream.{name}"), move |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let got = arg_u64(p, 1)
                .map_err(StreamErr::Fatal)
                .and_then(|len| read(ctx, rep, len, blocking));
            stream_result(ctx, ty, got.map(|b| Some(Val::U64(b.len() as u64))))
        })?;
    }
    r.func(STREAMS, "[method]input-stream.subscribe", |ctx, ty, p| {
        let wait = match input(ctx, arg_rep(p, 0)?)? {
            InputStream::Tcp(s) => Pollable::Socket(SockWait::TcpRead(s.clone())),
            InputStream::Source(source) => Pollable::Source(source.readiness()),
            _ => Pollable::Ready,
        };
        new_pollable(ctx, ty, wait)
    })?;
    r.func(STREAMS, "[method]output-stream.check-write", |ctx, ty, p| {
        let r = permit(ctx, arg_rep(p, 0)?).map(|n| Some(Val::U64(n)));
        stream_result(ctx, ty, r)
    })?;
    for (name, and_flush) in [("write", false), ("blocking-write-and-flush", true)] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), move |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let bytes = arg_bytes(p, 1)?;
            let r =
                if and_flush { write_and_flush(ctx, rep, &bytes) } else { write(ctx, rep, &bytes) };
            stream_result(ctx, ty, r.map(|_| None))
        })?;
    }
    for (name, blocking) in [("flush", false), ("blocking-flush", true)] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), move |ctx, ty, p| {
            let r = flush(ctx, arg_rep(p, 0)?, blocking).map(|_| None);
            stream_result(ctx, ty, r)
        })?;
    }
    for (name, and_flush) in [("write-zeroes", false), ("blocking-write-zeroes-and-flush", true)] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), move |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let len = arg_u64(p, 1)?;
            if len > WRITE_PERMIT {
                return Err(trap("write-zeroes: more than check-write permitted"));
            }
            let zeroes = vec![0u8; len as usize];
            let r = if and_flush {
                write_and_flush(ctx, rep, &zeroes)
            } else {
                write(ctx, rep, &zeroes)
            };
            stream_result(ctx, ty, r.map(|_| None))
        })?;
    }
    for (name, blocking) in [("splice", false), ("blocking-splice", true)] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), move |ctx, ty, p| {
            let (out, src, len) = (arg_rep(p, 0)?, arg_rep(p, 1)?, arg_u64(p, 2)?);
            // A blocking splice first waits until the output has room (a socket's pending
            // bytes are sent).
            let ready = if blocking { flush(ctx, out, true) } else { Ok(()) };
            let r = ready.and_then(|()| permit(ctx, out)).and_then(|room| {
                let b = read(ctx, src, len.min(room), blocking && room > 0)?;
                write(ctx, out, &b).map(|_| Some(Val::U64(b.len() as u64)))
            });
            stream_result(ctx, ty, r)
        })?;
    }
    r.func(STREAMS, "[method]output-stream.subscribe", |ctx, ty, p| {
        let wait = match output(ctx, arg_rep(p, 0)?)? {
            OutputStream::Tcp(s) => Pollable::Socket(SockWait::TcpWrite(s.clone())),
            _ => Pollable::Ready,
        };
        new_pollable(ctx, ty, wait)
    })?;
    Ok(())
}

/// Whether host descriptor 0, 1 or 2 is a terminal.
fn is_tty(fd: i32) -> bool {
    use std::os::fd::AsFd;
    match fd {
        0 => rustix::termios::isatty(io::stdin().as_fd()),
        1 => rustix::termios::isatty(io::stdout().as_fd()),
        _ => rustix::termios::isatty(io::stderr().as_fd()),
    }
}

/// `wasi:cli/*`.
pub(crate) fn add_cli<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    let env = "wasi:cli/environment";
    r.func(env, "get-environment", |ctx, _, _| {
        let vars = ctx
            .env
            .iter()
            .map(|(k, v)| Val::Tuple(vec![Val::String(k.clone()), Val::String(v.clone())]));
        Ok(Some(Val::List(vars.collect())))
    })?;
    r.func(env, "get-arguments", |ctx, _, _| {
        Ok(Some(Val::List(ctx.args.iter().map(|a| Val::String(a.clone())).collect())))
    })?;
    r.func(env, "initial-cwd", |_, _, _| Ok(Some(some(None))))?;

    let exit = "wasi:cli/exit";
    r.func(exit, "exit", |_, _, p| {
        let code = match p.first() {
            Some(Val::Result(Ok(_))) => 0,
            Some(Val::Result(Err(_))) => 1,
            _ => return Err(bad_arg(0, "result")),
        };
        Err(Error::Wasm(ward::Error::Exit(code)))
    })?;
    r.func(exit, "exit-with-code", |_, _, p| {
        Err(Error::Wasm(ward::Error::Exit(arg_u8(p, 0)? as i32)))
    })?;

    for (iface, getter, which) in [
        ("wasi:cli/stdin", "get-stdin", 0),
        ("wasi:cli/stdout", "get-stdout", 1),
        ("wasi:cli/stderr", "get-stderr", 2),
    ] {
        let ty = if which == 0 { &t.input } else { &t.output };
        let name = if which == 0 { "input-stream" } else { "output-stream" };
        r.resource(iface, name, ty)?;
        r.func(iface, getter, move |ctx, ty, _| {
            let (o, res) = match which {
                0 => (Object::Input(InputStream::Stdin), &ty.input),
                1 => (Object::Output(OutputStream::Std(ctx.stdout.clone())), &ty.output),
                _ => (Object::Output(OutputStream::Std(ctx.stderr.clone())), &ty.output),
            };
            let rep = ctx.push(o)?;
            Ok(Some(own(res, rep)))
        })?;
    }
    r.resource("wasi:cli/terminal-input", "terminal-input", &t.terminal_input)?;
    r.resource("wasi:cli/terminal-output", "terminal-output", &t.terminal_output)?;
    for (iface, getter, which) in [
        ("wasi:cli/terminal-stdin", "get-terminal-stdin", 0),
        ("wasi:cli/terminal-stdout", "get-terminal-stdout", 1),
        ("wasi:cli/terminal-stderr", "get-terminal-stderr", 2),
    ] {
        let (name, ty) = if which == 0 {
            ("terminal-input", &t.terminal_input)
        } else {
            ("terminal-output", &t.terminal_output)
        };
        r.resource(iface, name, ty)?;
        r.func(iface, getter, move |ctx, ty, _| {
            // A terminal only when the guest was given the host's stream and it is one.
            let inherited = match which {
                0 => matches!(ctx.stdin, Input::Inherit),
                1 => matches!(ctx.stdout, Output::Stdout),
                _ => matches!(ctx.stderr, Output::Stderr),
            };
            if !inherited || !is_tty(which) {
                return Ok(Some(some(None)));
            }
            let rep = ctx.push(Object::Terminal)?;
            let res = if which == 0 { &ty.terminal_input } else { &ty.terminal_output };
            Ok(Some(some(Some(own(res, rep)))))
        })?;
    }
    Ok(())
}

/// `wasi:clocks/*` and `wasi:random/*`.
pub(crate) fn add_clocks_random<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    let wall = "wasi:clocks/wall-clock";
    r.func(wall, "now", |_, _, _| {
        let d = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Ok(Some(datetime(d.as_secs(), d.subsec_nanos())))
    })?;
    r.func(wall, "resolution", |_, _, _| Ok(Some(datetime(0, 1))))?;

    let mono = "wasi:clocks/monotonic-clock";
    r.resource(mono, "pollable", &t.pollable)?;
    r.func(mono, "now", |ctx, _, _| {
        Ok(Some(Val::U64(ctx.started.elapsed().as_nanos().min(u64::MAX as u128) as u64)))
    })?;
    r.func(mono, "resolution", |_, _, _| Ok(Some(Val::U64(1))))?;
    r.func(mono, "subscribe-instant", |ctx, ty, p| {
        let at = ctx.started.checked_add(Duration::from_nanos(arg_u64(p, 0)?));
        new_pollable(ctx, ty, Pollable::Deadline(at))
    })?;
    r.func(mono, "subscribe-duration", |ctx, ty, p| {
        let at = Instant::now().checked_add(Duration::from_nanos(arg_u64(p, 0)?));
        new_pollable(ctx, ty, Pollable::Deadline(at))
    })?;

    /// Random bytes, or a trap if the host's generator fails (never weaker bytes).
    fn random_fill(ctx: &mut WasiP2Ctx, buf: &mut [u8]) -> Result<(), Error> {
        ctx.random.fill(buf).map_err(|e| trap(format!("the host's random generator failed: {e}")))
    }
    fn random_u64(ctx: &mut WasiP2Ctx) -> Result<u64, Error> {
        let mut b = [0u8; 8];
        random_fill(ctx, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    for (iface, bytes, word) in [
        ("wasi:random/random", "get-random-bytes", "get-random-u64"),
        ("wasi:random/insecure", "get-insecure-random-bytes", "get-insecure-random-u64"),
    ] {
        r.func(iface, bytes, |ctx, _, p| {
            let len = arg_u64(p, 0)?;
            if len > MAX_RANDOM {
                return Err(trap(format!(
                    "get-random-bytes: {len} bytes asked for, at most {MAX_RANDOM} at once"
                )));
            }
            let mut buf = vec![0u8; len as usize];
            random_fill(ctx, &mut buf)?;
            Ok(Some(Val::Bytes(buf)))
        })?;
        r.func(iface, word, |ctx, _, _| Ok(Some(Val::U64(random_u64(ctx)?))))?;
    }
    r.func("wasi:random/insecure-seed", "insecure-seed", |ctx, _, _| {
        Ok(Some(Val::Tuple(vec![Val::U64(random_u64(ctx)?), Val::U64(random_u64(ctx)?)])))
    })?;
    Ok(())
}
