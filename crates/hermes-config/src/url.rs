//! Base URLs: parsing them the way the HTTP client does, and deciding where they point.
//!
//! Which API key is attached to a request depends on the host of the base URL, so the
//! host must be read exactly as the HTTP client (reqwest, a WHATWG URL parser) reads it.
//! [`parse_base_url`] uses the same parser (the `url` crate) and, on top of it, refuses
//! URLs whose host a person would read differently from the parser:
//!
//! - a backslash anywhere (`https://evil.example\x.openai.azure.com` goes to
//!   `evil.example`: WHATWG reads `\` as `/`);
//! - spaces and control characters (the parser silently drops tabs and newlines);
//! - percent-escapes in the host (`api%2eopenai%2ecom` is `api.openai.com`);
//! - hosts the parser rewrites: `127.1` or `0x7f.0.0.1` (both `127.0.0.1`), non-ASCII
//!   names (rewritten to punycode), empty labels (`a..b`);
//! - more than one `@`, and a user name that looks like a host
//!   (`http://localhost:pw@api.openai.com` goes to `api.openai.com`);
//! - anything but `http://` and `https://` followed by a host.
//!
//! Credentials in the URL (`https://user:password@host/v1`) are supported deliberately:
//! the HTTP client sends them as HTTP basic authentication to that same host, and the
//! host used to choose an API key is the one the client connects to. They are never
//! shown: [`redact`] replaces them with `***`.
//!
//! Where a host is, for two different decisions:
//!
//! - [`is_loopback_host`]: this machine. `localhost`, `127.0.0.0/8`, `::1` (also written
//!   `::ffff:127.x.y.z`), and the unspecified addresses `0.0.0.0` and `::`, which connect
//!   to this machine on Linux and macOS. Names below `.localhost` are *not* included: the
//!   system resolver may send them to DNS. Only loopback endpoints are free for pricing
//!   ([`is_local_endpoint`]).
//! - [`is_local_network_host`]: this machine or the local network, i.e. loopback plus
//!   private and link-local addresses (`10/8`, `172.16/12`, `192.168/16`, `169.254/16`,
//!   `fc00::/7`, `fe80::/10`), single-label names (compose services such as `ollama`) and
//!   `*.local`, `*.lan`, `*.internal`, `*.home.arpa`, `*.localhost`. Such endpoints may
//!   run without an API key, but they are *not* free for pricing purposes: a box on the
//!   LAN can be a paid proxy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ::url::Url;

use crate::error::ConfigError;

