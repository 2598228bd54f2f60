//! The hardline and dangerous-command rules, matched on analysed commands (never on raw
//! substrings of the command line, except where noted), and the glob matcher used by deny
//! rules and the allowlist.
//!
//! Rules that look at a command word only fire when that word is a program, so
//! `echo "rm -rf /"`, `grep -r mkfs docs/` and `git commit -m "reboot"` are harmless. Three
//! rules read text instead of commands: the fork bomb (on the command line with quoted
//! text, comments and heredocs blanked), cloud metadata addresses (anywhere: there is no
//! innocent use), and SQL (in the arguments and heredocs of a pipeline that involves a SQL
//! client, so `grep -r "DROP TABLE" .` is not asked about).

use super::shell::{Analysis, SHELLS, SimpleCommand, program_name};

/// One rule: a stable key (what `command_allowlist` and session approvals store), what the
/// user is told, and whether it is a hardline rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    pub key: &'static str,
    pub description: &'static str,
    /// Never runnable, in any mode, whatever the allowlist says.
    pub hardline: bool,
    /// Hermes' names for the same rule (its `command_allowlist` stores these), so an
    /// existing Hermes allowlist keeps working.
    pub hermes_names: &'static [&'static str],
}

const fn hard(key: &'static str, description: &'static str) -> Pattern {
    Pattern {
        key,
        description,
        hardline: true,
        hermes_names: &[],
    }
}

const fn ask(
    key: &'static str,
    description: &'static str,
    hermes_names: &'static [&'static str],
) -> Pattern {
    Pattern {
        key,
        description,
        hardline: false,
        hermes_names,
    }
}

/// Every rule, hardline first.
pub const PATTERNS: &[Pattern] = &[
    // Hardline: no recovery path.
    hard("delete_root", "recursive delete of the root filesystem"),
    hard(
        "delete_system_dir",
        "recursive delete of a system directory",
    ),
    hard("delete_home", "recursive delete of the home directory"),
    hard("mkfs", "formats a filesystem (mkfs)"),
    hard("wipe_block_device", "wipes a raw block device"),
    hard("dd_block_device", "dd onto a raw block device"),
    hard("redirect_block_device", "writes to a raw block device"),
    hard("fork_bomb", "fork bomb"),
    hard("kill_all", "kills every process (kill -1)"),
    hard("shutdown", "shuts down or reboots the machine"),
    hard("init_runlevel", "init/telinit 0 or 6 (shutdown or reboot)"),
    hard("systemctl_power", "systemctl poweroff/reboot/halt"),
    // Deletion.
    ask(
        "recursive_delete",
        "recursive delete",
        &[
            "recursive delete",
            "recursive delete (long flag)",
            "recursive delete (flags after operands)",
        ],
    ),
    ask(
        "delete_absolute_path",
        "delete by absolute path",
        &["delete in root path"],
    ),
    ask("find_delete", "find -delete", &["find -delete"]),
    ask("find_exec_rm", "find -exec rm", &["find -exec/-execdir rm"]),
    ask("xargs_rm", "xargs with rm", &["xargs with rm"]),
    // Permissions.
    ask(
        "world_writable",
        "world/other-writable permissions",
        &[
            "world/other-writable permissions",
            "recursive world/other-writable (long flag)",
        ],
    ),
    ask(
        "chown_root_recursive",
        "recursive chown to root",
        &[
            "recursive chown to root",
            "recursive chown to root (long flag)",
        ],
    ),
    // Disks.
    ask("dd_copy", "disk copy (dd)", &["disk copy"]),
    ask(
        "disk_partition",
        "changes disk partitions or signatures",
        &["raw block device wipe (shred/wipefs/blkdiscard/sgdisk)"],
    ),
    // SQL.
    ask("sql_drop", "SQL DROP", &["SQL DROP"]),
    ask(
        "sql_delete_all",
        "SQL DELETE without WHERE",
        &["SQL DELETE without WHERE"],
    ),
    ask("sql_truncate", "SQL TRUNCATE", &["SQL TRUNCATE"]),
    // Remote code.
    ask(
        "pipe_remote_to_shell",
        "pipe remote content to shell",
        &["pipe remote content to shell"],
    ),
    ask(
        "remote_substitution",
        "execute remote content via substitution",
        &[
            "execute remote script via process substitution",
            "execute remote content via command substitution",
        ],
    ),
    ask(
        "decoded_pipe_to_shell",
        "pipe decoded content to shell (possible command obfuscation)",
        &[
            "pipe decoded content to shell (possible command obfuscation)",
            "pipe xxd-decoded content to shell (possible command obfuscation)",
            "pipe tr-transformed output to shell (possible command obfuscation)",
            "pipe openssl-decoded content to shell (possible command obfuscation)",
        ],
    ),
    ask(
        "cloud_metadata",
        "cloud metadata endpoint access (instance credentials)",
        &["cloud metadata endpoint access (instance credentials)"],
    ),
    // System and credential files.
    ask(
        "write_system_config",
        "write into /etc (system configuration)",
        &[
            "overwrite system config",
            "copy/move file into system config path",
            "in-place edit of system config",
            "in-place edit of system config (long flag)",
        ],
    ),
    ask("write_ssh", "write into ~/.ssh (SSH keys and config)", &[]),
    ask("write_shell_rc", "write to a shell startup file", &[]),
    ask(
        "write_credentials",
        "write to a credential file (~/.netrc, ~/.pgpass, ~/.npmrc, ~/.pypirc, …)",
        &[],
    ),
    ask(
        "write_hermes_env",
        "write to Hermes secrets (~/.hermes/.env)",
        &[],
    ),
    ask(
        "write_hermes_config",
        "write to Hermes config (~/.hermes/config.yaml holds the approval settings)",
        &[],
    ),
    ask(
        "read_hermes_env",
        "reads Hermes secrets (~/.hermes/.env)",
        &[],
    ),
    // Services and processes.
    ask(
        "service_stop",
        "stop/restart/disable a system service",
        &["stop/restart system service"],
    ),
    ask(
        "pkill_force",
        "force kill processes (pkill -9)",
        &["force kill processes"],
    ),
    ask(
        "killall",
        "kill processes by name (killall)",
        &[
            "force kill processes (killall -KILL)",
            "force kill processes (killall -s KILL)",
            "kill processes by regex (killall -r)",
        ],
    ),
    ask(
        "kill_hermes",
        "kill hermes itself (self-termination)",
        &["kill hermes/gateway process (self-termination)"],
    ),
    ask(
        "hermes_lifecycle",
        "stop, restart or update hermes (kills running agents)",
        &[
            "stop/restart hermes gateway (kills running agents)",
            "hermes update (restarts gateway, kills running agents)",
        ],
    ),
    // Git.
    ask(
        "git_reset_hard",
        "git reset --hard (discards uncommitted changes)",
        &["git reset --hard (destroys uncommitted changes)"],
    ),
    ask(
        "git_push_force",
        "git force push (rewrites remote history)",
        &[
            "git force push (rewrites remote history)",
            "git force push short flag (rewrites remote history)",
        ],
    ),
    ask(
        "git_clean_force",
        "git clean -f (deletes untracked files)",
        &["git clean with force (deletes untracked files)"],
    ),
    ask(
        "git_branch_force_delete",
        "git branch -D (force-deletes a branch)",
        &[
            "git branch force delete",
            "git branch force delete (long flags)",
            "git branch force delete (long flags, force-first)",
        ],
    ),
    // Privileges and containers.
    ask(
        "sudo_privilege_flags",
        "sudo with a privilege flag (-S stdin password, -A askpass, -s/-i shell, -l list)",
        &[
            "sudo with privilege flag (stdin/askpass/shell/list)",
            "sudo with combined-flag privilege escalation",
        ],
    ),
    ask(
        "docker_stop",
        "stops, kills or restarts containers",
        &[
            "docker restart/stop/kill (container lifecycle)",
            "docker compose restart/stop/kill/down (container lifecycle)",
        ],
    ),
    ask(
        "docker_rm_force",
        "force-removes containers (docker rm -f)",
        &[],
    ),
    ask("docker_prune", "deletes unused Docker data (prune)", &[]),
];

