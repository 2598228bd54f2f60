//! Messages between the host and the sandbox's init over their stream socket: a 4-byte
//! little-endian length, then JSON; file descriptors travel with the length header as
//! SCM_RIGHTS.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::policy::Policy;

/// Largest frame accepted (commands and environments are bounded well below this).
pub const MAX_FRAME: usize = 16 << 20;
const MAX_FDS: usize = 4;

/// Host → init.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// First message: build the view. With `idmapped_workspace`, one fd: the workspace
    /// mount to attach.
    Setup(Box<Policy>),
    /// Start a command. Fds: stdin (read end) when `stdin` is set, then the output pipe's
    /// write end (stdout and stderr).
    Exec(ExecSpec),
    /// Kill a running command and everything it started.
    Kill { id: u64 },
}

/// One command to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSpec {
    pub id: u64,
    pub argv: Vec<String>,
    pub cwd: String,
    pub env: Vec<(String, String)>,
    pub stdin: bool,
    /// Killed after this many milliseconds; `None` = no limit (background jobs).
    pub timeout_ms: Option<u64>,
    /// The descriptors are a terminal: make it the command's controlling terminal.
    #[serde(default)]
    pub pty: bool,
}

/// Init → host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// The view is built; commands may be sent.
    Ready(ReadyInfo),
    /// The sandbox could not be built with its full policy; nothing will run.
    SetupFailed {
        reason: String,
    },
    Started {
        id: u64,
    },
    SpawnFailed {
        id: u64,
        reason: String,
    },
    Exited {
        id: u64,
        code: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
    },
}

/// What init enforced, for the posture report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyInfo {
    pub landlock_abi: u32,
    pub landlock_scoped: bool,
    pub seccomp: bool,
}

/// Sends one message with optional descriptors.
pub fn send<T: Serialize>(sock: &UnixStream, msg: &T, fds: &[RawFd]) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::other(format!(
            "message of {} bytes exceeds the {} byte limit",
            body.len(),
            MAX_FRAME
        )));
    }
    let header = (body.len() as u32).to_le_bytes();
    send_with_fds(sock, &header, fds)?;
    let mut w = sock;
    w.write_all(&body)
}

/// Receives one message and its descriptors; `None` at end of stream.
pub fn recv<T: DeserializeOwned>(sock: &UnixStream) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut header = [0u8; 4];
    let (n, fds) = recv_with_fds(sock, &mut header)?;
    if n == 0 {
        return Ok(None);
    }
    let mut r = sock;
    if n < 4 {
        r.read_exact(&mut header[n..])?;
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!(
            "frame of {len} bytes is too large"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    let msg = serde_json::from_slice(&body).map_err(io::Error::other)?;
    Ok(Some((msg, fds)))
}

fn cmsg_space() -> usize {
    // SAFETY: CMSG_SPACE is a pure computation.
    unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) as usize }
}

fn send_with_fds(sock: &UnixStream, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::other("too many descriptors for one message"));
    }
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let mut cbuf = vec![0u8; cmsg_space()];
    // SAFETY: msghdr is plain data; all pointers refer to live local buffers, and the
    // control buffer is sized with CMSG_SPACE for up to MAX_FDS descriptors.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            let len = std::mem::size_of_val(fds);
            msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = libc::CMSG_SPACE(len as u32) as usize;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(len as u32) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr() as *const u8, libc::CMSG_DATA(cmsg), len);
        }
        loop {
            let n = libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL);
            if n >= 0 {
                if (n as usize) < data.len() {
                    let mut w = sock;
                    w.write_all(&data[n as usize..])?;
                }
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

fn recv_with_fds(sock: &UnixStream, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let mut cbuf = vec![0u8; cmsg_space()];
    // SAFETY: as in `send_with_fds`; received descriptors are taken into OwnedFd exactly
    // once, and MSG_CMSG_CLOEXEC keeps them from leaking into children.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = cbuf.len();
        let n = loop {
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        let mut fds = Vec::new();
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let mut fd: RawFd = 0;
                    std::ptr::copy_nonoverlapping(
                        data.add(i * std::mem::size_of::<RawFd>()),
                        &mut fd as *mut RawFd as *mut u8,
                        std::mem::size_of::<RawFd>(),
                    );
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(io::Error::other("descriptors were truncated in transit"));
        }
        Ok((n, fds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_descriptors_round_trip() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = std::io::pipe().unwrap();
        let spec = ExecSpec {
            id: 7,
            argv: vec!["sh".into(), "-c".into(), "x".repeat(100_000)],
            cwd: "/w".into(),
            env: vec![("A".into(), "1".into())],
            stdin: false,
            timeout_ms: Some(5),
            pty: false,
        };
        let sender = std::thread::spawn(move || {
            send(&a, &Request::Exec(spec), &[w.as_raw_fd()]).unwrap();
            drop(w);
            a
        });
        let (msg, fds): (Request, _) = recv(&b).unwrap().unwrap();
        let a = sender.join().unwrap();
        match msg {
            Request::Exec(s) => {
                assert_eq!(s.id, 7);
                assert_eq!(s.argv[2].len(), 100_000);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fds.len(), 1);
        // The received descriptor is the pipe's write end.
        let mut f = std::fs::File::from(fds.into_iter().next().unwrap());
        f.write_all(b"hi").unwrap();
        drop(f);
        let mut got = String::new();
        let mut r = r;
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
        drop(a);
        assert!(recv::<Request>(&b).unwrap().is_none());
    }
}
