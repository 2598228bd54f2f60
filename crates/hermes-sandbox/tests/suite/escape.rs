//! The escape suite: attacks run inside the native sandbox, each paired with what the
//! host must look like afterwards.
//!
//! A case is data: host-side preparation, the attack (a shell command run through
//! `Executor::exec`), what its result must look like, and what must hold on the host
//! afterwards. A case passes only if the attack fails *and* the host check holds. Bait
//! (fake SSH keys, a fake `.env`, listing tokens) is planted where it *would* be visible if
//! the policy were wrong: next to the workspace, in the test's real `$HOME`, in host
//! `/run`, `/dev/shm`, `/var/tmp`, `/home`, …; listeners wait on host TCP, UDP, unix and
//! abstract sockets; a host process runs as the sandbox's uid with a canary in its
//! environment.
//!
//! Conventions of the attack commands: every attempt prints `ATTACK-RESULT: <what>:
//! SUCCEEDED …` or `… refused …`; the summary line is `ATTACK-SUMMARY`, and the command
//! exits 3 when everything was refused (0 when something got through, anything else
//! when the script itself broke).
//!
//! Groups run one after another (a lock), each as one test that reports all its failures
//! together. The raw system calls use x86_64 numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hermes_sandbox::native::{NativeExecutor, Policy};
use hermes_sandbox::{ExecOutput, Executor};
use tokio_util::sync::CancellationToken;

use super::support::{executor, executor_with, request};

/// Groups run one at a time: bombs and floods must not starve the other groups' cases.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ENV_CANARY_NAME: &str = "HERMES_ESCAPE_CANARY";

// ---------------------------------------------------------------------------------------
// Attack scaffolding (shell and Python).

/// Shell helpers: `a <description> <shell snippet>` runs one attempt; `fin` summarises.
const SH: &str = r#"R=refused
a() {
  o=$(eval "$2" 2>&1 </dev/null); s=$?
  o=$(printf '%s' "$o" | head -c 600 | tr '\n' ' ')
  if [ "$s" -eq 0 ]; then R=ESCAPED; echo "ATTACK-RESULT: $1: SUCCEEDED (status 0): $o"
  else echo "ATTACK-RESULT: $1: refused (status $s): $o"; fi
}
fin() { echo "ATTACK-SUMMARY: $R"; [ "$R" = refused ] && exit 3; exit 0; }
"#;

/// Python helpers: `a(description, fn, want=errno)` runs one attempt (`want`: the only
/// error that counts as refused); `sc(nr, *args)` is a raw system call; `fin()` summarises.
const PY: &str = r#"import ctypes, errno, os, socket, sys, time
R = []
BROKEN = []
KEEP = []
def a(desc, fn, want=None):
    try:
        r = fn()
    except (OSError, MemoryError) as e:
        en = getattr(e, "errno", None)
        if want is not None and en != want:
            R.append(desc)
            print(f"ATTACK-RESULT: {desc}: SUCCEEDED (not refused as required: errno {en} {errno.errorcode.get(en or 0, '?')}, want {errno.errorcode.get(want)})", flush=True)
        else:
            print(f"ATTACK-RESULT: {desc}: refused: {e!r}"[:700], flush=True)
        return
    except Exception as e:
        BROKEN.append(desc)
        print(f"ATTACK-RESULT: {desc}: BROKEN attempt: {e!r}"[:700], flush=True)
        return
    R.append(desc)
    print(f"ATTACK-RESULT: {desc}: SUCCEEDED: {r!r}"[:700], flush=True)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in args])
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
def buf(b):
    x = ctypes.create_string_buffer(b)
    KEEP.append(x)
    return ctypes.addressof(x)
def fin():
    if BROKEN:
        print("ATTACK-SUMMARY: broken: " + ", ".join(BROKEN), flush=True)
        sys.exit(4)
    print("ATTACK-SUMMARY: " + ("ESCAPED: " + ", ".join(R) if R else "refused"), flush=True)
    sys.exit(0 if R else 3)
"#;

fn sh(body: &str) -> String {
    format!("{SH}{body}\nfin\n")
}

fn py(body: &str) -> String {
    format!("python3 - <<'PYEOF'\n{PY}{body}\nfin()\nPYEOF\n")
}

// ---------------------------------------------------------------------------------------
// Cases as data.