/// Parses an http(s) base URL, refusing any URL whose host a plain reading would get
/// wrong (see the module docs). Surrounding whitespace is ignored.
pub fn parse_base_url(s: &str) -> Result<Url, ConfigError> {
    let t = s.trim();
    let bad = |reason: String| ConfigError::BadUrl {
        url: redact(t),
        reason,
    };
    const EXAMPLE: &str = "write it like http://127.0.0.1:8000/v1 or https://api.example.com/v1";
    if t.is_empty() {
        return Err(bad(format!("is empty; {EXAMPLE}")));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "contains a space or a control character; remove it".to_owned()
        ));
    }
    if t.contains('\\') {
        return Err(bad(
            "contains a backslash, which URL parsers read as `/`, so the host would not be what it seems; remove it".to_owned(),
        ));
    }
    let Some((scheme, rest)) = t.split_once("://") else {
        return Err(bad(format!("is not an http(s) URL; {EXAMPLE}")));
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return Err(bad(format!(
            "is not an http(s) URL (scheme `{scheme}`); {EXAMPLE}"
        )));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (raw_host, port) = split_host_port(host_port).map_err(bad)?;
    if raw_host.is_empty() {
        return Err(bad(format!("has no host; {EXAMPLE}")));
    }
    if let Some(port) = port
        && !port.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad(format!(
            "has an invalid port `{port}`; a port is a number such as 8000"
        )));
    }
    if raw_host.contains('%') {
        return Err(bad(
            "has a percent-escape in the host (`%2e` would be read as `.`); write the host plainly"
                .to_owned(),
        ));
    }
    if let Some(userinfo) = userinfo {
        if userinfo.contains('@') {
            return Err(bad(
                "has more than one `@` before the host; percent-encode `@` in the user name or password as %40".to_owned(),
            ));
        }
        let user = userinfo.split(':').next().unwrap_or_default();
        if looks_like_host(user) {
            return Err(bad(format!(
                "sends requests to `{raw_host}`, not to `{user}`: everything before `@` is a user name and password; remove that part, or write the host you mean right after `//`"
            )));
        }
    }

    let url = Url::parse(t).map_err(|e| bad(format!("is not a valid URL ({e}); {EXAMPLE}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!("is not an http(s) URL; {EXAMPLE}")));
    }
    let Some(parsed) = url.host() else {
        return Err(bad(format!("has no host; {EXAMPLE}")));
    };
    let same = match &parsed {
        ::url::Host::Domain(d) => *d == raw_host.to_ascii_lowercase(),
        ::url::Host::Ipv4(a) => a.to_string() == raw_host,
        ::url::Host::Ipv6(a) => {
            raw_host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<Ipv6Addr>().ok())
                == Some(*a)
        }
    };
    if !same {
        let shown = parsed.to_string();
        let why = if raw_host.is_ascii() {
            String::new()
        } else {
            " (non-ASCII host names are rewritten to their punycode form)".to_owned()
        };
        return Err(bad(format!(
            "has the host `{raw_host}`, which is read as `{shown}`{why}; write `{shown}` if that is the host you mean"
        )));
    }
    if let ::url::Host::Domain(d) = &parsed {
        let d = d.strip_suffix('.').unwrap_or(d);
        if d.split('.').any(str::is_empty) {
            return Err(bad(format!(
                "has an empty label in the host `{raw_host}` (a leading dot or `..`); remove the extra dot"
            )));
        }
    }
    Ok(url)
}

/// Splits `host[:port]` or `[v6][:port]` as written.
fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), String> {
    if host_port.starts_with('[') {
        let Some(end) = host_port.find(']') else {
            return Err("has an IPv6 address without the closing `]`".to_owned());
        };
        let (host, after) = host_port.split_at(end + 1);
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!(
                    "has `{after}` after the IPv6 address; expected `:port`"
                )),
            },
        };
    }
    match host_port.split_once(':') {
        Some((_, p)) if p.contains(':') => Err(format!(
            "has more than one `:` in `{host_port}`; write an IPv6 address in brackets, like http://[::1]:8000/v1"
        )),
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((host_port, None)),
    }
}

/// A user name that a reader could take for the host.
fn looks_like_host(user: &str) -> bool {
    user.contains('.') || user.eq_ignore_ascii_case("localhost") || user.parse::<IpAddr>().is_ok()
}

/// The host of a URL, lower-case, without IPv6 brackets or a trailing dot
/// (`api.openai.com.` is `api.openai.com`).
pub fn host(url: &Url) -> Option<String> {
    let h = match url.host()? {
        ::url::Host::Domain(d) => d.to_ascii_lowercase(),
        ::url::Host::Ipv4(a) => a.to_string(),
        ::url::Host::Ipv6(a) => a.to_string(),
    };
    let h = h.strip_suffix('.').map(str::to_owned).unwrap_or(h);
    (!h.is_empty()).then_some(h)
}

/// Normalises a host as given by [`host`] or by hand: lower-case, no brackets, no
/// trailing dot.
fn normalise(host: &str) -> String {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    let h = h.strip_suffix('.').unwrap_or(h);
    h.to_ascii_lowercase()
}

fn v4_of(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    }
}