/// The rule named `key`.
pub fn pattern(key: &str) -> Option<&'static Pattern> {
    PATTERNS.iter().find(|p| p.key == key)
}

/// The rules an allowlist entry names: a key, or one of Hermes' names for a rule.
/// Hardline rules are never named (they cannot be allowed).
pub fn patterns_named(entry: &str) -> Vec<&'static Pattern> {
    let entry = entry.trim();
    PATTERNS
        .iter()
        .filter(|p| !p.hardline)
        .filter(|p| p.key == entry || p.hermes_names.iter().any(|n| n.eq_ignore_ascii_case(entry)))
        .collect()
}

/// Where the user's home and Hermes' home are, so `/home/alice/.bashrc` reads as
/// `~/.bashrc`. Plain data; the caller fills it in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Homes {
    pub home: Option<String>,
    pub hermes_home: Option<String>,
}

/// The first hardline rule the command line breaks.
pub fn hardline(a: &Analysis, homes: &Homes) -> Option<&'static Pattern> {
    let mut keys = Vec::new();
    for source in &a.sources {
        if fork_bomb(&source.masked) {
            keys.push("fork_bomb");
        }
    }
    for c in &a.commands {
        hardline_command(c, homes, &mut keys);
    }
    keys.into_iter().find_map(pattern)
}

/// Every dangerous rule the command line matches, once each, in rule order.
pub fn dangerous(a: &Analysis, homes: &Homes) -> Vec<&'static Pattern> {
    let mut keys: Vec<&'static str> = Vec::new();
    for c in &a.commands {
        dangerous_command(c, homes, &mut keys);
    }
    pipelines(a, &mut keys);
    for source in &a.sources {
        if cloud_metadata(&source.text) {
            keys.push("cloud_metadata");
        }
    }
    PATTERNS
        .iter()
        .filter(|p| !p.hardline && keys.contains(&p.key))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Options and paths

/// Option words (before `--`) and operands.
struct Opts<'a> {
    flags: Vec<&'a str>,
    operands: Vec<&'a str>,
}

fn split_opts(args: &[String]) -> Opts<'_> {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut ended = false;
    for a in args {
        if ended {
            operands.push(a.as_str());
        } else if a == "--" {
            ended = true;
        } else if a.starts_with('-') && a.len() > 1 {
            flags.push(a.as_str());
        } else {
            operands.push(a.as_str());
        }
    }
    Opts { flags, operands }
}