/// How the command's result must look. Strings may use the fixture's placeholders.
enum Expect {
    /// Every attempt was refused: exit 3 from `fin`.
    Refused,
    /// The command did not get away with it: non-zero status (exit or signal).
    Stopped,
    ExitZero,
    Contains(&'static str),
    NotContains(&'static str),
    TimedOut,
    NotTimedOut,
    Truncated,
    OutputAtMost(usize),
    Custom(
        &'static str,
        fn(&ExecOutput, &Fixture) -> Result<(), String>,
    ),
}

/// What must hold on the host after the command (on top of the checks every case gets).
enum HostCheck {
    /// Same bytes (and size, mtime) as just before the command.
    Unchanged(&'static str),
    Absent(&'static str),
    FileEquals(&'static str, &'static str),
    /// Owned on disk like the workspace itself.
    OwnedLikeWorkspace(&'static str),
    SizeAtMost(&'static str, u64),
    /// Git, run on the host, still sees the original repository, config and hooks.
    GitIntact,
    HostResponsive,
    /// No file whose name starts with the prefix appears in the workspace within `wait`.
    NoWorkspaceFileAfter(&'static str, Duration),
}

type Setup = fn(&Fixture, &str) -> std::io::Result<()>;

struct Case {
    name: &'static str,
    /// A host tool without which the case is skipped (with a printed reason).
    needs_host: Option<&'static str>,
    /// Skip if this earlier case of the group failed (it guards this one's safety).
    skip_if_failed: Option<&'static str>,
    setup: Option<Setup>,
    /// Run first, in the same scope (must exit 0).
    prelude: Option<String>,
    command: String,
    timeout: Duration,
    max_output: usize,
    expect: Vec<Expect>,
    host: Vec<HostCheck>,
}

impl Case {
    fn new(name: &'static str, command: String) -> Case {
        Case {
            name,
            needs_host: None,
            skip_if_failed: None,
            setup: None,
            prelude: None,
            command,
            timeout: Duration::from_secs(5),
            max_output: 256 * 1024,
            expect: Vec::new(),
            host: Vec::new(),
        }
    }
    fn timeout(mut self, secs: u64) -> Case {
        self.timeout = Duration::from_secs(secs);
        self
    }
    fn expect(mut self, e: Expect) -> Case {
        self.expect.push(e);
        self
    }
    fn host(mut self, h: HostCheck) -> Case {
        self.host.push(h);
        self
    }
    fn needs(mut self, tool: &'static str) -> Case {
        self.needs_host = Some(tool);
        self
    }
    fn setup(mut self, f: Setup) -> Case {
        self.setup = Some(f);
        self
    }
    fn prelude(mut self, p: &str) -> Case {
        self.prelude = Some(p.to_string());
        self
    }
    fn max_output(mut self, n: usize) -> Case {
        self.max_output = n;
        self
    }
    fn skip_if_failed(mut self, name: &'static str) -> Case {
        self.skip_if_failed = Some(name);
        self
    }
}

// ---------------------------------------------------------------------------------------
// The fixture: bait, listeners, a host process, the workspace.

fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut b = [0u8; 4];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .unwrap();
        format!("{}x{:08x}", std::process::id(), u32::from_le_bytes(b))
    })
}

fn env_canary() -> String {
    format!("ENVCANARY-{}", run_id())
}

/// Puts the canary in this test process's environment, once, before any sandbox starts.
fn plant_env_canary() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once at the start of the escape tests; std serialises its own
        // environment access, and no C code in this process reads the environment
        // concurrently.
        unsafe { std::env::set_var(ENV_CANARY_NAME, env_canary()) };
    });
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

fn host_has(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

struct Bait {
    path: PathBuf,
    content: Vec<u8>,
}

struct Fixture {
    /// The group's name, for messages.
    group: &'static str,
    /// Run + group: unique to this group in this run.
    tag: String,
    _ws_dir: tempfile::TempDir,
    ws: PathBuf,
    _outside_dir: tempfile::TempDir,
    outside: PathBuf,
    home_bait: PathBuf,
    /// Bait directories outside tempdirs, removed on drop.
    planted_dirs: Vec<PathBuf>,
    baits: Vec<Bait>,
    /// Directories whose recursive listing must not change.
    listings: Vec<(PathBuf, BTreeSet<String>)>,
    secret_prefix: String,
    list_token: String,
    shadow_line: Option<String>,
    host_sleep: Child,
    host_sleep_name: String,
    tcp: Vec<(&'static str, TcpListener)>,
    udp: UdpSocket,
    unix: Vec<(&'static str, UnixListener)>,
    helper_stat: Option<(u64, i64)>,
    git_snapshot: Option<String>,
    placeholders: Vec<(String, String)>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.host_sleep.kill();
        let _ = self.host_sleep.wait();
        for d in &self.planted_dirs {
            let _ = std::fs::remove_dir_all(d);
        }
        let _ = std::fs::remove_dir_all(&self.home_bait);
    }
}

fn walk(dir: &Path) -> BTreeSet<String> {
    fn go(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
            out.insert(rel);
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                go(base, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    go(dir, dir, &mut out);
    out
}

fn plant(path: &Path, content: &[u8], baits: &mut Vec<Bait>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    baits.push(Bait {
        path: path.to_path_buf(),
        content: content.to_vec(),
    });
}

fn git_view(ws: &Path) -> Option<String> {
    if !host_has("git") {
        return None;
    }
    let mut text = String::new();
    for args in [
        &[
            "rev-parse",
            "--git-dir",
            "--git-common-dir",
            "--git-path",
            "hooks",
        ][..],
        &["config", "--local", "--list"][..],
        &["config", "--get-all", "core.fsmonitor"][..],
        &["config", "--get-all", "core.hooksPath"][..],
    ] {
        let out = Command::new("git")
            .arg("-C")
            .arg(ws)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        text.push_str(&format!(
            "$ git {}\n{}{}[status {}]\n",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
        ));
    }
    let hooks = ws.join(".git/hooks");
    for name in walk(&hooks) {
        let content = std::fs::read(hooks.join(&name)).unwrap_or_default();
        text.push_str(&format!("hook {name}: {} bytes\n", content.len()));
    }
    Some(text)
}

fn helper_stat() -> Option<(u64, i64)> {
    let m = std::fs::metadata(env!("CARGO_BIN_EXE_hermes-sandbox-helper")).ok()?;
    Some((m.len(), m.mtime_nsec() + m.mtime() * 1_000_000_000))
}

impl Fixture {
    fn new(group: &'static str, short: &str) -> Fixture {
        plant_env_canary();
        let run = run_id();
        let tag = format!("{run}{short}");
        let secret_prefix = format!("SECRET-{run}");
        let list_token = format!("lst-{}", {
            let mut b = [0u8; 6];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut b))
                .unwrap();
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        });
        let secret = |label: &str| format!("{secret_prefix}{group}-{label}");
        let mut baits = Vec::new();
        let mut planted_dirs = Vec::new();

        // The workspace: a real git repository, so that its hooks and config exist when
        // the policy is made.
        let ws_dir = tempfile::Builder::new().prefix("hx-ws-").tempdir().unwrap();
        let ws = ws_dir.path().canonicalize().unwrap();
        let git_ok = host_has("git")
            && Command::new("git")
                .args(["init", "-q"])
                .arg(&ws)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .status()
                .is_ok_and(|s| s.success());
        if !git_ok {
            std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
            std::fs::create_dir_all(ws.join(".git/info")).unwrap();
            std::fs::write(
                ws.join(".git/config"),
                "[core]\n\trepositoryformatversion = 0\n",
            )
            .unwrap();
        }
        std::fs::write(
            ws.join(".git/hooks/pre-commit.sample"),
            "#!/bin/sh\nexit 0\n",
        )
        .unwrap();

        // Next to the workspace, under host /tmp.
        let outside_dir = tempfile::Builder::new()
            .prefix("hx-out-")
            .tempdir()
            .unwrap();
        let outside = outside_dir.path().canonicalize().unwrap();
        plant(
            &outside.join("bait.txt"),
            secret("outside").as_bytes(),
            &mut baits,
        );
        plant(
            &outside.join(&list_token),
            secret("outside-list").as_bytes(),
            &mut baits,
        );

        // The real $HOME of the test process: a fake ~/.ssh key and a fake HERMES_HOME.
        let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
        let home_bait = home.join(format!(".hermes-escape-{tag}"));
        plant(
            &home_bait.join(".ssh/id_ed25519"),
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
                secret("sshkey")
            )
            .as_bytes(),
            &mut baits,
        );
        plant(
            &home_bait.join(".hermes/.env"),
            format!("OPENROUTER_API_KEY={}\n", secret("dotenv")).as_bytes(),
            &mut baits,
        );
        plant(
            &home_bait.join(&list_token),
            secret("home-list").as_bytes(),
            &mut baits,
        );

        // System places that are hidden (private tmpfs or absent) in the sandbox.
        let run_bait = PathBuf::from(format!("/run/hermes-escape-{tag}"));
        for parent in [
            "/run", "/dev/shm", "/var/tmp", "/home", "/opt", "/srv", "/mnt",
        ] {
            let dir = Path::new(parent).join(format!("hermes-escape-{tag}"));
            if std::fs::create_dir(&dir).is_err() {
                println!("note: cannot plant bait in {parent} (not writable for this user)");
                continue;
            }
            planted_dirs.push(dir.clone());
            plant(&dir.join("bait"), secret(parent).as_bytes(), &mut baits);
            plant(
                &dir.join(&list_token),
                secret(parent).as_bytes(),
                &mut baits,
            );
        }

        // Listeners the sandbox must not reach.
        let mut tcp = vec![("tcp 127.0.0.1", TcpListener::bind("127.0.0.1:0").unwrap())];
        if let Ok(l) = TcpListener::bind("[::1]:0") {
            tcp.push(("tcp ::1", l));
        }
        tcp.push(("tcp 0.0.0.0", TcpListener::bind("0.0.0.0:0").unwrap()));
        for (_, l) in &tcp {
            l.set_nonblocking(true).unwrap();
        }
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let host_ip = UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
            .or_else(|_| {
                UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("8.8.8.8:53").map(|()| s))
            })
            .and_then(|s| s.local_addr())
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| "127.0.0.1".to_string());
        let ws_sock = ws.join(format!("agent-{run}.sock"));
        let tmp_sock = outside.join("agent.sock");
        let run_sock = run_bait.join("agent.sock");
        let mut unix = vec![
            (
                "unix socket in the workspace",
                UnixListener::bind(&ws_sock).unwrap(),
            ),
            (
                "unix socket in host /tmp",
                UnixListener::bind(&tmp_sock).unwrap(),
            ),
        ];
        if run_bait.is_dir() {
            unix.push((
                "unix socket in host /run",
                UnixListener::bind(&run_sock).unwrap(),
            ));
        }
        let abstract_name = format!("hermes-escape-{tag}");
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
                .unwrap();
            unix.push((
                "abstract unix socket",
                UnixListener::bind_addr(&addr).unwrap(),
            ));
        }
        for (_, l) in &unix {
            l.set_nonblocking(true).unwrap();
        }

        // A host process running as the sandbox's uid, with the canary in its environment.
        let host_sleep_name = format!("hsleep-{tag}");
        let mut cmd = Command::new("sleep");
        cmd.arg("600")
            .arg0(&host_sleep_name)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env(ENV_CANARY_NAME, env_canary())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if euid() == 0 {
            cmd.uid(super::support::SANDBOX_ID)
                .gid(super::support::SANDBOX_ID);
        }
        let host_sleep = cmd.spawn().unwrap();

        let shadow_line = std::fs::read_to_string("/etc/shadow")
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
            .filter(|l| !l.is_empty());

        let mut listings = vec![
            (outside.clone(), BTreeSet::new()),
            (home_bait.clone(), BTreeSet::new()),
        ];
        for d in &planted_dirs {
            listings.push((d.clone(), BTreeSet::new()));
        }
        for (d, l) in &mut listings {
            *l = walk(d);
        }

        let port = |i: usize| {
            tcp.get(i)
                .map(|(_, l)| l.local_addr().unwrap().port().to_string())
                .unwrap_or_else(|| "9".into())
        };
        let tcp6 = tcp
            .iter()
            .find(|(n, _)| *n == "tcp ::1")
            .map(|(_, l)| l.local_addr().unwrap().port().to_string())
            .unwrap_or_else(|| "9".into());
        let tcp_any = tcp
            .iter()
            .find(|(n, _)| *n == "tcp 0.0.0.0")
            .map(|(_, l)| l.local_addr().unwrap().port().to_string())
            .unwrap_or_else(|| "9".into());
        let placeholders = vec![
            ("@WS@", ws.display().to_string()),
            ("@OUT@", outside.display().to_string()),
            (
                "@OUTNAME@",
                outside.file_name().unwrap().to_string_lossy().into_owned(),
            ),
            ("@HOSTHOME@", home.display().to_string()),
            ("@HOMEBAIT@", home_bait.display().to_string()),
            ("@RUNBAIT@", run_bait.display().to_string()),
            ("@HOSTPID@", host_sleep.id().to_string()),
            ("@TCP4@", port(0)),
            ("@TCP6@", tcp6),
            ("@TCPANY@", tcp_any),
            ("@HOSTIP@", host_ip),
            ("@UDP@", udp.local_addr().unwrap().port().to_string()),
            ("@UNIX_WS@", ws_sock.display().to_string()),
            ("@UNIX_TMP@", tmp_sock.display().to_string()),
            ("@UNIX_RUN@", run_sock.display().to_string()),
            ("@ABSTRACT@", abstract_name),
            ("@RUN@", run.to_string()),
            ("@TAG@", tag.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

        let git_snapshot = git_view(&ws);
        let fx = Fixture {
            group,
            tag,
            _ws_dir: ws_dir,
            ws,
            _outside_dir: outside_dir,
            outside,
            home_bait,
            planted_dirs,
            baits,
            listings,
            secret_prefix,
            list_token,
            shadow_line,
            host_sleep,
            host_sleep_name,
            tcp,
            udp,
            unix,
            helper_stat: helper_stat(),
            git_snapshot,
            placeholders,
        };
        fx.check_detectors();
        fx
    }

    /// Connections and datagrams the host listeners received since the last call.
    fn listener_events(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, l) in &self.tcp {
            match l.accept() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Ok((_, peer)) => problems.push(format!(
                    "host listener {name} accepted a connection from {peer}"
                )),
                Err(e) => problems.push(format!("host listener {name}: {e}")),
            }
        }
        for (name, l) in &self.unix {
            match l.accept() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Ok(_) => problems.push(format!("host {name} accepted a connection")),
                Err(e) => problems.push(format!("host {name}: {e}")),
            }
        }
        let mut b = [0u8; 512];
        match self.udp.recv_from(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok((n, peer)) => problems.push(format!(
                "host UDP socket received {:?} from {peer}",
                String::from_utf8_lossy(&b[..n])
            )),
            Err(e) => problems.push(format!("host UDP socket: {e}")),
        }
        problems
    }

    /// Controls: the detectors see what they exist to see (a process carrying a marker, a
    /// connection to each listener), so that a quiet check means something.
    fn check_detectors(&self) {
        let me = self.host_sleep.id() as i32;
        assert!(
            marker_processes(&self.host_sleep_name)
                .iter()
                .any(|(p, _)| *p == me),
            "the /proc scan does not find a process by its marker"
        );
        for (_, l) in &self.tcp {
            let mut addr = l.local_addr().unwrap();
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            std::net::TcpStream::connect(addr).unwrap();
        }
        for (name, l) in &self.unix {
            let addr = l.local_addr().unwrap();
            if *name == "abstract unix socket" {
                use std::os::linux::net::SocketAddrExt;
                let name = addr.as_abstract_name().unwrap().to_vec();
                let a = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
                std::os::unix::net::UnixStream::connect_addr(&a).unwrap();
            } else {
                std::os::unix::net::UnixStream::connect(addr.as_pathname().unwrap()).unwrap();
            }
        }
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"control", self.udp.local_addr().unwrap())
            .unwrap();
        let want = self.tcp.len() + self.unix.len() + 1;
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen.extend(self.listener_events());
            if seen.len() >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            seen.len(),
            want,
            "the listener check does not see host connections: {seen:?}"
        );
        assert!(self.listener_events().is_empty());
    }

    fn subst(&self, s: &str, cm: &str) -> String {
        let mut s = s.replace("@CM@", cm);
        for (k, v) in &self.placeholders {
            s = s.replace(k.as_str(), v);
        }
        s
    }

    fn path(&self, s: &str, cm: &str) -> PathBuf {
        let p = PathBuf::from(self.subst(s, cm));
        if p.is_absolute() { p } else { self.ws.join(p) }
    }

    /// Checks every case gets: bait intact, listeners quiet, the host process alive and
    /// untraced, nothing named after the case in host scratch directories.
    fn universal_host_checks(&self, cm: &str, problems: &mut Vec<String>) {
        for b in &self.baits {
            match std::fs::read(&b.path) {
                Ok(c) if c == b.content => {}
                Ok(c) => problems.push(format!(
                    "bait {} changed: now {:?}",
                    b.path.display(),
                    String::from_utf8_lossy(&c)
                )),
                Err(e) => problems.push(format!("bait {} unreadable: {e}", b.path.display())),
            }
        }
        for (dir, before) in &self.listings {
            let now = walk(dir);
            if &now != before {
                problems.push(format!(
                    "bait directory {} changed: new {:?}, gone {:?}",
                    dir.display(),
                    now.difference(before).collect::<Vec<_>>(),
                    before.difference(&now).collect::<Vec<_>>()
                ));
            }
        }
        problems.extend(self.listener_events());
        if let Err(e) = host_sleep_ok(self.host_sleep.id()) {
            problems.push(e);
        }
        let home = self.home_bait.parent().map(Path::to_path_buf);
        let mut dirs: Vec<PathBuf> = [
            "/tmp", "/dev/shm", "/run", "/var/tmp", "/home", "/usr/bin", "/etc",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        dirs.extend(home);
        dirs.extend(self.planted_dirs.iter().cloned());
        dirs.push(self.outside.clone());
        for d in dirs {
            if let Ok(rd) = std::fs::read_dir(&d) {
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().contains(cm) {
                        problems.push(format!(
                            "host path {} appeared (named after this case)",
                            e.path().display()
                        ));
                    }
                }
            }
        }
    }
}