/// Whether `host` is this machine: `localhost`, `127.0.0.0/8`, `::1`, `0.0.0.0`, `::`
/// (also IPv4-mapped). See the module docs for what is deliberately left out.
pub fn is_loopback_host(host: &str) -> bool {
    let h = normalise(host);
    if h == "localhost" {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(ip) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || v4_of(ip).is_some_and(|a| a.is_loopback() || a.is_unspecified())
        }
        Err(_) => false,
    }
}

/// Whether `host` is this machine or on the local network (private and link-local
/// addresses, single-label and local-only names). Such endpoints may need no API key,
/// but they are not free for pricing purposes.
pub fn is_local_network_host(host: &str) -> bool {
    if is_loopback_host(host) {
        return true;
    }
    let h = normalise(host);
    if h.is_empty() {
        return false;
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        if let Some(a) = v4_of(ip) {
            return a.is_private() || a.is_link_local();
        }
        let first = match ip {
            IpAddr::V6(a) => a.segments()[0],
            IpAddr::V4(_) => return false,
        };
        return (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80;
    }
    !h.contains('.')
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
            .iter()
            .any(|s| h.ends_with(s))
}

/// Whether a base URL points at this machine, for pricing: `true` only for a URL that
/// [`parse_base_url`] accepts and whose host is loopback. A LAN host is not local here.
pub fn is_local_endpoint(url: &str) -> bool {
    parse_base_url(url)
        .ok()
        .and_then(|u| host(&u))
        .is_some_and(|h| is_loopback_host(&h))
}

/// `url` as written, with any user name and password replaced by `***`
/// (`https://***@host/v1`). Works on text that is not a valid URL too.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_host(s: &str) -> Result<String, String> {
        parse_base_url(s)
            .map(|u| host(&u).unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn plain_urls_parse_and_give_their_host() {
        for (url, want) in [
            ("http://127.0.0.1:8000/v1", "127.0.0.1"),
            ("https://api.openai.com/v1", "api.openai.com"),
            ("  https://api.openai.com/v1/  ", "api.openai.com"),
            ("HTTPS://API.OpenAI.COM/v1", "api.openai.com"),
            ("https://api.openai.com./v1", "api.openai.com"),
            ("http://[::1]:11434/v1", "::1"),
            ("http://[0:0:0:0:0:0:0:1]/v1", "::1"),
            ("http://[FD00::1]/v1", "fd00::1"),
            ("http://ollama:11434", "ollama"),
            (
                "https://x.openai.azure.com/openai?api-version=1",
                "x.openai.azure.com",
            ),
            ("https://user:pw@llm.example.com/v1", "llm.example.com"),
            ("https://:pw@llm.example.com/v1", "llm.example.com"),
            ("http://host:/v1", "host"),
        ] {
            assert_eq!(parsed_host(url).as_deref(), Ok(want), "{url}");
        }
    }

    #[test]
    fn confusable_authorities_are_refused() {
        for (url, needle) in [
            ("https://evil.example\\x.openai.azure.com/v1", "backslash"),
            ("https://evil.example\\@api.openai.com/v1", "backslash"),
            ("https://api.openai.com/v1\\x", "backslash"),
            (
                "http://localhost:pw@api.openai.com/v1",
                "not to `localhost`",
            ),
            (
                "https://api.openai.com@evil.example/v1",
                "not to `api.openai.com`",
            ),
            ("https://127.0.0.1@evil.example/v1", "not to `127.0.0.1`"),
            ("https://a@b@evil.example/v1", "more than one `@`"),
            (
                "https://evil.example%2f.openai.azure.com/v1",
                "percent-escape",
            ),
            ("https://api%2eopenai%2ecom/v1", "percent-escape"),
            ("https://api.openai.com%2e/v1", "percent-escape"),
            ("http://127.1/v1", "read as `127.0.0.1`"),
            ("http://0x7f.0.0.1/v1", "read as `127.0.0.1`"),
            ("http://2130706433/v1", "read as `127.0.0.1`"),
            ("http://127.000.000.001/v1", "read as `127.0.0.1`"),
            ("https://bücher.example/v1", "punycode"),
            ("https://api.openai.com../v1", "empty label"),
            ("https://.api.openai.com/v1", "empty label"),
            ("https://ev\til.example/v1", "control character"),
            ("https://evil .example/v1", "space"),
            ("ftp://api.openai.com/v1", "scheme `ftp`"),
            ("file:///etc/passwd", "scheme `file`"),
            ("localhost:8000", "not an http(s) URL"),
            ("https:api.openai.com/v1", "not an http(s) URL"),
            ("https:///api.openai.com/v1", "no host"),
            ("http://", "no host"),
            ("", "empty"),
            ("http://::1/v1", "more than one `:`"),
            ("http://[::1/v1", "closing `]`"),
            ("http://host:80a/v1", "invalid port"),
        ] {
            let err = parsed_host(url).expect_err(url);
            assert!(err.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn fragment_and_query_end_the_authority() {
        // Both readers agree on these, so they parse; the host is the part before `#`/`?`.
        assert_eq!(
            parsed_host("https://evil.example#.openai.azure.com/v1").as_deref(),
            Ok("evil.example")
        );
        assert_eq!(
            parsed_host("https://evil.example?.openai.azure.com/v1").as_deref(),
            Ok("evil.example")
        );
        // `@` after the authority is part of the path.
        assert_eq!(
            parsed_host("https://llm.example.com/v1@evil.example").as_deref(),
            Ok("llm.example.com")
        );
    }

    #[test]
    fn errors_never_show_the_password() {
        let err = parse_base_url("https://user:hunter2@a..b/v1").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("https://***@a..b/v1"), "{msg}");
    }

    #[test]
    fn loopback_is_this_machine_only() {
        for h in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "::",
        ] {
            assert!(is_loopback_host(h), "{h}");
            assert!(is_local_network_host(h), "{h}");
        }
        for h in [
            "10.1.2.3",
            "192.168.0.5",
            "fd00::1",
            "ollama",
            "box.local",
            "app.localhost",
            "127.0.0.1.nip.io",
            "localhost.example.com",
            "api.openai.com",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn local_network_hosts() {
        for h in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.5",
            "169.254.1.1",
            "::ffff:10.0.0.1",
            "fd00::1",
            "fe80::1",
            "ollama",
            "box.local",
            "gpu.lan",
            "svc.internal",
            "nas.home.arpa",
            "app.localhost",
        ] {
            assert!(is_local_network_host(h), "{h}");
        }
        for h in [
            "api.example.com",
            "8.8.8.8",
            "172.32.0.1",
            "2001:db8::1",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_local_network_host(h), "{h}");
        }
    }

    #[test]
    fn only_loopback_endpoints_are_local_for_pricing() {
        for u in [
            "http://localhost:11434/v1",
            "http://127.0.0.1:8080/v1",
            "http://[::1]:8080/v1",
            "http://0.0.0.0:8000/v1",
            "http://user:pw@localhost:8000/v1",
        ] {
            assert!(is_local_endpoint(u), "{u}");
        }
        for u in [
            "http://localhost:pw@api.openai.com/v1",
            "https://127.0.0.1.nip.io/v1",
            "https://evil.example\\@127.0.0.1/v1",
            "http://192.168.1.10:8000/v1",
            "http://ollama:11434/v1",
            "https://api.openai.com/v1",
            "not a url",
            "http://127.1/v1",
        ] {
            assert!(!is_local_endpoint(u), "{u}");
        }
    }

    #[test]
    fn redaction_hides_userinfo_only() {
        assert_eq!(
            redact("https://user:pw@host:1/v1?x=1"),
            "https://***@host:1/v1?x=1"
        );
        assert_eq!(redact("https://tok@host"), "https://***@host");
        assert_eq!(redact("https://a@b@host/p@q"), "https://***@host/p@q");
        assert_eq!(redact("http://host/v1@x"), "http://host/v1@x");
        assert_eq!(redact("not a url"), "not a url");
    }
}
