//! `wasi:io` (error, poll, streams), `wasi:cli` (environment, exit, standard streams,
//! terminals), `wasi:clocks` and `wasi:random`.
//!
//! Every transfer is bounded by the host, not the guest: a read returns at most
//! [`MAX_READ`] bytes whatever length is asked for (streams may return fewer), a write may
//! carry at most what the guest's memory held (it was lifted byte for byte), and
//! `write-zeroes`, `splice` and `get-random-bytes` work in bounded chunks.

use crate::ctx::{Input, Output, WasiP2Ctx};
use crate::host::*;
use crate::http_types::BodyWriteError;
use crate::table::{wrong, InputStream, Object, OutputStream, Pollable};
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

/// Reads at most `len` (and [`MAX_READ`]) bytes from input stream `rep`.
fn read(ctx: &mut WasiP2Ctx, rep: u32, len: u64) -> Result<Vec<u8>, StreamErr> {
    let want = len.min(MAX_READ) as usize;
    // Split borrows: the stdin source lives beside the table.
    let WasiP2Ctx { table, stdin, .. } = ctx;
    let stream = match table.get_mut(rep) {
        Some(Object::Input(s)) => s,
        _ => return Err(StreamErr::Fatal(wrong("input-stream"))),
    };
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
        },
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

fn is_ready(p: &Pollable, now: Instant) -> bool {
    match p {
        Pollable::Ready => true,
        Pollable::Deadline(Some(d)) => *d <= now,
        Pollable::Deadline(None) => false,
    }
}

/// A new pollable resource.
pub(crate) fn new_pollable(ctx: &mut WasiP2Ctx, ty: &Types, p: Pollable) -> Result<Option<Val>> {
    let rep = ctx.push(Object::Pollable(p))?;
    Ok(Some(own(&ty.pollable, rep)))
}

fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => {
            let now = Instant::now();
            if d > now {
                std::thread::sleep(d - now);
            }
        }
        // Never ready: only `--timeout` (or the embedder's interruption) ends this.
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
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
        match pollable(ctx, arg_rep(p, 0)?)? {
            Pollable::Ready => {}
            Pollable::Deadline(d) => sleep_until(*d),
        }
        Ok(None)
    })?;
    r.func(POLL, "poll", |ctx, _, p| {
        let Some(Val::List(items)) = p.first() else { return Err(bad_arg(0, "list")) };
        if items.is_empty() {
            return Err(trap("poll: the list of pollables is empty"));
        }
        let mut earliest: Option<Option<Instant>> = None;
        loop {
            let now = Instant::now();
            let mut ready = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Val::Resource(r) = item else { return Err(bad_arg(0, "list<pollable>")) };
                let pl = pollable(ctx, r.rep())?;
                if is_ready(pl, now) {
                    ready.push(Val::U32(i as u32));
                } else if let Pollable::Deadline(d) = pl {
                    earliest = Some(match (earliest.flatten(), d) {
                        (Some(a), Some(b)) => Some(a.min(*b)),
                        (a, b) => a.or(*b),
                    });
                }
            }
            if !ready.is_empty() {
                return Ok(Some(Val::List(ready)));
            }
            sleep_until(earliest.flatten());
        }
    })?;

    r.resource(STREAMS, "error", &t.error)?;
    r.resource(STREAMS, "pollable", &t.pollable)?;
    r.resource(STREAMS, "input-stream", &t.input)?;
    r.resource(STREAMS, "output-stream", &t.output)?;
    for name in ["read", "blocking-read"] {
        r.func(STREAMS, &format!("[method]input-stream.{name}"), |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let got = arg_u64(p, 1).map_err(StreamErr::Fatal).and_then(|len| read(ctx, rep, len));
            stream_result(ctx, ty, got.map(|b| Some(Val::Bytes(b))))
        })?;
    }
    for name in ["skip", "blocking-skip"] {
        r.func(STREAMS, &format!("[method]input-stream.{name}"), |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let got = arg_u64(p, 1).map_err(StreamErr::Fatal).and_then(|len| read(ctx, rep, len));
            stream_result(ctx, ty, got.map(|b| Some(Val::U64(b.len() as u64))))
        })?;
    }
    r.func(STREAMS, "[method]input-stream.subscribe", |ctx, ty, p| {
        input(ctx, arg_rep(p, 0)?)?;
        new_pollable(ctx, ty, Pollable::Ready)
    })?;
    r.func(STREAMS, "[method]output-stream.check-write", |ctx, ty, p| {
        output(ctx, arg_rep(p, 0)?)?;
        stream_result(ctx, ty, Ok(Some(Val::U64(WRITE_PERMIT))))
    })?;
    for name in ["write", "blocking-write-and-flush"] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let bytes = arg_bytes(p, 1)?;
            let r = write(ctx, rep, &bytes).map(|_| None);
            stream_result(ctx, ty, r)
        })?;
    }
    for name in ["flush", "blocking-flush"] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), |ctx, ty, p| {
            output(ctx, arg_rep(p, 0)?)?;
            stream_result(ctx, ty, Ok(None))
        })?;
    }
    for name in ["write-zeroes", "blocking-write-zeroes-and-flush"] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), |ctx, ty, p| {
            let rep = arg_rep(p, 0)?;
            let len = arg_u64(p, 1)?;
            if len > WRITE_PERMIT {
                return Err(trap("write-zeroes: more than check-write permitted"));
            }
            let zeroes = vec![0u8; len as usize];
            let r = write(ctx, rep, &zeroes).map(|_| None);
            stream_result(ctx, ty, r)
        })?;
    }
    for name in ["splice", "blocking-splice"] {
        r.func(STREAMS, &format!("[method]output-stream.{name}"), |ctx, ty, p| {
            let (out, src, len) = (arg_rep(p, 0)?, arg_rep(p, 1)?, arg_u64(p, 2)?);
            output(ctx, out)?;
            let r = read(ctx, src, len.min(WRITE_PERMIT))
                .and_then(|b| write(ctx, out, &b).map(|_| Some(Val::U64(b.len() as u64))));
            stream_result(ctx, ty, r)
        })?;
    }
    r.func(STREAMS, "[method]output-stream.subscribe", |ctx, ty, p| {
        output(ctx, arg_rep(p, 0)?)?;
        new_pollable(ctx, ty, Pollable::Ready)
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