/// The host process must be alive, not stopped and not traced.
fn host_sleep_ok(pid: u32) -> Result<(), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("host process {pid} is gone: {e}"))?;
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .map(|l| l[k.len()..].trim().to_string())
            .unwrap_or_default()
    };
    let state = field("State:");
    if !state.starts_with('S') && !state.starts_with('R') {
        return Err(format!("host process {pid} is in state {state:?}"));
    }
    let tracer = field("TracerPid:");
    if tracer != "0" {
        return Err(format!("host process {pid} is traced by {tracer}"));
    }
    Ok(())
}

/// Host processes whose command line contains `marker`.
fn marker_processes(marker: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline: String = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(marker) {
            out.push((pid, cmdline));
        }
    }
    out
}

fn snapshot(p: &Path) -> Option<(Vec<u8>, i64)> {
    let m = std::fs::metadata(p).ok()?;
    let content = std::fs::read(p).ok()?;
    Some((content, m.mtime_nsec() + m.mtime() * 1_000_000_000))
}

fn excerpt(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() <= max {
        return s.into_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [{} bytes in all]", &s[..cut], b.len())
}

fn describe(out: &ExecOutput) -> String {
    format!(
        "exit={:?} signal={:?} timed_out={} truncated={} {}ms {} bytes",
        out.exit_code,
        out.signal,
        out.timed_out,
        out.output_truncated,
        out.duration.as_millis(),
        out.output.len()
    )
}

async fn exec(
    ex: &NativeExecutor,
    fx: &Fixture,
    command: &str,
    scope: &str,
    timeout: Duration,
    max_output: usize,
) -> Result<ExecOutput, String> {
    let mut req = request(&fx.ws, command);
    req.timeout = timeout;
    req.max_output_bytes = max_output;
    req.scope = Some(scope.to_string());
    let cancel = CancellationToken::new();
    match tokio::time::timeout(timeout + Duration::from_secs(20), ex.exec(req, &cancel)).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(format!("exec failed: {e}")),
        Err(_) => Err(format!(
            "exec did not return within {}s of the command's own timeout",
            20
        )),
    }
}

fn check_expect(e: &Expect, out: &ExecOutput, fx: &Fixture, cm: &str) -> Result<(), String> {
    let text = String::from_utf8_lossy(&out.output);
    match e {
        Expect::Refused => {
            if out.exit_code != Some(3) {
                return Err(format!(
                    "expected every attempt refused (exit 3), got {}",
                    describe(out)
                ));
            }
        }
        Expect::Stopped => {
            if out.status_code() == 0 {
                return Err("expected the attack to be stopped (non-zero status), got 0".into());
            }
        }
        Expect::ExitZero => {
            if out.exit_code != Some(0) {
                return Err(format!("expected exit 0, got {}", describe(out)));
            }
        }
        Expect::Contains(s) => {
            let s = fx.subst(s, cm);
            if !text.contains(&s) {
                return Err(format!("output lacks {s:?}"));
            }
        }
        Expect::NotContains(s) => {
            let s = fx.subst(s, cm);
            if text.contains(&s) {
                return Err(format!("output contains {s:?}"));
            }
        }
        Expect::TimedOut => {
            if !out.timed_out {
                return Err(format!("expected a timeout, got {}", describe(out)));
            }
        }
        Expect::NotTimedOut => {
            if out.timed_out {
                return Err("the command ran into its timeout".into());
            }
        }
        Expect::Truncated => {
            if !out.output_truncated {
                return Err(format!("expected truncated output, got {}", describe(out)));
            }
        }
        Expect::OutputAtMost(n) => {
            if out.output.len() > *n {
                return Err(format!("{} bytes of output, cap {n}", out.output.len()));
            }
        }
        Expect::Custom(what, f) => f(out, fx).map_err(|e| format!("{what}: {e}"))?,
    }
    Ok(())
}

async fn check_host(
    h: &HostCheck,
    fx: &Fixture,
    cm: &str,
    before: &BTreeMap<PathBuf, Option<(Vec<u8>, i64)>>,
) -> Result<(), String> {
    match h {
        HostCheck::Unchanged(p) => {
            let p = fx.path(p, cm);
            let now = snapshot(&p);
            if before.get(&p) != Some(&now) {
                return Err(format!("{} changed", p.display()));
            }
        }
        HostCheck::Absent(p) => {
            let p = fx.path(p, cm);
            if std::fs::symlink_metadata(&p).is_ok() {
                return Err(format!("{} exists on the host", p.display()));
            }
        }
        HostCheck::FileEquals(p, content) => {
            let p = fx.path(p, cm);
            let want = fx.subst(content, cm);
            match std::fs::read_to_string(&p) {
                Ok(c) if c == want => {}
                Ok(c) => return Err(format!("{}: {c:?}, want {want:?}", p.display())),
                Err(e) => return Err(format!("{}: {e}", p.display())),
            }
        }
        HostCheck::OwnedLikeWorkspace(p) => {
            let p = fx.path(p, cm);
            let ws = std::fs::metadata(&fx.ws).map_err(|e| e.to_string())?;
            let m = std::fs::metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            if (m.uid(), m.gid()) != (ws.uid(), ws.gid()) {
                return Err(format!(
                    "{} is owned by {}:{}, the workspace by {}:{}",
                    p.display(),
                    m.uid(),
                    m.gid(),
                    ws.uid(),
                    ws.gid()
                ));
            }
        }
        HostCheck::SizeAtMost(p, n) => {
            let p = fx.path(p, cm);
            let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            let _ = std::fs::remove_file(&p);
            if size > *n {
                return Err(format!("{} grew to {size} bytes (limit {n})", p.display()));
            }
        }
        HostCheck::GitIntact => {
            let now = git_view(&fx.ws);
            if now != fx.git_snapshot {
                return Err(format!(
                    "git on the host sees a different repository now.\n--- before\n{}\n--- after\n{}",
                    fx.git_snapshot.as_deref().unwrap_or("(no git)"),
                    now.as_deref().unwrap_or("(no git)")
                ));
            }
        }
        HostCheck::HostResponsive => {
            let st = Command::new("true").status();
            if !st.as_ref().is_ok_and(|s| s.success()) {
                return Err(format!("the host cannot start a process: {st:?}"));
            }
        }
        HostCheck::NoWorkspaceFileAfter(prefix, wait) => {
            tokio::time::sleep(*wait).await;
            let prefix = fx.subst(prefix, cm);
            let found: Vec<String> = walk(&fx.ws)
                .into_iter()
                .filter(|n| n.rsplit('/').next().is_some_and(|f| f.starts_with(&prefix)))
                .collect();
            if !found.is_empty() {
                return Err(format!("late writes from survivors appeared: {found:?}"));
            }
        }
    }
    Ok(())
}