impl Opts<'_> {
    /// A short-option cluster (`-rf`) holding `c`.
    fn short(&self, c: char) -> bool {
        self.flags
            .iter()
            .any(|f| !f.starts_with("--") && f[1..].contains(c))
    }

    /// A long option that is `--name` or an unambiguous abbreviation of at least
    /// `min` characters (`--rec` for `--recursive`).
    fn long(&self, name: &str, min: usize) -> bool {
        self.flags.iter().any(|f| {
            f.strip_prefix("--").is_some_and(|given| {
                let given = given.split('=').next().unwrap_or(given);
                given.len() >= min && name.starts_with(given)
            })
        })
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// Replaces a leading `$VAR`/`${VAR}` (only when followed by `/` or the end) by `with`.
fn replace_var_prefix(path: &str, var: &str, with: &str) -> Option<String> {
    for spelled in [format!("${{{var}}}"), format!("${var}")] {
        if let Some(rest) = path.strip_prefix(&spelled)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return Some(format!("{with}{rest}"));
        }
    }
    None
}

fn replace_path_prefix(path: &str, prefix: &str, with: &str) -> Option<String> {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return None;
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("{with}{rest}"))
}

/// `path` with home spellings folded to `~` and Hermes' home to `~/.hermes`.
fn fold(path: &str, homes: &Homes) -> String {
    let p = path.trim();
    if let Some(f) = replace_var_prefix(p, "HERMES_HOME", "~/.hermes") {
        return f;
    }
    if let Some(h) = &homes.hermes_home
        && let Some(f) = replace_path_prefix(p, h, "~/.hermes")
    {
        return f;
    }
    if let Some(f) = replace_var_prefix(p, "HOME", "~") {
        return f;
    }
    if let Some(h) = &homes.home
        && h != "/"
        && let Some(f) = replace_path_prefix(p, h, "~")
    {
        return f;
    }
    p.to_string()
}

/// Lexical normalisation: repeated slashes, `.` and `..` (which stays at `/`; leaving
/// `~` upwards gives `~/..`).
fn lexical(path: &str) -> String {
    let (root, rest) = if let Some(r) = path.strip_prefix('/') {
        ("/", r)
    } else if path == "~" {
        return "~".into();
    } else if let Some(r) = path.strip_prefix("~/") {
        ("~/", r)
    } else {
        ("", path)
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in rest.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if root != "/" {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match root {
        "/" => format!("/{joined}"),
        "~/" if joined.is_empty() => "~".into(),
        "~/" => format!("~/{joined}"),
        _ => joined,
    }
}

const SYSTEM_DIRS: &[&str] = &[
    "/home", "/root", "/etc", "/usr", "/var", "/bin", "/sbin", "/boot", "/lib", "/lib64",
];

/// The hardline rule an operand of `rm -r` breaks.
fn rm_target(operand: &str, homes: &Homes) -> Option<&'static str> {
    let mut t = lexical(&fold(operand, homes));
    if let Some(stripped) = t.strip_suffix("/*") {
        t = if stripped.is_empty() {
            "/".into()
        } else {
            stripped.to_string()
        };
    }
    if t == "~" || t.starts_with("~/..") {
        Some("delete_home")
    } else if t == "/" {
        Some("delete_root")
    } else if SYSTEM_DIRS.contains(&t.as_str()) {
        Some("delete_system_dir")
    } else {
        None
    }
}

/// A raw block device path (`/dev/sda1`, `/dev/nvme0n1p2`, `/dev/mapper/x`, …).
fn is_block_device(path: &str) -> bool {
    let p = lexical(path.trim());
    let Some(dev) = p.strip_prefix("/dev/") else {
        return false;
    };
    let alnum = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric());
    for prefix in [
        "sd", "hd", "vd", "xvd", "nvme", "mmcblk", "md", "dm-", "loop", "nbd",
    ] {
        if let Some(rest) = dev.strip_prefix(prefix)
            && alnum(rest)
        {
            return true;
        }
    }
    if let Some(rest) = dev
        .strip_prefix("rdisk")
        .or_else(|| dev.strip_prefix("disk"))
        && rest.starts_with(|c: char| c.is_ascii_digit())
        && alnum(rest)
    {
        return true;
    }
    dev.strip_prefix("mapper/").is_some_and(|r| !r.is_empty())
        || [
            "disk/by-id/",
            "disk/by-uuid/",
            "disk/by-path/",
            "disk/by-label/",
            "disk/by-partuuid/",
            "disk/by-partlabel/",
        ]
        .iter()
        .any(|pre| dev.strip_prefix(pre).is_some_and(|r| !r.is_empty()))
}

// ---------------------------------------------------------------------------------------
// Hardline

fn hardline_command(c: &SimpleCommand, homes: &Homes, keys: &mut Vec<&'static str>) {
    for r in &c.redirects {
        if r.writes() && is_block_device(&r.target) {
            keys.push("redirect_block_device");
        }
    }
    let o = split_opts(&c.args);
    let p = c.program.as_str();
    match p {
        "rm" if rm_recursive(&o) => {
            keys.extend(o.operands.iter().filter_map(|t| rm_target(t, homes)));
        }
        "mke2fs" => keys.push("mkfs"),
        _ if p == "mkfs" || p.starts_with("mkfs.") => keys.push("mkfs"),
        _ if (p == "mkswap" || p == "newfs" || p.starts_with("newfs_"))
            && o.operands.iter().any(|t| is_block_device(t)) =>
        {
            keys.push("mkfs");
        }
        "diskutil" => {
            let erase = [
                "erasedisk",
                "erasevolume",
                "zerodisk",
                "randomdisk",
                "secureerase",
                "reformat",
                "partitiondisk",
            ];
            if o.operands
                .iter()
                .take(2)
                .any(|v| erase.contains(&v.to_lowercase().as_str()))
            {
                keys.push("mkfs");
            }
        }
        "wipefs" | "sgdisk" | "blkdiscard" | "shred"
            if wipes(p, &o) && o.operands.iter().any(|t| is_block_device(t)) =>
        {
            keys.push("wipe_block_device");
        }
        "dd" if c
            .args
            .iter()
            .filter_map(|a| a.strip_prefix("of="))
            .any(is_block_device) =>
        {
            keys.push("dd_block_device");
        }
        "kill" if kills_everything(&c.args) => {
            keys.push("kill_all");
        }
        "shutdown" | "reboot" | "halt" | "poweroff" => keys.push("shutdown"),
        "init" | "telinit" if matches!(c.args.first().map(String::as_str), Some("0" | "6")) => {
            keys.push("init_runlevel");
        }
        "systemctl"
            if matches!(
                systemctl_verb(&c.args),
                Some("poweroff" | "reboot" | "halt" | "kexec" | "soft-reboot")
            ) =>
        {
            keys.push("systemctl_power");
        }
        _ => {}
    }
}

