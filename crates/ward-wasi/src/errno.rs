//! WASI error numbers and the mapping from host errors to them.
//!
//! Every WASI call returns an [`Errno`]; `0` ([`Errno::Success`]) means success. Host failures
//! arrive as [`std::io::Error`]s, from the OS (with a raw OS error code) or from `cap-std` (which
//! reports a sandbox escape attempt as `PermissionDenied` without an OS code). [`Errno::from_io`]
//! translates both.

use std::io;

/// A `wasi_snapshot_preview1` error number (`errno`), with the values of the WASI ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u16)]
#[allow(missing_docs)]
pub enum Errno {
    #[error("success")]
    Success = 0,
    #[error("argument list too long")]
    TooBig = 1,
    #[error("permission denied")]
    Acces = 2,
    #[error("address in use")]
    AddrInUse = 3,
    #[error("address not available")]
    AddrNotAvail = 4,
    #[error("address family not supported")]
    AfNoSupport = 5,
    #[error("resource unavailable, try again")]
    Again = 6,
    #[error("connection already in progress")]
    Already = 7,
    #[error("bad file descriptor")]
    Badf = 8,
    #[error("bad message")]
    BadMsg = 9,
    #[error("device or resource busy")]
    Busy = 10,
    #[error("operation canceled")]
    Canceled = 11,
    #[error("no child processes")]
    Child = 12,
    #[error("connection aborted")]
    ConnAborted = 13,
    #[error("connection refused")]
    ConnRefused = 14,
    #[error("connection reset")]
    ConnReset = 15,
    #[error("resource deadlock would occur")]
    Deadlk = 16,
    #[error("destination address required")]
    DestAddrReq = 17,
    #[error("mathematics argument out of domain of function")]
    Dom = 18,
    #[error("reserved")]
    Dquot = 19,
    #[error("file exists")]
    Exist = 20,
    #[error("bad address")]
    Fault = 21,
    #[error("file too large")]
    Fbig = 22,
    #[error("host is unreachable")]
    HostUnreach = 23,
    #[error("identifier removed")]
    Idrm = 24,
    #[error("illegal byte sequence")]
    Ilseq = 25,
    #[error("operation in progress")]
    InProgress = 26,
    #[error("interrupted function")]
    Intr = 27,
    #[error("invalid argument")]
    Inval = 28,
    #[error("i/o error")]
    Io = 29,
    #[error("socket is connected")]
    IsConn = 30,
    #[error("is a directory")]
    IsDir = 31,
    #[error("too many levels of symbolic links")]
    Loop = 32,
    #[error("file descriptor value too large")]
    Mfile = 33,
    #[error("too many links")]
    Mlink = 34,
    #[error("message too large")]
    MsgSize = 35,
    #[error("reserved")]
    Multihop = 36,
    #[error("filename too long")]
    NameTooLong = 37,
    #[error("network is down")]
    NetDown = 38,
    #[error("connection aborted by network")]
    NetReset = 39,
    #[error("network unreachable")]
    NetUnreach = 40,
    #[error("too many files open in system")]
    Nfile = 41,
    #[error("no buffer space available")]
    NoBufs = 42,
    #[error("no such device")]
    NoDev = 43,
    #[error("no such file or directory")]
    NoEnt = 44,
    #[error("executable file format error")]
    NoExec = 45,
    #[error("no locks available")]
    NoLck = 46,
    #[error("reserved")]
    NoLink = 47,
    #[error("not enough space")]
    NoMem = 48,
    #[error("no message of the desired type")]
    NoMsg = 49,
    #[error("protocol not available")]
    NoProtoOpt = 50,
    #[error("no space left on device")]
    NoSpc = 51,
    #[error("function not supported")]
    NoSys = 52,
    #[error("the socket is not connected")]
    NotConn = 53,
    #[error("not a directory or a symbolic link to a directory")]
    NotDir = 54,
    #[error("directory not empty")]
    NotEmpty = 55,
    #[error("state not recoverable")]
    NotRecoverable = 56,
    #[error("not a socket")]
    NotSock = 57,
    #[error("not supported, or operation not supported on socket")]
    NotSup = 58,
    #[error("inappropriate i/o control operation")]
    NoTty = 59,
    #[error("no such device or address")]
    Nxio = 60,
    #[error("value too large to be stored in data type")]
    Overflow = 61,
    #[error("previous owner died")]
    OwnerDead = 62,
    #[error("operation not permitted")]
    Perm = 63,
    #[error("broken pipe")]
    Pipe = 64,
    #[error("protocol error")]
    Proto = 65,
    #[error("protocol not supported")]
    ProtoNoSupport = 66,
    #[error("protocol wrong type for socket")]
    Prototype = 67,
    #[error("result too large")]
    Range = 68,
    #[error("read-only file system")]
    Rofs = 69,
    #[error("invalid seek")]
    Spipe = 70,
    #[error("no such process")]
    Srch = 71,
    #[error("reserved")]
    Stale = 72,
    #[error("connection timed out")]
    TimedOut = 73,
    #[error("text file busy")]
    TxtBsy = 74,
    #[error("cross-device link")]
    Xdev = 75,
    #[error("capabilities insufficient")]
    NotCapable = 76,
}