/// Runs a group's cases in order; returns the failures (each with its evidence).
async fn run_group(fx: &Fixture, ex: &NativeExecutor, cases: Vec<Case>) -> Vec<String> {
    let mut failures: Vec<String> = Vec::new();
    let mut failed_names: BTreeSet<&str> = BTreeSet::new();
    let mut summary = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let cm = format!("hxm{}n{i}z", fx.tag);
        if let Some(tool) = case.needs_host
            && !host_has(tool)
        {
            println!(
                "--- [{}] {}: SKIPPED ({tool} is not installed on the host)",
                fx.group, case.name
            );
            summary.push(format!("SKIP {}", case.name));
            continue;
        }
        if let Some(prev) = case.skip_if_failed
            && failed_names.contains(prev)
        {
            println!(
                "--- [{}] {}: SKIPPED (unsafe to run: {prev:?} failed)",
                fx.group, case.name
            );
            summary.push(format!("SKIP {}", case.name));
            failures.push(format!(
                "[{}] {}: skipped because {prev:?} failed",
                fx.group, case.name
            ));
            continue;
        }
        let mut problems = Vec::new();
        if let Some(setup) = case.setup
            && let Err(e) = setup(fx, &cm)
        {
            problems.push(format!("setup failed: {e}"));
        }
        let mut before = BTreeMap::new();
        for h in &case.host {
            if let HostCheck::Unchanged(p) = h {
                let p = fx.path(p, &cm);
                before.insert(p.clone(), snapshot(&p));
            }
        }
        let scope = format!("escape-{}-{i}", fx.tag);
        if let Some(pre) = &case.prelude {
            match exec(
                ex,
                fx,
                &fx.subst(pre, &cm),
                &scope,
                case.timeout,
                case.max_output,
            )
            .await
            {
                Ok(out) if out.exit_code == Some(0) => {}
                Ok(out) => problems.push(format!(
                    "prelude failed: {}: {}",
                    describe(&out),
                    excerpt(&out.output, 1000)
                )),
                Err(e) => problems.push(format!("prelude: {e}")),
            }
        }
        let command = fx.subst(&case.command, &cm);
        let started = Instant::now();
        let result = exec(ex, fx, &command, &scope, case.timeout, case.max_output).await;
        // Survivors are looked for before the sandbox of the scope is released.
        let survivors = marker_processes(&cm);
        let mut output_excerpt = String::new();
        match &result {
            Err(e) => problems.push(e.clone()),
            Ok(out) => {
                output_excerpt = excerpt(&out.output, 2500);
                println!(
                    "--- [{}] {} ({})\n{}",
                    fx.group,
                    case.name,
                    describe(out),
                    excerpt(&out.output, 1200).trim_end()
                );
                for e in &case.expect {
                    if let Err(msg) = check_expect(e, out, fx, &cm) {
                        problems.push(msg);
                    }
                }
                let text = String::from_utf8_lossy(&out.output);
                for leak in [
                    fx.secret_prefix.clone(),
                    fx.list_token.clone(),
                    env_canary(),
                    fx.host_sleep_name.clone(),
                ] {
                    if text.contains(&leak) {
                        problems.push(format!("output leaks {leak:?}"));
                    }
                }
                if text.contains("SUCCEEDED") {
                    problems.push("an attempt SUCCEEDED (see ATTACK-RESULT lines)".into());
                }
                if let Some(line) = &fx.shadow_line
                    && text.contains(line.as_str())
                {
                    problems.push("output contains the host's /etc/shadow".into());
                }
            }
        }
        if !survivors.is_empty() {
            problems.push(format!(
                "processes outlived the command (seen right after exec returned): {survivors:?}"
            ));
        }
        fx.universal_host_checks(&cm, &mut problems);
        for h in &case.host {
            if let Err(e) = check_host(h, fx, &cm, &before).await {
                problems.push(e);
            }
        }
        ex.release(&scope).await;
        // Leftovers we caused: recorded above; now end them, by pid.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (pid, cmdline) in marker_processes(&cm) {
            println!("killing leftover {pid}: {cmdline}");
            // SAFETY: SIGKILL to a process started by this case (its cmdline carries the
            // case's unique marker).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let verdict = if problems.is_empty() { "PASS" } else { "FAIL" };
        println!(
            "=== [{}] {}: {verdict} ({}ms)",
            fx.group,
            case.name,
            started.elapsed().as_millis()
        );
        summary.push(format!("{verdict} {}", case.name));
        if !problems.is_empty() {
            failed_names.insert(case.name);
            failures.push(format!(
                "[{}] {} (marker {cm}):\n  - {}\n  command:\n{}\n  output:\n{}",
                fx.group,
                case.name,
                problems.join("\n  - "),
                indent(&command),
                indent(&output_excerpt)
            ));
        }
    }
    println!("=== summary of [{}]:\n  {}", fx.group, summary.join("\n  "));
    failures
}

fn indent(s: &str) -> String {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} escape case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------
// The cases.