fn rm_recursive(o: &Opts<'_>) -> bool {
    o.short('r') || o.short('R') || o.long("recursive", 1)
}

/// Whether a wipe tool is given its destructive flag.
fn wipes(program: &str, o: &Opts<'_>) -> bool {
    match program {
        "wipefs" => (o.short('a') || o.long("all", 2)) && !(o.short('n') || o.long("no-act", 2)),
        "sgdisk" => {
            o.short('Z')
                || o.short('z')
                || o.short('o')
                || o.long("zap-all", 3)
                || o.long("clear", 2)
        }
        _ => true,
    }
}

/// `kill … -1`: a pid of -1 is every process the caller may signal.
fn kills_everything(args: &[String]) -> bool {
    let mut i = 0;
    match args.first().map(String::as_str) {
        Some("-l" | "-L" | "--list" | "--table") => return false,
        Some("-s" | "-n" | "--signal") => i = 2,
        // A signal name or number, when pids follow it (`kill -9 -1`; `kill -1 123`
        // sends SIGHUP to 123). `kill -1` alone is read as the pid.
        Some(s) if s.starts_with('-') && s != "--" && args.len() > 1 => i = 1,
        _ => {}
    }
    args.get(i..)
        .unwrap_or_default()
        .iter()
        .filter(|a| *a != "--")
        .any(|a| a == "-1")
}

fn systemctl_verb(args: &[String]) -> Option<&str> {
    const WITH_VALUE: &[&str] = &[
        "-t",
        "-p",
        "-H",
        "-M",
        "-s",
        "-n",
        "-o",
        "--type",
        "--property",
        "--host",
        "--machine",
        "--signal",
        "--kill-whom",
        "--lines",
        "--output",
        "--root",
        "--state",
        "--job-mode",
        "--what",
        "--timestamp",
    ];
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if WITH_VALUE.contains(&a.as_str()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(a.as_str());
        }
    }
    None
}