impl Errno {
    /// The ABI value of this errno.
    pub fn raw(self) -> u16 {
        self as u16
    }

    /// The errno for a host I/O error.
    ///
    /// An error carrying an OS error code maps code for code. An error without one comes from
    /// Rust or `cap-std` and maps by kind; `PermissionDenied` without an OS code is how `cap-std`
    /// reports a path that would lead outside its directory, which WASI calls
    /// [`Errno::NotCapable`].
    pub fn from_io(e: &io::Error) -> Errno {
        if let Some(code) = e.raw_os_error() {
            return Errno::from_os(code);
        }
        use io::ErrorKind as K;
        match e.kind() {
            K::NotFound => Errno::NoEnt,
            K::PermissionDenied => Errno::NotCapable,
            K::AlreadyExists => Errno::Exist,
            K::InvalidInput => Errno::Inval,
            K::InvalidData => Errno::Ilseq,
            K::WouldBlock => Errno::Again,
            K::Interrupted => Errno::Intr,
            K::BrokenPipe => Errno::Pipe,
            K::ConnectionRefused => Errno::ConnRefused,
            K::ConnectionReset => Errno::ConnReset,
            K::ConnectionAborted => Errno::ConnAborted,
            K::NotConnected => Errno::NotConn,
            K::AddrInUse => Errno::AddrInUse,
            K::AddrNotAvailable => Errno::AddrNotAvail,
            K::TimedOut => Errno::TimedOut,
            K::Unsupported => Errno::NotSup,
            K::OutOfMemory => Errno::NoMem,
            K::UnexpectedEof => Errno::Io,
            K::NotADirectory => Errno::NotDir,
            K::IsADirectory => Errno::IsDir,
            K::DirectoryNotEmpty => Errno::NotEmpty,
            K::ReadOnlyFilesystem => Errno::Rofs,
            K::StorageFull => Errno::NoSpc,
            K::NotSeekable => Errno::Spipe,
            K::FileTooLarge => Errno::Fbig,
            K::ResourceBusy => Errno::Busy,
            K::ExecutableFileBusy => Errno::TxtBsy,
            K::Deadlock => Errno::Deadlk,
            K::CrossesDevices => Errno::Xdev,
            K::TooManyLinks => Errno::Mlink,
            K::InvalidFilename => Errno::Inval,
            K::ArgumentListTooLong => Errno::TooBig,
            K::HostUnreachable => Errno::HostUnreach,
            K::NetworkUnreachable => Errno::NetUnreach,
            K::NetworkDown => Errno::NetDown,
            _ => Errno::Io,
        }
    }