fn filesystem_cases() -> Vec<Case> {
    vec![
        Case::new(
            "read the planted ~/.ssh key and the agent's .env",
            sh(r#"a "ssh key by its host path" 'cat @HOMEBAIT@/.ssh/id_ed25519'
a ".env by its host path" 'cat @HOMEBAIT@/.hermes/.env'
a "list the host home" 'ls -la @HOSTHOME@/'
a "ssh key through ~root" 'cat ~root/.hermes-escape-@TAG@/.ssh/id_ed25519'
a "the real HERMES_HOME of the host user" 'test -e @HOSTHOME@/.hermes'
a "the real ~/.ssh of the host user" 'test -e @HOSTHOME@/.ssh'"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "find a planted canary anywhere in the view",
            sh(r#"P=SECR; P="${P}ET-@RUN@"
mkdir -p /tmp/ctl-@CM@ && echo "$P-control" > /tmp/ctl-@CM@/lst-control-escape
found=$(find / \( -path /proc -o -path /sys \) -prune -o \( -name "*escape*" -o -name "lst-*" \) -print 2>/dev/null | grep -v -e "^/usr" -e "^/lib" -e "^/etc")
case "$found" in *ctl-@CM@*) echo "ATTACK-RESULT: control found by find";; esac
a "find bait by name" 'printf "%s\n" "$found" | grep -v ctl-@CM@ | grep .'
found=$(for d in /* /dev/shm /run/ /var/tmp; do case "$d" in /proc|/sys|/dev|/usr|/lib*|/bin|/sbin|/etc) continue;; esac; timeout 5 grep -rsIl -D skip -e "$P" "$d"; done)
case "$found" in *ctl-@CM@*) echo "ATTACK-RESULT: control found by grep";; esac
a "grep bait contents" 'printf "%s\n" "$found" | grep -v ctl-@CM@ | grep .'"#),
        )
        .expect(Expect::Contains("ATTACK-RESULT: control found by find"))
        .expect(Expect::Contains("ATTACK-RESULT: control found by grep"))
        .timeout(15)
        .expect(Expect::Refused),
        Case::new(
            "host files through /proc/1/root, /proc/1/exe and friends",
            sh(r#"a "bait through /proc/1/root" 'cat /proc/1/root@OUT@/bait.txt'
a "ssh key through /proc/1/root" 'cat /proc/1/root@HOMEBAIT@/.ssh/id_ed25519'
a "ssh key through /proc/self/root" 'cat /proc/self/root@HOMEBAIT@/.ssh/id_ed25519'
a "list /proc/1/root" 'ls /proc/1/root/'
a "read /proc/1/exe (the helper binary on the host)" 'cat /proc/1/exe > /tmp/exe-copy && test -s /tmp/exe-copy'
a "append to /proc/1/exe" 'printf x >> /proc/1/exe'
a "read /proc/1/environ" 'cat /proc/1/environ > /dev/null'
a "list /proc/1/cwd" 'ls /proc/1/cwd/'
a "list /proc/1/fd" 'ls -l /proc/1/fd/'
a "read /proc/1/mem" 'head -c 1 /proc/1/mem > /dev/null'"#),
        )
        .expect(Expect::Refused)
        .expect(Expect::Custom("helper binary unchanged", |_, fx| {
            if helper_stat() == fx.helper_stat {
                Ok(())
            } else {
                Err("the helper binary changed".into())
            }
        })),
        Case::new(
            "/etc/shadow and /root are unreadable",
            sh(r#"a "read /etc/shadow" 'grep . /etc/shadow'
a "read /etc/gshadow" 'grep . /etc/gshadow'
a "list /etc/ssh" 'ls /etc/ssh | grep .'
a "read TLS private keys" 'ls /etc/ssl/private | grep .'
a "list /root" 'ls -la /root'"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "write outside the workspace by absolute path and ../",
            sh(r#"a "overwrite the bait" 'echo pwned-@CM@ > @OUT@/bait.txt'
a "create a file next to the bait" 'echo pwned > @OUT@/new-@CM@'
a "../ to the sibling directory" 'echo pwned > ../@OUTNAME@/new2-@CM@'
a "authorized_keys in the host home" 'echo pwned > @HOMEBAIT@/.ssh/authorized_keys'
a "append to the host .env" 'echo X=1 >> @HOMEBAIT@/.hermes/.env'
a "write host /run" 'echo pwned > @RUNBAIT@/new-@CM@'
a "write host /var/tmp" 'echo pwned > /var/tmp/hermes-escape-@TAG@/new-@CM@'
a "write host /dev/shm" 'echo pwned > /dev/shm/hermes-escape-@TAG@/new-@CM@'"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "write the read-only system directories",
            sh(r#"a "create in /usr/bin" 'touch /usr/bin/evil-@CM@'
a "create in /etc" 'touch /etc/evil-@CM@'
a "append to /etc/hosts" 'echo "1.2.3.4 evil" >> /etc/hosts'
a "overwrite /etc/passwd" 'echo x > /etc/passwd'
a "chmod a system binary" 'chmod 4755 /usr/bin/id'
a "create at the root" 'touch /evil-@CM@'"#),
        )
        .expect(Expect::Refused)
        .host(HostCheck::Unchanged("/etc/hosts"))
        .host(HostCheck::Unchanged("/usr/bin/id"))
        .host(HostCheck::Absent("/usr/bin/evil-@CM@"))
        .host(HostCheck::Absent("/etc/evil-@CM@"))
        .host(HostCheck::Absent("/evil-@CM@")),
        Case::new(
            "write through symlinks in the workspace that point outside",
            sh(r#"a "write through a file symlink" 'echo pwned > sym-file-link'
a "read through a file symlink" 'cat sym-file-link'
a "create through a directory symlink" 'echo pwned > sym-dir-link/new-@CM@'
a "new symlink to the host ssh key" 'ln -s @HOMEBAIT@/.ssh/id_ed25519 newlink-@CM@ && cat newlink-@CM@'
a "symlink to the host home, then write" 'ln -s @HOMEBAIT@ homelink-@CM@ && echo pwned > homelink-@CM@/.ssh/id_ed25519'"#),
        )
        .setup(|fx, _| {
            for (name, target) in [
                ("sym-file-link", fx.outside.join("bait.txt")),
                ("sym-dir-link", fx.outside.clone()),
            ] {
                let link = fx.ws.join(name);
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(target, link)?;
            }
            Ok(())
        })
        .expect(Expect::Refused),
        Case::new(
            "hard links out of the workspace",
            sh(r#"a "hard link the host bait" 'ln @OUT@/bait.txt hl1-@CM@'
a "hard link a system file, then write it" 'ln /usr/lib/os-release hl2-@CM@ && echo pwned >> hl2-@CM@'
a "hard link a setuid binary" 'ln /usr/bin/su hl3-@CM@'
a "hard link /etc/passwd" 'ln /etc/passwd hl4-@CM@'"#),
        )
        .expect(Expect::Refused)
        .host(HostCheck::Unchanged("/usr/lib/os-release"))
        .host(HostCheck::Unchanged("/usr/bin/su")),
        Case::new(
            "raw devices and kernel knobs",
            sh(r#"for d in vda sda nvme0n1 mem kmem port kmsg kvm fuse loop0 loop-control; do
  a "open /dev/$d" "head -c 1 /dev/$d > /dev/null"
done
a "mknod a block device" 'mknod /tmp/blk-@CM@ b 253 0 && head -c 1 /tmp/blk-@CM@ > /dev/null'
a "rewrite core_pattern" 'v=$(cat /proc/sys/kernel/core_pattern) && printf "%s\n" "$v" > /proc/sys/kernel/core_pattern'
a "sysrq trigger" 'printf h > /proc/sysrq-trigger'
a "read /proc/kcore" 'head -c 1 /proc/kcore > /dev/null'
a "list /sys" 'ls /sys/kernel | grep .'
echo "ATTACK-RESULT: /dev holds: $(ls /dev | tr '\n' ' ')""#),
        )
        .expect(Expect::Refused)
        .host(HostCheck::Unchanged("/proc/sys/kernel/core_pattern")),
        Case::new(
            "no descriptors are inherited",
            py(r#"fds = []
for fd in range(3, 4096):
    try:
        os.fstat(fd)
        fds.append((fd, os.readlink(f"/proc/self/fd/{fd}")))
    except OSError:
        pass
print("ATTACK-RESULT: inherited descriptors:", fds, flush=True)
if fds:
    R.append("inherited descriptors")"#),
        )
        .expect(Expect::Refused)
        .expect(Expect::Contains("inherited descriptors: []")),
        // Last in the group: when these get through, they change the workspace's
        // repository (each starts from the original one).
        Case::new(
            ".git/hooks, .git/config and .git/info are read-only",
            sh(r##"a "write a hook" 'printf "#!/bin/sh\ntouch /tmp/hooked\n" > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit'
a "append to .git/config" 'printf "[core]\n\tfsmonitor = touch /tmp/fsmon\n" >> .git/config'
a "git config core.hooksPath" 'git config core.hooksPath /tmp'
a "replace .git/hooks" 'mv .git/hooks .git/hooks-old-@CM@ && mkdir .git/hooks'
a "replace .git/config" 'rm -f .git/config && echo x > .git/config'
a "write .git/info/attributes" 'echo "* filter=x" > .git/info/attributes'"##),
        )
        .setup(restore_git)
        .expect(Expect::Refused)
        .host(HostCheck::GitIntact),
        // The git directory stays writable (commits work), so the command can write
        // .git/commondir; the host moves it aside when the command ends, before any git on
        // the host can read it, and says so.
        Case::new(
            "redirect git's common dir (.git/commondir) to a config the sandbox wrote",
            "mkdir -p evil-@CM@/hooks evil-@CM@/objects evil-@CM@/refs && printf '[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch /tmp/fsmon-@CM@\n' > evil-@CM@/config && echo ../evil-@CM@ > .git/commondir && echo \"inside: $(git rev-parse --git-common-dir)\"".to_string(),
        )
        .setup(restore_git)
        .expect(Expect::Contains("it was moved aside and not used"))
        .host(HostCheck::GitIntact),
        Case::new(
            "move .git away and recreate it with a config the sandbox wrote",
            sh(r#"a "rename .git, make a new one" 'mv .git .git-moved-@CM@ && mkdir .git && cp -r .git-moved-@CM@/HEAD .git-moved-@CM@/objects .git-moved-@CM@/refs .git/ && printf "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch /tmp/fsmon-@CM@\n" > .git/config && git config core.fsmonitor'"#),
        )
        .setup(restore_git)
        .expect(Expect::Refused)
        .host(HostCheck::GitIntact),
    ]
}

/// Puts the workspace's repository back as the fixture made it, undoing what an earlier
/// git case may have got through.
fn restore_git(fx: &Fixture, _: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(fx.ws.join(".git/commondir"));
    for e in std::fs::read_dir(fx.ws.join(".git"))?.flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with("commondir.blocked-by-hermes-")
        {
            std::fs::remove_file(e.path())?;
        }
    }
    for e in std::fs::read_dir(&fx.ws)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("evil-") {
            std::fs::remove_dir_all(e.path())?;
        } else if name.starts_with(".git-moved-") {
            std::fs::remove_dir_all(fx.ws.join(".git"))?;
            std::fs::rename(e.path(), fx.ws.join(".git"))?;
        }
    }
    Ok(())
}

fn process_cases() -> Vec<Case> {
    // Each survivor writes its pid to /tmp/s.pid; the command checks it runs, then returns.
    let survivor = |name: &'static str, launch: &str| {
        Case::new(
            name,
            format!(
                "{launch}\nsleep 0.3\nif kill -0 \"$(cat /tmp/s.pid)\" 2>/dev/null; then \
                 echo \"ATTACK-RESULT: survivor running as pid $(cat /tmp/s.pid), returning\"; fi\n"
            ),
        )
        .timeout(10)
        .expect(Expect::ExitZero)
        .expect(Expect::NotTimedOut)
        .expect(Expect::Contains("ATTACK-RESULT: survivor running"))
    };
    vec![
        Case::new(
            "signal a host process",
            sh(r#"a "kill -0 the host pid" 'kill -0 @HOSTPID@'
a "SIGSTOP the host pid" 'kill -STOP @HOSTPID@'
a "SIGKILL the host pid" 'kill -KILL @HOSTPID@'
a "see the host pid in /proc" 'ls /proc/@HOSTPID@/'"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "trace a host process (strace, gdb)",
            sh(r#"if command -v strace >/dev/null; then a "strace -p" 'timeout 3 strace -p @HOSTPID@ -e trace=none'; fi
if command -v gdb >/dev/null; then a "gdb -p, then kill" 'timeout 8 gdb -q -nx -batch -p @HOSTPID@ -ex kill'; fi
a "strace a child (ptrace inside)" 'timeout 3 strace -f -o /dev/null true'"#),
        )
        .timeout(12)
        .expect(Expect::Refused),
        Case::new(
            "ptrace and friends against a host process (python)",
            py(r#"pid = @HOSTPID@
a("ptrace ATTACH", lambda: sc(101, 16, pid, 0, 0), want=errno.EPERM)
a("ptrace SEIZE", lambda: sc(101, 0x4206, pid, 0, 0), want=errno.EPERM)
a("ptrace TRACEME", lambda: sc(101, 0, 0, 0, 0), want=errno.EPERM)
a("process_vm_readv", lambda: sc(310, pid, 0, 0, 0, 0, 0), want=errno.EPERM)
a("pidfd_open the host pid", lambda: sc(434, pid, 0))
a("kill(pid, 0)", lambda: os.kill(pid, 0))
a("kill(pid, SIGSTOP)", lambda: os.kill(pid, 19))"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "kill -9 -1 inside the sandbox",
            "sleep 30 & sleep 0.1; kill -9 -1; sleep 0.2; echo \"ATTACK-RESULT: still here after kill -1\"".into(),
        )
        .host(HostCheck::HostResponsive),
        Case::new(
            "host processes are invisible",
            r#"echo "ATTACK-RESULT: visible pids: $(ls -d /proc/[0-9]* | wc -l)"
ps -eo pid,user,args"#
                .into(),
        )
        .expect(Expect::ExitZero)
        .expect(Expect::Custom("at most 8 processes visible", |out, _| {
            let text = String::from_utf8_lossy(&out.output);
            let n: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("ATTACK-RESULT: visible pids: "))
                .and_then(|n| n.trim().parse().ok())
                .ok_or("no count")?;
            if n <= 8 {
                Ok(())
            } else {
                Err(format!("{n} processes visible"))
            }
        })),
        survivor(
            "survivor: setsid",
            r#"setsid sh -c 'echo $$ > /tmp/s.pid; sleep 30; :' @CM@ > /dev/null 2>&1 < /dev/null &"#,
        ),
        survivor(
            "survivor: nohup",
            r#"nohup sh -c 'echo $$ > /tmp/s.pid; sleep 30; :' @CM@ > /dev/null 2>&1 &"#,
        ),
        survivor(
            "survivor: double fork",
            r#"( (sh -c 'echo $$ > /tmp/s.pid; sleep 30; :' @CM@ > /dev/null 2>&1 &) & )"#,
        ),
        survivor(
            "survivor: disown",
            r#"bash -c "sh -c 'echo \$\$ > /tmp/s.pid; sleep 30; :' @CM@ > /dev/null 2>&1 & disown; echo disowned""#,
        ),
        survivor(
            "survivor: python daemon (double fork, setsid, closed fds)",
            r#"python3 -c 'import os, sys, time
if os.fork(): sys.exit(0)
os.setsid()
if os.fork(): os._exit(0)
os.closerange(0, 1024)
open("/tmp/s.pid", "w").write(str(os.getpid()))
time.sleep(30)' @CM@"#,
        ),
        survivor(
            "survivor holding the output pipe",
            r#"sh -c 'echo $$ > /tmp/s.pid; sleep 30; :' @CM@ &"#,
        ),
        survivor(
            "survivors that write late",
            r#"setsid sh -c "echo \$\$ > /tmp/s.pid; sleep 1; echo late > @WS@/late-@CM@-1" @CM@ > /dev/null 2>&1 < /dev/null &
( (sh -c "sleep 1; echo late > @WS@/late-@CM@-2" @CM@ > /dev/null 2>&1 &) & )
nohup sh -c "sleep 1; echo late > @WS@/late-@CM@-3" @CM@ > /dev/null 2>&1 &"#,
        )
        .host(HostCheck::NoWorkspaceFileAfter(
            "late-@CM@",
            Duration::from_millis(2500),
        )),
        Case::new(
            "no capabilities, no_new_privs, seccomp",
            "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status".into(),
        )
        .expect(Expect::ExitZero)
        .expect(Expect::Contains("CapInh:\t0000000000000000"))
        .expect(Expect::Contains("CapPrm:\t0000000000000000"))
        .expect(Expect::Contains("CapEff:\t0000000000000000"))
        .expect(Expect::Contains("CapBnd:\t0000000000000000"))
        .expect(Expect::Contains("CapAmb:\t0000000000000000"))
        .expect(Expect::Contains("NoNewPrivs:\t1"))
        .expect(Expect::Contains("Seccomp:\t2")),
        Case::new(
            "the environment holds only what the request passed",
            r#"echo "ATTACK-RESULT: env keys: $(env | cut -d= -f1 | sort | tr '\n' ' ')"
tr '\0' '\n' < /proc/self/environ"#
                .into(),
        )
        .expect(Expect::ExitZero)
        .expect(Expect::NotContains(ENV_CANARY_NAME))
        .expect(Expect::Custom("only allowed variables", |out, _| {
            let text = String::from_utf8_lossy(&out.output);
            let keys = text
                .lines()
                .find_map(|l| l.strip_prefix("ATTACK-RESULT: env keys: "))
                .ok_or("no key list")?;
            let allowed = ["PATH", "HOME", "PWD", "OLDPWD", "SHLVL", "_"];
            let extra: Vec<&str> = keys
                .split_whitespace()
                .filter(|k| !allowed.contains(k))
                .collect();
            if extra.is_empty() {
                Ok(())
            } else {
                Err(format!("unexpected variables: {extra:?}"))
            }
        })),
        Case::new(
            "/proc/*/environ shows no host environment",
            r#"for f in /proc/[0-9]*/environ; do echo "== $f"; tr '\0' '\n' < "$f"; done 2>&1
echo "ATTACK-RESULT: dumped""#
                .into(),
        )
        .expect(Expect::Contains("ATTACK-RESULT: dumped")),
    ]
}

fn resource_cases() -> Vec<Case> {
    vec![
        Case::new(
            "fork until refused (bounded at 3000)",
            py(r#"def bomb():
    n = 0
    try:
        while n < 3000:
            pid = os.fork()
            if pid == 0:
                time.sleep(20)
                os._exit(0)
            n += 1
    except OSError as e:
        raise OSError(e.errno, f"fork refused after {n} children: {e}")
    return f"forked {n} children without hitting a limit"
a("fork 3000 children", bomb)"#),
        )
        .timeout(20)
        .expect(Expect::Refused)
        .expect(Expect::Custom(
            "refused at most at the pids limit",
            |out, _| {
                let text = String::from_utf8_lossy(&out.output);
                let n: u64 = text
                    .split("fork refused after ")
                    .nth(1)
                    .and_then(|t| t.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
                    .ok_or("no count")?;
                if n <= Policy::new("/").limits.pids {
                    Ok(())
                } else {
                    Err(format!("{n} children before the refusal"))
                }
            },
        ))
        .host(HostCheck::HostResponsive),
        Case::new(
            "classic fork bomb",
            r#"bash -c ':(){ :|:& };:' @CM@ 2> /dev/null
sleep 3
set -- /proc/[0-9]*
echo "ATTACK-RESULT: processes in the job after 3 s: $#""#
                .into(),
        )
        .skip_if_failed("fork until refused (bounded at 3000)")
        .timeout(8)
        .host(HostCheck::HostResponsive),
        Case::new(
            "memory bomb in one process (bounded at 4 GiB)",
            py(r#"def grab():
    held = []
    for i in range(16):
        held.append(bytearray(256 << 20))
    return f"allocated {16 * 256} MiB"
a("allocate 4 GiB", grab)"#),
        )
        .timeout(20)
        .expect(Expect::Stopped),
        Case::new(
            "memory spread over processes (3 GiB in all)",
            py(r#"def spread():
    r, w = os.pipe()
    kids = []
    for i in range(4):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                b = bytearray(768 << 20)
                os.write(w, b"k")
                time.sleep(3)
            except MemoryError:
                pass
            os._exit(0)
        kids.append(pid)
    os.close(w)
    got = b""
    while True:
        c = os.read(r, 16)
        if not c:
            break
        got += c
    for k in kids:
        os.waitpid(k, 0)
    if len(got) == 4:
        return "4 processes held 768 MiB each at once"
    raise OSError(0, f"only {len(got)} of 4 processes could hold 768 MiB at once")
a("hold 3 GiB over 4 processes", spread)"#),
        )
        .timeout(20)
        .expect(Expect::Stopped),
        Case::new(
            "memory bomb through a pipe (head -c 4G /dev/zero | tail)",
            r#"head -c 4G /dev/zero | tail > /dev/null
s=$?
echo "ATTACK-RESULT: tail ended with status $s"
[ "$s" -ne 0 ] && exit 3
echo "ATTACK-RESULT: SUCCEEDED: tail held 4 GiB"
exit 0"#
                .into(),
        )
        .timeout(25)
        .expect(Expect::Stopped),
        Case::new(
            "fill /tmp",
            r#"dd if=/dev/zero of=/tmp/fill-@CM@ bs=1M 2>&1
echo "ATTACK-RESULT: /tmp holds $(du -m /tmp/fill-@CM@ | cut -f1) MiB""#
                .into(),
        )
        .timeout(20)
        .expect(Expect::Contains("No space left on device"))
        .expect(Expect::Custom("bounded by the tmpfs size", tmpfs_bound)),
        Case::new(
            "fill /dev/shm",
            r#"dd if=/dev/zero of=/dev/shm/fill-@CM@ bs=1M 2>&1
echo "ATTACK-RESULT: /dev/shm holds $(du -m /dev/shm/fill-@CM@ | cut -f1) MiB""#
                .into(),
        )
        .timeout(20)
        .expect(Expect::Contains("No space left on device"))
        .expect(Expect::Custom("bounded by the tmpfs size", tmpfs_bound)),
        Case::new("output flood", "yes @CM@-flood".into())
            .max_output(64 * 1024)
            .timeout(10)
            .expect(Expect::Truncated)
            .expect(Expect::NotTimedOut)
            .expect(Expect::OutputAtMost(64 * 1024)),
        Case::new(
            "CPU burn past the timeout",
            r#"sh -c 'while :; do :; done' @CM@ &
while :; do :; done"#
                .into(),
        )
        .timeout(1)
        .expect(Expect::TimedOut),
    ]
}

fn tmpfs_bound(out: &ExecOutput, _: &Fixture) -> Result<(), String> {
    let text = String::from_utf8_lossy(&out.output);
    let mib: u64 = text
        .split(" holds ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or("no size")?;
    let cap = Policy::new("/").limits.tmpfs_bytes >> 20;
    if mib <= cap + 1 {
        Ok(())
    } else {
        Err(format!("{mib} MiB written, tmpfs size {cap} MiB"))
    }
}

/// File size limit of the small-limits sandbox.
const SMALL_FSIZE: u64 = 8 << 20;

fn file_size_cases() -> Vec<Case> {
    vec![
        Case::new(
            "fill the workspace with dd (RLIMIT_FSIZE)",
            sh(r#"a "dd 64 MiB into the workspace" 'dd if=/dev/zero of=fill-@CM@ bs=1M count=64 2>&1'
echo "ATTACK-RESULT: file is $(stat -c %s fill-@CM@) bytes""#),
        )
        .timeout(10)
        .expect(Expect::Refused)
        .host(HostCheck::SizeAtMost("fill-@CM@", SMALL_FSIZE)),
        Case::new(
            "grow workspace files past the limit (python, fallocate, truncate)",
            py(r#"def write():
    with open("pyfill-@CM@", "wb") as f:
        for i in range(64):
            f.write(b"\0" * (1 << 20))
    return "wrote 64 MiB"
a("python writes 64 MiB", write, want=errno.EFBIG)
def falloc():
    fd = os.open("falloc-@CM@", os.O_CREAT | os.O_WRONLY, 0o644)
    os.posix_fallocate(fd, 0, 64 << 20)
    return "fallocated 64 MiB"
a("fallocate 64 MiB", falloc, want=errno.EFBIG)
def trunc():
    with open("trunc-@CM@", "wb") as f:
        f.truncate(1 << 30)
    return "truncated to 1 GiB"
a("truncate to 1 GiB", trunc, want=errno.EFBIG)"#),
        )
        .timeout(10)
        .expect(Expect::Refused)
        .host(HostCheck::SizeAtMost("pyfill-@CM@", SMALL_FSIZE))
        .host(HostCheck::SizeAtMost("falloc-@CM@", SMALL_FSIZE))
        .host(HostCheck::SizeAtMost("trunc-@CM@", SMALL_FSIZE)),
    ]
}

fn kernel_cases() -> Vec<Case> {
    vec![
        Case::new(
            "nested user namespace and mounts",
            sh(r#"a "unshare -Urm mount tmpfs" 'unshare -Urm mount -t tmpfs none /mnt'
a "unshare -U" 'unshare -U true'
a "unshare -n" 'unshare -n true'
a "unshare -m" 'unshare -m true'
a "unshare -pf" 'unshare -pf true'
a "mount tmpfs (setuid mount)" 'mount -t tmpfs none /tmp'
a "umount /proc" 'umount -l /proc'"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "namespace system calls (python)",
            py(r#"CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
def clone(flags):
    r = sc(56, flags | 17, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)
    os.waitpid(r, 0)
    return f"cloned child {r}"
a("unshare(CLONE_NEWUSER)", lambda: sc(272, CLONE_NEWUSER), want=errno.EPERM)
a("unshare(CLONE_NEWNS)", lambda: sc(272, CLONE_NEWNS), want=errno.EPERM)
a("clone(CLONE_NEWUSER)", lambda: clone(CLONE_NEWUSER), want=errno.EPERM)
a("clone(CLONE_NEWNS)", lambda: clone(CLONE_NEWNS), want=errno.EPERM)
def clone3():
    args = buf(b"\0" * 88)
    r = sc(435, args, 88)
    if r == 0:
        os._exit(0)
    os.waitpid(r, 0)
    return f"clone3 child {r}"
a("clone3", clone3, want=errno.ENOSYS)
def setns():
    fd = os.open("/proc/self/ns/user", os.O_RDONLY)
    return sc(308, fd, 0)
a("setns", setns, want=errno.EPERM)"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "kernel keyring",
            py(r#"a("add_key", lambda: sc(248, buf(b"user"), buf(b"hx"), buf(b"data"), 4, -2), want=errno.EPERM)
a("keyctl(GET_KEYRING_ID)", lambda: sc(250, 0, -3, 0), want=errno.EPERM)
a("request_key", lambda: sc(249, buf(b"user"), buf(b"hx"), 0, 0), want=errno.EPERM)
import shutil
if shutil.which("keyctl"):
    import subprocess
    def kc():
        p = subprocess.run(["keyctl", "show"], capture_output=True)
        if p.returncode != 0:
            raise OSError(errno.EPERM, p.stderr.decode()[:200])
        return p.stdout.decode()[:200]
    a("keyctl show", kc)"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "refused system calls (io_uring, bpf, userfaultfd, …)",
            py(r#"calls = [
    ("io_uring_setup", 425, (1, buf(b"\0" * 120))),
    ("io_uring_enter", 426, (-1, 0, 0, 0, 0, 0)),
    ("io_uring_register", 427, (-1, 0, 0, 0)),
    ("bpf", 321, (5, buf(b"\0" * 128), 128)),
    ("userfaultfd", 323, (0,)),
    ("perf_event_open", 298, (buf(b"\0" * 128), 0, -1, -1, 0)),
    ("fanotify_init", 300, (0, 0)),
    ("open_by_handle_at", 304, (-100, 0, 0)),
    ("name_to_handle_at", 303, (-100, 0, 0, 0, 0)),
    ("process_vm_writev", 311, (1, 0, 0, 0, 0, 0)),
    ("kcmp", 312, (1, 1, 0, 0, 0)),
    ("pidfd_getfd", 438, (-1, 0, 0)),
    ("mount", 165, (0, 0, 0, 0, 0)),
    ("umount2", 166, (0, 0)),
    ("pivot_root", 155, (0, 0)),
    ("chroot", 161, (buf(b"/"),)),
    ("open_tree", 428, (-100, 0, 0)),
    ("move_mount", 429, (-1, 0, -1, 0, 0)),
    ("fsopen", 430, (buf(b"tmpfs"), 0)),
    ("fsconfig", 431, (-1, 0, 0, 0, 0)),
    ("fsmount", 432, (-1, 0, 0)),
    ("fspick", 433, (-100, 0, 0)),
    ("mount_setattr", 442, (-1, 0, 0, 0, 0)),
    ("init_module", 175, (0, 0, 0)),
    ("finit_module", 313, (-1, 0, 0)),
    ("delete_module", 176, (buf(b"nothing"), 0)),
    ("kexec_load", 246, (0, 0, 0, 0)),
    ("kexec_file_load", 320, (-1, -1, 0, 0, 0)),
    ("acct", 163, (0,)),
    ("swapon", 167, (0, 0)),
    ("swapoff", 168, (0,)),
    ("reboot", 169, (0, 0, 0, 0)),
    ("settimeofday", 164, (0, 0)),
    ("clock_settime", 227, (0, 0)),
    ("clock_adjtime", 305, (0, 0)),
    ("adjtimex", 159, (0,)),
    ("syslog", 103, (10, 0, 0)),
    ("quotactl", 179, (0, 0, 0, 0)),
    ("vhangup", 153, ()),
    ("iopl", 172, (3,)),
    ("ioperm", 173, (0, 1, 1)),
    ("uselib", 134, (0,)),
]
for name, nr, args in calls:
    a(name, lambda nr=nr, args=args: sc(nr, *args), want=errno.EPERM)"#),
        )
        .expect(Expect::Refused),
        Case::new(
            "setuid binaries do not give root",
            sh(r#"ls -l /usr/bin/su /usr/bin/passwd /usr/bin/newgrp /usr/bin/mount 2>&1
echo "ATTACK-RESULT: /usr mount: $(awk '$5 == "/usr" {print $6}' /proc/self/mountinfo | head -1)"
a "su to root" 'su -c "id -u" root | grep -x 0'
a "newgrp root" 'echo "id -g" | newgrp root | grep -x 0'
a "passwd -S root (root only)" 'passwd -S root'
a "mount through the setuid binary" 'mount -t tmpfs none /mnt'
echo "ATTACK-RESULT: uid=$(id -u) euid=$(python3 -c 'import os; print(os.geteuid())')""#),
        )
        .expect(Expect::Refused)
        .expect(Expect::NotContains("ATTACK-RESULT: uid=0 "))
        .expect(Expect::NotContains("euid=0\n"))
        .expect(Expect::Custom("/usr is mounted nosuid", |out, _| {
            let text = String::from_utf8_lossy(&out.output);
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("ATTACK-RESULT: /usr mount: "))
                .ok_or("no mount line")?;
            if line.split(',').any(|o| o == "nosuid") {
                Ok(())
            } else {
                Err(format!("/usr mount options: {line:?}"))
            }
        })),
        Case::new(
            "TIOCSTI terminal injection",
            py(r#"import fcntl, termios, pty
for fd in (0, 1, 2):
    a(f"TIOCSTI on fd {fd}", lambda fd=fd: fcntl.ioctl(fd, termios.TIOCSTI, b"x"))
def tty():
    fd = os.open("/dev/tty", os.O_RDWR)
    return fcntl.ioctl(fd, termios.TIOCSTI, b"x")
a("TIOCSTI on /dev/tty", tty)
def ctty(req, arg):
    pid, m = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, req, arg)
            os._exit(0)
        except OSError as e:
            os._exit(e.errno)
    _, st = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(st)
    if code == 0:
        return "the ioctl went through on its own controlling terminal"
    raise OSError(code, os.strerror(code))
a("TIOCSTI on a controlling pty", lambda: ctty(termios.TIOCSTI, b"x"), want=errno.EPERM)
a("TIOCLINUX on a controlling pty", lambda: ctty(0x541C, b"\x06"), want=errno.EPERM)"#),
        )
        .expect(Expect::Refused),
    ]
}

fn network_cases() -> Vec<Case> {
    vec![
        Case::new(
            "reach host listeners (shell)",
            sh(r#"a "bash /dev/tcp 127.0.0.1" 'timeout 3 bash -c "echo hi > /dev/tcp/127.0.0.1/@TCP4@"'
a "bash /dev/tcp ::1" 'timeout 3 bash -c "echo hi > /dev/tcp/::1/@TCP6@"'
a "curl the host address" 'curl -sS -m 2 http://@HOSTIP@:@TCPANY@/'
a "curl 127.0.0.1" 'curl -sS -m 2 http://127.0.0.1:@TCP4@/'
bash -c "echo hi-@CM@ > /dev/udp/127.0.0.1/@UDP@" 2>&1
echo "ATTACK-RESULT: interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')""#),
        )
        .timeout(15)
        .expect(Expect::Refused)
        .expect(Expect::Contains("ATTACK-RESULT: interfaces: lo \n")),
        Case::new(
            "reach host listeners and unix sockets (python)",
            py(r#"def conn(host, port):
    s = socket.create_connection((host, port), timeout=2)
    s.sendall(b"hello")
    return s.getpeername()
a("tcp 127.0.0.1", lambda: conn("127.0.0.1", @TCP4@))
a("tcp ::1", lambda: conn("::1", @TCP6@))
a("tcp host address", lambda: conn("@HOSTIP@", @TCPANY@))
def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    return path
a("unix socket in the workspace (visible)", lambda: unix("@UNIX_WS@"), want=errno.EPERM)
a("unix socket in host /tmp", lambda: unix("@UNIX_TMP@"))
a("unix socket in host /run", lambda: unix("@UNIX_RUN@"))
a("abstract unix socket", lambda: unix("\0@ABSTRACT@"))
a("dbus system bus", lambda: unix("/run/dbus/system_bus_socket"))
a("docker socket", lambda: unix("/var/run/docker.sock"))
def dgram():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"x", "\0@ABSTRACT@")
    return "sent"
a("unix datagram to the abstract name", dgram, want=errno.EPERM)"#),
        )
        .timeout(15)
        .expect(Expect::Refused),
        Case::new(
            "DNS resolution",
            sh(r#"a "getent hosts example.com" 'timeout 5 getent hosts example.com'
a "python gethostbyname" 'timeout 5 python3 -c "import socket; print(socket.gethostbyname(\"example.com\"))"'
a "curl a name" 'curl -sS -m 3 -o /dev/null http://example.com/'"#),
        )
        .timeout(15)
        .expect(Expect::Refused),
        Case::new(
            "raw, packet and netlink sockets",
            py(r#"fams = [
    ("AF_PACKET raw", 17, socket.SOCK_RAW, 0x0300),
    ("AF_INET raw icmp", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    ("AF_INET raw tcp", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP),
    ("AF_INET6 raw", socket.AF_INET6, socket.SOCK_RAW, 58),
    ("AF_NETLINK route", 16, socket.SOCK_RAW, 0),
    ("AF_NETLINK audit", 16, socket.SOCK_RAW, 9),
    ("AF_VSOCK", 40, socket.SOCK_STREAM, 0),
    ("AF_ALG", 38, socket.SOCK_SEQPACKET, 0),
    ("AF_XDP", 44, socket.SOCK_RAW, 0),
    ("AF_BLUETOOTH", 31, socket.SOCK_RAW, 0),
    ("AF_UNIX stream", socket.AF_UNIX, socket.SOCK_STREAM, 0),
]
for name, fam, typ, proto in fams:
    a(f"socket({name})", lambda fam=fam, typ=typ, proto=proto: str(socket.socket(fam, typ, proto)), want=errno.EPERM)"#),
        )
        .expect(Expect::Refused),
    ]
}

fn positive_cases() -> Vec<Case> {
    vec![
        Case::new(
            "build and run a C program",
            r#"printf '#include <stdio.h>\nint main(void){puts("hello from c @CM@");return 0;}\n' > hello-@CM@.c
cc -o hello-@CM@ hello-@CM@.c && ./hello-@CM@"#
                .into(),
        )
        .needs("cc")
        .timeout(30)
        .expect(Expect::ExitZero)
        .expect(Expect::Contains("hello from c @CM@\n")),
        Case::new(
            "python writes a file that the host sees",
            r#"python3 -c "open('py-@CM@.txt', 'w').write('written by python @CM@\n')" && cat py-@CM@.txt"#
                .into(),
        )
        .expect(Expect::ExitZero)
        .host(HostCheck::FileEquals("py-@CM@.txt", "written by python @CM@\n"))
        .host(HostCheck::OwnedLikeWorkspace("py-@CM@.txt")),
        Case::new(
            "git init, add, commit",
            r#"mkdir proj-@CM@ && cd proj-@CM@ && git init -q && echo hi > f.txt && git add f.txt && git -c user.name=t -c user.email=t@example.com commit -q -m "first @CM@" && git log --oneline"#
                .into(),
        )
        .needs("git")
        .timeout(15)
        .expect(Expect::ExitZero)
        .expect(Expect::Contains("first @CM@")),
        Case::new("/tmp persists between commands of a scope", "cat /tmp/persist-@CM@".into())
            .prelude("echo kept-@CM@ > /tmp/persist-@CM@")
            .expect(Expect::ExitZero)
            .expect(Expect::Contains("kept-@CM@")),
        Case::new(
            "system files and home are readable",
            r#"head -3 /etc/os-release && echo "usr/bin entries: $(ls /usr/bin | wc -l)" && ls -la ~ && id && whoami"#
                .into(),
        )
        .expect(Expect::ExitZero)
        .expect(Expect::Contains("NAME=")),
        Case::new(
            "loopback networking inside the sandbox",
            r#"echo served-@CM@ > srv-@CM@.txt
python3 -m http.server 8765 --bind 127.0.0.1 > /dev/null 2>&1 &
i=0
until curl -fsS http://127.0.0.1:8765/srv-@CM@.txt; do
  i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1
done
kill $!"#
                .into(),
        )
        .timeout(15)
        .expect(Expect::ExitZero)
        .expect(Expect::Contains("served-@CM@")),
    ]
}

// ---------------------------------------------------------------------------------------
// The groups.

async fn group(
    name: &'static str,
    short: &str,
    cases: Vec<Case>,
    policy: Option<fn(&Path) -> Policy>,
) {
    let _serial = SERIAL.lock().await;
    let fx = Fixture::new(name, short);
    let ex = match policy {
        Some(p) => executor_with(p(&fx.ws)),
        None => executor(&fx.ws),
    };
    let failures = run_group(&fx, &ex, cases).await;
    drop(ex);
    drop(fx);
    report(failures);
}

#[tokio::test]
async fn escape_filesystem() {
    group("filesystem", "f", filesystem_cases(), None).await;
}

#[tokio::test]
async fn escape_processes() {
    group("processes", "p", process_cases(), None).await;
}

#[tokio::test]
async fn escape_resources() {
    group("resources", "r", resource_cases(), None).await;
}

#[tokio::test]
async fn escape_file_size_limit() {
    group(
        "file-size",
        "s",
        file_size_cases(),
        Some(|ws| {
            let mut p = Policy::new(ws);
            p.limits.file_size_bytes = SMALL_FSIZE;
            p
        }),
    )
    .await;
}

#[tokio::test]
async fn escape_kernel_interfaces() {
    group("kernel", "k", kernel_cases(), None).await;
}

#[tokio::test]
async fn escape_network() {
    group("network", "n", network_cases(), None).await;
}

#[tokio::test]
async fn escape_positive_workloads() {
    group("positive", "o", positive_cases(), None).await;
}