/// `NAME(){ NAME|NAME& }` in text where quotes and comments are blanked.
fn fork_bomb(masked: &str) -> bool {
    let chars: Vec<char> = masked.chars().collect();
    let is_name_char = |c: char| c.is_alphanumeric() || "_:.-".contains(c);
    for (i, ch) in chars.iter().enumerate() {
        if *ch != '(' {
            continue;
        }
        // The name before `(`.
        let mut s = i;
        while s > 0 && chars.get(s - 1).is_some_and(|c| is_name_char(*c)) {
            s -= 1;
        }
        if s == i {
            continue;
        }
        let name: String = chars.get(s..i).unwrap_or_default().iter().collect();
        // `(`, blanks, `)`, blanks, `{`.
        let mut j = i + 1;
        let skip_blanks = |j: &mut usize| {
            while chars.get(*j).is_some_and(|c| c.is_whitespace()) {
                *j += 1;
            }
        };
        skip_blanks(&mut j);
        if chars.get(j) != Some(&')') {
            continue;
        }
        j += 1;
        skip_blanks(&mut j);
        if chars.get(j) != Some(&'{') {
            continue;
        }
        let body: String = chars
            .get(j + 1..)
            .unwrap_or_default()
            .iter()
            .take(256)
            .take_while(|c| **c != '}')
            .filter(|c| !c.is_whitespace())
            .collect();
        if body.contains(&format!("{name}|{name}&")) {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// Dangerous

const FETCHERS: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "http",
    "https",
    "xh",
    "lwp-request",
];

fn dangerous_command(c: &SimpleCommand, homes: &Homes, keys: &mut Vec<&'static str>) {
    let o = split_opts(&c.args);
    let p = c.program.as_str();
    match p {
        "rm" => {
            if rm_recursive(&o) {
                keys.push("recursive_delete");
            }
            if o.operands.iter().any(|t| fold(t, homes).starts_with('/')) {
                keys.push("delete_absolute_path");
            }
            if c.via_find_exec {
                keys.push("find_exec_rm");
            }
            if c.wrappers.iter().any(|w| w == "xargs") {
                keys.push("xargs_rm");
            }
        }
        "find" if c.args.iter().any(|a| a == "-delete") => {
            keys.push("find_delete");
        }
        "chmod"
            if c.args
                .iter()
                .filter(|a| !a.starts_with("--"))
                .any(|a| world_writable(a)) =>
        {
            keys.push("world_writable");
        }
        "chown" => {
            let recursive = o.short('R') || o.long("recursive", 5);
            let owner = o.operands.first().map(|s| {
                s.split([':', '.'])
                    .next()
                    .unwrap_or_default()
                    .to_lowercase()
            });
            if recursive && matches!(owner.as_deref(), Some("root" | "0")) {
                keys.push("chown_root_recursive");
            }
        }
        "dd" if c.args.iter().any(|a| a.starts_with("if=")) => {
            keys.push("dd_copy");
        }
        "fdisk" | "sfdisk" | "cfdisk" | "parted" | "gdisk" => {
            let listing = c.args.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "-l" | "--list"
                        | "-p"
                        | "--print"
                        | "print"
                        | "-h"
                        | "--help"
                        | "-V"
                        | "--version"
                        | "-d"
                        | "--dump"
                )
            });
            if !listing {
                keys.push("disk_partition");
            }
        }
        "wipefs" | "sgdisk" | "blkdiscard" if wipes(p, &o) => {
            keys.push("disk_partition");
        }
        "systemctl"
            if matches!(
                systemctl_verb(&c.args),
                Some(
                    "stop"
                        | "restart"
                        | "try-restart"
                        | "reload-or-restart"
                        | "try-reload-or-restart"
                        | "disable"
                        | "mask"
                        | "kill"
                        | "isolate"
                )
            ) =>
        {
            keys.push("service_stop");
        }
        "service"
            if matches!(
                o.operands.get(1).copied(),
                Some("stop" | "restart" | "force-reload")
            ) =>
        {
            keys.push("service_stop");
        }
        "pkill" => {
            if kill_signal(&c.args) {
                keys.push("pkill_force");
            }
            if o.operands
                .iter()
                .any(|t| t.to_lowercase().contains("hermes"))
            {
                keys.push("kill_hermes");
            }
        }
        "killall" => {
            keys.push("killall");
            if o.operands
                .iter()
                .any(|t| t.to_lowercase().contains("hermes"))
            {
                keys.push("kill_hermes");
            }
        }
        "hermes" => {
            let gateway = c.args.iter().position(|a| a == "gateway");
            let stops = gateway.is_some_and(|g| {
                c.args
                    .get(g + 1..)
                    .unwrap_or_default()
                    .iter()
                    .any(|a| a == "stop" || a == "restart")
            });
            if stops || c.args.iter().any(|a| a == "update") {
                keys.push("hermes_lifecycle");
            }
        }
        "git" => git(&c.args, keys),
        "docker" | "podman" => container(&c.args, keys),
        "docker-compose" | "podman-compose" if compose_stops(&c.args) => {
            keys.push("docker_stop");
        }
        _ => {}
    }
    if !c.sudo_flags.is_empty() && sudo_privileged(&c.sudo_flags) {
        keys.push("sudo_privilege_flags");
    }
    remote_substitution(c, keys);
    sensitive_writes(c, homes, keys);
    if reads_hermes_env(c, homes) {
        keys.push("read_hermes_env");
    }
}

/// An octal mode with the other-write bit, or a symbolic mode giving `o`/`a` write.
fn world_writable(mode: &str) -> bool {
    if !mode.is_empty() && mode.len() <= 5 && mode.chars().all(|c| ('0'..='7').contains(&c)) {
        return mode
            .chars()
            .last()
            .and_then(|c| c.to_digit(8))
            .is_some_and(|d| d & 2 != 0);
    }
    let alphabet = |c: char| "ugoa+-=rwxXst,".contains(c);
    if mode.is_empty() || !mode.chars().all(alphabet) || !mode.contains(['+', '=']) {
        return false;
    }
    mode.split(',').any(|clause| {
        let who: String = clause.chars().take_while(|c| "ugoa".contains(*c)).collect();
        if !(who.contains('o') || who.contains('a')) {
            return false;
        }
        let mut op = ' ';
        clause[who.len()..].chars().any(|c| {
            if "+-=".contains(c) {
                op = c;
                false
            } else {
                c == 'w' && (op == '+' || op == '=')
            }
        })
    })
}

fn kill_signal(args: &[String]) -> bool {
    let is_kill = |s: &str| matches!(s.to_uppercase().as_str(), "9" | "KILL" | "SIGKILL");
    args.iter().enumerate().any(|(i, a)| {
        if let Some(sig) = a.strip_prefix("--signal=") {
            return is_kill(sig);
        }
        if a == "-s" || a == "--signal" {
            return args.get(i + 1).is_some_and(|s| is_kill(s));
        }
        a.strip_prefix('-')
            .is_some_and(|s| !s.starts_with('-') && is_kill(s))
    })
}

fn sudo_privileged(flags: &[String]) -> bool {
    flags.iter().any(|f| {
        if let Some(long) = f.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            name.len() >= 2
                && ["stdin", "askpass", "shell", "list", "login"]
                    .iter()
                    .any(|full| full.starts_with(name))
        } else {
            f.chars().skip(1).any(|c| "SAsli".contains(c))
        }
    })
}

/// The subcommand of `git` (after its global options) and its arguments.
fn git_subcommand(args: &[String]) -> Option<(&str, &[String])> {
    const WITH_VALUE: &[&str] = &[
        "-C",
        "-c",
        "--git-dir",
        "--work-tree",
        "--namespace",
        "--super-prefix",
        "--config-env",
        "--list-cmds",
    ];
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if WITH_VALUE.contains(&a.as_str()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some((a.as_str(), args.get(i + 1..).unwrap_or_default()));
        }
    }
    None
}