    /// The errno for a host OS error code (`errno` of the host's C library).
    pub fn from_os(code: i32) -> Errno {
        use rustix::io::Errno as E;
        let e = E::from_raw_os_error(code);
        match e {
            E::TOOBIG => Errno::TooBig,
            E::ACCESS => Errno::Acces,
            E::ADDRINUSE => Errno::AddrInUse,
            E::ADDRNOTAVAIL => Errno::AddrNotAvail,
            E::AFNOSUPPORT => Errno::AfNoSupport,
            E::AGAIN => Errno::Again,
            E::ALREADY => Errno::Already,
            E::BADF => Errno::Badf,
            E::BADMSG => Errno::BadMsg,
            E::BUSY => Errno::Busy,
            E::CANCELED => Errno::Canceled,
            E::CHILD => Errno::Child,
            E::CONNABORTED => Errno::ConnAborted,
            E::CONNREFUSED => Errno::ConnRefused,
            E::CONNRESET => Errno::ConnReset,
            E::DEADLK => Errno::Deadlk,
            E::DESTADDRREQ => Errno::DestAddrReq,
            E::DOM => Errno::Dom,
            E::DQUOT => Errno::Dquot,
            E::EXIST => Errno::Exist,
            E::FAULT => Errno::Fault,
            E::FBIG => Errno::Fbig,
            E::HOSTUNREACH => Errno::HostUnreach,
            E::IDRM => Errno::Idrm,
            E::ILSEQ => Errno::Ilseq,
            E::INPROGRESS => Errno::InProgress,
            E::INTR => Errno::Intr,
            E::INVAL => Errno::Inval,
            E::IO => Errno::Io,
            E::ISCONN => Errno::IsConn,
            E::ISDIR => Errno::IsDir,
            E::LOOP => Errno::Loop,
            E::MFILE => Errno::Mfile,
            E::MLINK => Errno::Mlink,
            E::MSGSIZE => Errno::MsgSize,
            E::MULTIHOP => Errno::Multihop,
            E::NAMETOOLONG => Errno::NameTooLong,
            E::NETDOWN => Errno::NetDown,
            E::NETRESET => Errno::NetReset,
            E::NETUNREACH => Errno::NetUnreach,
            E::NFILE => Errno::Nfile,
            E::NOBUFS => Errno::NoBufs,
            E::NODEV => Errno::NoDev,
            E::NOENT => Errno::NoEnt,
            E::NOEXEC => Errno::NoExec,
            E::NOLCK => Errno::NoLck,
            E::NOLINK => Errno::NoLink,
            E::NOMEM => Errno::NoMem,
            E::NOMSG => Errno::NoMsg,
            E::NOPROTOOPT => Errno::NoProtoOpt,
            E::NOSPC => Errno::NoSpc,
            E::NOSYS => Errno::NoSys,
            E::NOTCONN => Errno::NotConn,
            E::NOTDIR => Errno::NotDir,
            E::NOTEMPTY => Errno::NotEmpty,
            E::NOTRECOVERABLE => Errno::NotRecoverable,
            E::NOTSOCK => Errno::NotSock,
            E::NOTSUP => Errno::NotSup,
            E::NOTTY => Errno::NoTty,
            E::NXIO => Errno::Nxio,
            E::OVERFLOW => Errno::Overflow,
            E::OWNERDEAD => Errno::OwnerDead,
            E::PERM => Errno::Perm,
            E::PIPE => Errno::Pipe,
            E::PROTO => Errno::Proto,
            E::PROTONOSUPPORT => Errno::ProtoNoSupport,
            E::PROTOTYPE => Errno::Prototype,
            E::RANGE => Errno::Range,
            E::ROFS => Errno::Rofs,
            E::SPIPE => Errno::Spipe,
            E::SRCH => Errno::Srch,
            E::STALE => Errno::Stale,
            E::TIMEDOUT => Errno::TimedOut,
            E::TXTBSY => Errno::TxtBsy,
            E::XDEV => Errno::Xdev,
            _ => Errno::Io,
        }
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        Errno::from_io(&e)
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno::from_os(e.raw_os_error())
    }
}

/// The result of a WASI call's implementation: success, or the errno to return to the guest.
pub(crate) type WasiResult<T> = Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_codes_map_to_their_wasi_names() {
        let cases = [
            (rustix::io::Errno::NOENT, Errno::NoEnt),
            (rustix::io::Errno::EXIST, Errno::Exist),
            (rustix::io::Errno::NOTDIR, Errno::NotDir),
            (rustix::io::Errno::ISDIR, Errno::IsDir),
            (rustix::io::Errno::NOTEMPTY, Errno::NotEmpty),
            (rustix::io::Errno::ACCESS, Errno::Acces),
            (rustix::io::Errno::PERM, Errno::Perm),
            (rustix::io::Errno::LOOP, Errno::Loop),
            (rustix::io::Errno::BADF, Errno::Badf),
            (rustix::io::Errno::INVAL, Errno::Inval),
            (rustix::io::Errno::XDEV, Errno::Xdev),
        ];
        for (host, wasi) in cases {
            let io = io::Error::from_raw_os_error(host.raw_os_error());
            assert_eq!(Errno::from_io(&io), wasi, "{host:?}");
            assert_eq!(Errno::from(host), wasi);
        }
    }

    #[test]
    fn sandbox_escape_is_not_capable() {
        // This is how cap-std reports a path that would leave its directory.
        let e = io::Error::new(io::ErrorKind::PermissionDenied, "a path led outside");
        assert_eq!(Errno::from_io(&e), Errno::NotCapable);
    }

    #[test]
    fn abi_values_match_the_witx() {
        assert_eq!(Errno::Success.raw(), 0);
        assert_eq!(Errno::Badf.raw(), 8);
        assert_eq!(Errno::Fault.raw(), 21);
        assert_eq!(Errno::Inval.raw(), 28);
        assert_eq!(Errno::NoEnt.raw(), 44);
        assert_eq!(Errno::NotCapable.raw(), 76);
        assert_eq!(Errno::NoEnt.to_string(), "no such file or directory");
    }
}