fn git(args: &[String], keys: &mut Vec<&'static str>) {
    let Some((sub, rest)) = git_subcommand(args) else {
        return;
    };
    let o = split_opts(rest);
    match sub {
        "reset"
            if o.flags
                .iter()
                .any(|f| matches!(*f, "--h" | "--ha" | "--har" | "--hard")) =>
        {
            keys.push("git_reset_hard");
        }
        "push" => {
            let force = o.short('f')
                || o.flags.iter().any(|f| f.starts_with("--forc"))
                || o.operands.iter().any(|r| r.starts_with('+'));
            if force {
                keys.push("git_push_force");
            }
        }
        "clean" if o.short('f') || o.long("force", 5) => {
            keys.push("git_clean_force");
        }
        "branch" => {
            let delete = o.short('d') || o.long("delete", 3);
            let force = o.short('f') || o.long("force", 5);
            if o.short('D') || (delete && force) {
                keys.push("git_branch_force_delete");
            }
        }
        _ => {}
    }
}

/// The index of a container CLI's subcommand, after its global options.
fn container_subcommand(args: &[String]) -> Option<usize> {
    const WITH_VALUE: &[&str] = &[
        "-H",
        "--host",
        "-c",
        "--context",
        "--config",
        "-l",
        "--log-level",
        "--tlscacert",
        "--tlscert",
        "--tlskey",
        "--url",
        "--connection",
        "--identity",
        "--root",
        "--runroot",
    ];
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if WITH_VALUE.contains(&a.as_str()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

fn container(args: &[String], keys: &mut Vec<&'static str>) {
    let Some(i) = container_subcommand(args) else {
        return;
    };
    let sub = args.get(i).map(String::as_str).unwrap_or_default();
    let rest = args.get(i + 1..).unwrap_or_default();
    let o = split_opts(rest);
    let first = o.operands.first().copied();
    let force = o.short('f') || o.long("force", 3);
    match sub {
        "stop" | "kill" | "restart" => keys.push("docker_stop"),
        "rm" if force => keys.push("docker_rm_force"),
        "container" => match first {
            Some("stop" | "kill" | "restart") => keys.push("docker_stop"),
            Some("rm") if force => keys.push("docker_rm_force"),
            Some("prune") => keys.push("docker_prune"),
            _ => {}
        },
        "system" | "image" | "volume" | "network" | "builder" | "buildx"
            if first == Some("prune") =>
        {
            keys.push("docker_prune")
        }
        "compose" if compose_stops(rest) => {
            keys.push("docker_stop");
        }
        _ => {}
    }
}

fn compose_stops(args: &[String]) -> bool {
    const WITH_VALUE: &[&str] = &[
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--project-directory",
        "--env-file",
        "--profile",
        "--ansi",
        "--parallel",
        "--progress",
    ];
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if WITH_VALUE.contains(&a.as_str()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return matches!(a.as_str(), "down" | "stop" | "kill" | "restart" | "rm");
        }
    }
    false
}

/// A word that runs a fetcher in `$(…)`, backticks or `<(…)`.
fn fetch_substitution(word: &str) -> bool {
    ["$(", "`", "<("].iter().any(|marker| {
        word.match_indices(marker).any(|(i, m)| {
            let rest = word[i + m.len()..].trim_start();
            let first = rest
                .split(|c: char| c.is_whitespace() || ")`;|&".contains(c))
                .next()
                .unwrap_or_default();
            FETCHERS.contains(&program_name(first).as_str())
        })
    })
}

fn remote_substitution(c: &SimpleCommand, keys: &mut Vec<&'static str>) {
    let runs_text = SHELLS.contains(&c.program.as_str())
        || matches!(c.program.as_str(), "eval" | "source" | ".");
    let fed = c.args.iter().any(|a| fetch_substitution(a))
        || c.redirects
            .iter()
            .any(|r| r.op.starts_with('<') && fetch_substitution(&r.target));
    if fetch_substitution(&c.program_word) || (runs_text && fed) {
        keys.push("remote_substitution");
    }
}

fn is_interpreter(p: &str) -> bool {
    p.starts_with("python")
        || p.starts_with("pypy")
        || [
            "perl",
            "ruby",
            "node",
            "nodejs",
            "php",
            "lua",
            "luajit",
            "bun",
            "deno",
            "tclsh",
            "osascript",
            "irb",
        ]
        .contains(&p)
}

/// Whether the command runs its standard input as code.
fn executes_stdin(c: &SimpleCommand) -> bool {
    let p = c.program.as_str();
    if SHELLS.contains(&p) || p == "source" || p == "." {
        return true;
    }
    if !is_interpreter(p) {
        return false;
    }
    for a in &c.args {
        if a == "-" {
            return true;
        }
        if a.starts_with('-') {
            if matches!(
                a.as_str(),
                "-c" | "-e" | "-E" | "-m" | "-p" | "--eval" | "--print" | "-r"
            ) {
                return false;
            }
            continue;
        }
        return false;
    }
    true
}

fn decodes(c: &SimpleCommand) -> bool {
    let o = split_opts(&c.args);
    match c.program.as_str() {
        "base64" | "base32" | "base16" | "basenc" => {
            o.short('d') || o.short('D') || o.long("decode", 3)
        }
        "xxd" => o.short('r') || o.long("revert", 3) || o.has("-revert"),
        "openssl" => c.args.iter().any(|a| a == "-d"),
        "tr" | "rev" | "uudecode" | "gunzip" | "zcat" => true,
        _ => false,
    }
}

const SQL_CLIENTS: &[&str] = &[
    "psql",
    "mysql",
    "mariadb",
    "sqlite3",
    "sqlite",
    "duckdb",
    "sqlcmd",
    "clickhouse",
    "clickhouse-client",
    "cqlsh",
    "snowsql",
    "usql",
    "pgcli",
    "mycli",
    "litecli",
    "cockroach",
    "trino",
    "presto",
    "spark-sql",
    "beeline",
    "sqlplus",
    "isql",
    "osql",
];

fn pipelines(a: &Analysis, keys: &mut Vec<&'static str>) {
    let mut seen: Vec<usize> = Vec::new();
    for c in &a.commands {
        if seen.contains(&c.pipeline) {
            continue;
        }
        seen.push(c.pipeline);
        let mut stages: Vec<&SimpleCommand> = a.pipeline(c.pipeline).collect();
        stages.sort_by_key(|s| s.stage);
        for (j, s) in stages.iter().enumerate() {
            if !executes_stdin(s) {
                continue;
            }
            let before = stages.get(..j).unwrap_or_default();
            if before
                .iter()
                .any(|b| FETCHERS.contains(&b.program.as_str()))
            {
                keys.push("pipe_remote_to_shell");
            }
            if before.iter().any(|b| decodes(b)) {
                keys.push("decoded_pipe_to_shell");
            }
        }
        let sql = stages.iter().any(|s| {
            SQL_CLIENTS.contains(&s.program.as_str())
                || s.args
                    .iter()
                    .any(|w| SQL_CLIENTS.contains(&program_name(w).as_str()))
        });
        if sql {
            for s in &stages {
                for text in s.args.iter().chain(&s.stdin_texts) {
                    sql_findings(text, keys);
                }
            }
        }
    }
}

/// `DROP TABLE|DATABASE|SCHEMA`, `TRUNCATE x`, `DELETE FROM` with no `WHERE` in the same
/// statement.
fn sql_findings(text: &str, keys: &mut Vec<&'static str>) {
    for statement in text.split(';') {
        let words: Vec<String> = statement
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        for (i, w) in words.iter().enumerate() {
            let next = words.get(i + 1).map(String::as_str);
            match w.as_str() {
                "drop" if matches!(next, Some("table" | "database" | "schema")) => {
                    keys.push("sql_drop")
                }
                "truncate" if next.is_some() => keys.push("sql_truncate"),
                "delete"
                    if next == Some("from")
                        && !words
                            .get(i + 2..)
                            .unwrap_or_default()
                            .iter()
                            .any(|w| w == "where") =>
                {
                    keys.push("sql_delete_all")
                }
                _ => {}
            }
        }
    }
}

fn cloud_metadata(text: &str) -> bool {
    let bounded = |needle: &str, extra: &str| {
        text.match_indices(needle).any(|(i, _)| {
            let before = text[..i].chars().last();
            let after = text[i + needle.len()..].chars().next();
            let ok = |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_digit() || extra.contains(c)));
            ok(before) && ok(after)
        })
    };
    bounded("169.254.169.254", ".")
        || bounded("100.100.100.200", ".")
        || text.contains("fd00:ec2::254")
        || text
            .match_indices("metadata.google.internal")
            .any(|(i, m)| {
                let before = text[..i].chars().last();
                let after = text[i + m.len()..].chars().next();
                let ok =
                    |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || "._-".contains(c)));
                ok(before) && ok(after)
            })
}

/// The paths a command writes to, as far as its words tell.
fn write_targets(c: &SimpleCommand) -> Vec<&str> {
    let mut out: Vec<&str> = c
        .redirects
        .iter()
        .filter(|r| r.writes())
        .map(|r| r.target.as_str())
        .collect();
    let o = split_opts(&c.args);
    match c.program.as_str() {
        "tee" => out.extend(&o.operands),
        "cp" | "mv" | "install" | "ln" | "rsync" | "scp" => {
            let explicit = c.args.iter().enumerate().find_map(|(i, a)| {
                if a == "-t" || a == "--target-directory" {
                    c.args.get(i + 1).map(String::as_str)
                } else {
                    a.strip_prefix("--target-directory=")
                        .or_else(|| a.strip_prefix("-t").filter(|r| !r.is_empty()))
                }
            });
            match explicit {
                Some(dir) => out.push(dir),
                None if o.operands.len() >= 2 => out.extend(o.operands.last()),
                None => {}
            }
        }
        "sed" if o.short('i') || o.long("in-place", 4) => {
            out.extend(&o.operands);
        }
        "perl" | "ruby" if o.short('i') => {
            out.extend(&o.operands);
        }
        "dd" => out.extend(c.args.iter().filter_map(|a| a.strip_prefix("of="))),
        "truncate" => out.extend(&o.operands),
        _ => {}
    }
    out
}

const SHELL_RC: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".kshrc",
    ".config/fish/config.fish",
];
const CREDENTIAL_FILES: &[&str] = &[
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".aws/credentials",
    ".docker/config.json",
];

fn sensitive_target(path: &str, homes: &Homes) -> Option<&'static str> {
    let t = lexical(&fold(path, homes));
    if t == "/etc" || t.starts_with("/etc/") || t.starts_with("/private/etc/") {
        return Some("write_system_config");
    }
    let name = t.strip_prefix("~/")?;
    if name == ".ssh" || name.starts_with(".ssh/") {
        Some("write_ssh")
    } else if SHELL_RC.contains(&name) {
        Some("write_shell_rc")
    } else if CREDENTIAL_FILES.contains(&name) {
        Some("write_credentials")
    } else if name == ".hermes/.env" {
        Some("write_hermes_env")
    } else if name == ".hermes/config.yaml" {
        Some("write_hermes_config")
    } else {
        None
    }
}

fn sensitive_writes(c: &SimpleCommand, homes: &Homes, keys: &mut Vec<&'static str>) {
    for t in write_targets(c) {
        if let Some(k) = sensitive_target(t, homes) {
            keys.push(k);
        }
    }
}

/// Any word naming Hermes' `.env` (`cat ~/.hermes/.env`, `curl -d @$HERMES_HOME/.env`).
fn reads_hermes_env(c: &SimpleCommand, homes: &Homes) -> bool {
    let mut needles: Vec<String> = vec![
        "~/.hermes/.env".into(),
        "$HOME/.hermes/.env".into(),
        "${HOME}/.hermes/.env".into(),
        "$HERMES_HOME/.env".into(),
        "${HERMES_HOME}/.env".into(),
    ];
    if let Some(h) = &homes.hermes_home {
        needles.push(format!("{}/.env", h.trim_end_matches('/')));
    }
    if let Some(h) = &homes.home
        && h != "/"
    {
        needles.push(format!("{}/.hermes/.env", h.trim_end_matches('/')));
    }
    c.args
        .iter()
        .chain(c.redirects.iter().map(|r| &r.target))
        .any(|w| needles.iter().any(|n| w.contains(n.as_str())))
}

// ---------------------------------------------------------------------------------------
// Globs

/// Whether `text` matches `pattern`, where `*` matches any run of characters (spaces and
/// `/` included) and `?` any one character; case-insensitive, runs of blanks compared as
/// one space. A pattern ending in ` *` also matches the bare command (`git push *`
/// matches `git push`).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let squash = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let pattern = squash(pattern);
    let text = squash(text);
    if pattern.is_empty() {
        return false;
    }
    if wildcard(&pattern, &text) {
        return true;
    }
    pattern
        .strip_suffix(" *")
        .is_some_and(|bare| wildcard(bare, &text))
}

fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_twelve_are_hardline() {
        let mut keys: Vec<&str> = PATTERNS.iter().map(|p| p.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), PATTERNS.len());
        assert_eq!(PATTERNS.iter().filter(|p| p.hardline).count(), 12);
    }

    #[test]
    fn hermes_names_select_rules() {
        let keys = |e: &str| patterns_named(e).iter().map(|p| p.key).collect::<Vec<_>>();
        assert_eq!(keys("recursive delete"), ["recursive_delete"]);
        assert_eq!(keys("git_reset_hard"), ["git_reset_hard"]);
        assert_eq!(
            keys("git reset --hard (destroys uncommitted changes)"),
            ["git_reset_hard"]
        );
        assert!(keys("delete_root").is_empty(), "hardline cannot be named");
        assert!(keys("ls *").is_empty());
    }

    #[test]
    fn globs() {
        assert!(glob_matches("sudo *", "sudo ls -la"));
        assert!(glob_matches("sudo *", "sudo"));
        assert!(glob_matches("git push *", "git  push --force origin main"));
        assert!(glob_matches("RM -rf *", "rm -rf build"));
        assert!(glob_matches("rm -?f *", "rm -rf x"));
        assert!(glob_matches("reboot", "reboot"));
        assert!(!glob_matches("sudo *", "sudoedit x"));
        assert!(!glob_matches("git push *", "git pull"));
        assert!(!glob_matches("rm -rf *", "rm -r x"));
        assert!(!glob_matches("", "ls"));
        assert!(glob_matches("*", "anything at all"));
        assert!(glob_matches("a*b*c", "a x b y c"));
        assert!(!glob_matches("a*b*c", "a x b y"));
    }

    #[test]
    fn paths() {
        let homes = Homes {
            home: Some("/home/alice".into()),
            hermes_home: Some("/srv/hermes".into()),
        };
        assert_eq!(lexical("//usr/./bin/../"), "/usr");
        assert_eq!(lexical("/../.."), "/");
        assert_eq!(lexical("~/a/../.."), "~/..");
        assert_eq!(fold("/home/alice/.bashrc", &homes), "~/.bashrc");
        assert_eq!(fold("/home/alicex", &homes), "/home/alicex");
        assert_eq!(fold("${HOME}", &homes), "~");
        assert_eq!(fold("$HOMEDIR/x", &homes), "$HOMEDIR/x");
        assert_eq!(fold("/srv/hermes/.env", &homes), "~/.hermes/.env");
        assert_eq!(
            fold("$HERMES_HOME/config.yaml", &homes),
            "~/.hermes/config.yaml"
        );
        for dev in [
            "/dev/sda",
            "/dev/sda1",
            "//dev/nvme0n1p2",
            "/dev/mmcblk0",
            "/dev/vdb",
            "/dev/mapper/root",
            "/dev/disk2",
            "/dev/disk/by-id/ata-x",
        ] {
            assert!(is_block_device(dev), "{dev}");
        }
        for not in [
            "/dev/null",
            "/dev/zero",
            "/dev/stdout",
            "/dev/shm/x",
            "/dev/disk",
            "/home/u/dev/sdk/x",
            "/dev/tty",
            "/dev/loop-control",
        ] {
            assert!(!is_block_device(not), "{not}");
        }
    }

    #[test]
    fn modes() {
        for m in [
            "777", "666", "0777", "1777", "o+w", "a+rwx", "go=rw", "u+x,o+w",
        ] {
            assert!(world_writable(m), "{m}");
        }
        for m in ["755", "644", "+x", "u+w", "o-w", "a-w", "build", "g+w"] {
            assert!(!world_writable(m), "{m}");
        }
    }
}
