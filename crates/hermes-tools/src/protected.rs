//! Paths the file tools refuse even inside the workspace.
//!
//! Confinement ([`crate::fs`]) keeps the file tools inside the workspace, but the workspace
//! is often the home directory (it defaults to where `hermes` was started). These rules keep
//! Hermes' credential and startup-file deny lists inside it:
//!
//! - **credentials** ([`credential`]) are neither read, searched nor written: all of `.ssh/`
//!   except public keys (`*.pub`), `.aws/`, `.gnupg/`, `.kube/`, `.azure/`,
//!   `.config/gcloud/`, any `.hermes/` (a Hermes home: configuration and API keys),
//!   `.docker/config.json`, `.config/gh/hosts.yml`, `.cargo/credentials(.toml)`, `.netrc`,
//!   `.pgpass`, `.npmrc`, `.pypirc`, `.git-credentials`, `.vault-token`;
//! - **startup and tool configuration** ([`write_protected`]) is not written, since the host
//!   runs it: the bash/zsh/sh startup files, `.config/fish/`, `.gitconfig`, `.config/git/`,
//!   and all of `.ssh/` (`authorized_keys`, `config`, `rc`);
//! - **git control files** ([`git_control`]) are not written: any path with a component
//!   named `.git` (the directory, and a *file* `.git` whose `gitdir:` line would make git
//!   use another directory as the repository), `.gitmodules` (submodule URLs and paths that a
//!   later `git submodule update` follows) and `commondir` (which points a git directory at
//!   another one's config). The checks that need the filesystem (a directory that is, or is
//!   about to become, a git repository) live in [`crate::fs`].
//!
//! Matching is on path components, at any depth below the workspace root: `.aws/credentials`
//! matches `.aws/credentials` in a home-directory workspace and `home/me/.aws/credentials`
//! in a workspace above it. Names compare ASCII-case-insensitively, so a case-insensitive
//! mount cannot slip past with `.SSH`; on a case-sensitive one the cost is refusing an
//! unusual name like `.Bashrc`. A dotfiles repository inside the workspace is covered by
//! the same names (its `.bashrc` is refused too); the user edits those files.

use std::path::{Component, Path};

/// How a rule's components must sit in the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The directory and everything below it.
    Dir,
    /// Like `Dir`, but files ending in `.pub` inside may be read.
    DirExceptPub,
    /// Exactly this file (the rule's components end the path).
    File,
}

struct Rule {
    path: &'static [&'static str],
    kind: Kind,
    what: &'static str,
}

const fn rule(path: &'static [&'static str], kind: Kind, what: &'static str) -> Rule {
    Rule { path, kind, what }
}

/// Never read, searched or written.
const CREDENTIALS: &[Rule] = &[
    rule(&[".ssh"], Kind::DirExceptPub, "SSH keys and configuration"),
    rule(&[".aws"], Kind::Dir, "AWS credentials and configuration"),
    rule(&[".gnupg"], Kind::Dir, "GnuPG keys"),
    rule(&[".kube"], Kind::Dir, "Kubernetes credentials"),
    rule(&[".azure"], Kind::Dir, "Azure credentials"),
    rule(
        &[".config", "gcloud"],
        Kind::Dir,
        "Google Cloud credentials",
    ),
    rule(
        &[".hermes"],
        Kind::Dir,
        "a Hermes home: configuration and API keys",
    ),
    rule(
        &[".docker", "config.json"],
        Kind::File,
        "Docker registry credentials",
    ),
    rule(
        &[".config", "gh", "hosts.yml"],
        Kind::File,
        "GitHub CLI token",
    ),
    rule(
        &[".cargo", "credentials.toml"],
        Kind::File,
        "crates.io token",
    ),
    rule(&[".cargo", "credentials"], Kind::File, "crates.io token"),
    rule(&[".netrc"], Kind::File, "login credentials"),
    rule(&[".pgpass"], Kind::File, "PostgreSQL passwords"),
    rule(&[".npmrc"], Kind::File, "npm registry credentials"),
    rule(&[".pypirc"], Kind::File, "PyPI credentials"),
    rule(&[".git-credentials"], Kind::File, "stored git credentials"),
    rule(&[".vault-token"], Kind::File, "Vault token"),
];

/// Never written (in addition to [`CREDENTIALS`]): the host runs or trusts them.
const STARTUP: &[Rule] = &[
    rule(&[".bashrc"], Kind::File, "shell startup file"),
    rule(&[".bash_profile"], Kind::File, "shell startup file"),
    rule(&[".bash_login"], Kind::File, "shell startup file"),
    rule(&[".bash_logout"], Kind::File, "shell startup file"),
    rule(&[".profile"], Kind::File, "shell startup file"),
    rule(&[".zshrc"], Kind::File, "shell startup file"),
    rule(&[".zprofile"], Kind::File, "shell startup file"),
    rule(&[".zshenv"], Kind::File, "shell startup file"),
    rule(&[".zlogin"], Kind::File, "shell startup file"),
    rule(&[".zlogout"], Kind::File, "shell startup file"),
    rule(&[".config", "fish"], Kind::Dir, "fish shell configuration"),
    rule(
        &[".gitconfig"],
        Kind::File,
        "git's user configuration, which can run commands",
    ),
    rule(
        &[".config", "git"],
        Kind::Dir,
        "git's user configuration, which can run commands",
    ),
];

fn names(rel: &Path) -> Vec<&str> {
    rel.components()
        .filter_map(|c| match c {
            // A name that is not UTF-8 matches no rule (all rule names are ASCII).
            Component::Normal(n) => Some(n.to_str().unwrap_or("")),
            _ => None,
        })
        .collect()
}

fn matches(rule: &Rule, names: &[&str], reading: bool) -> bool {
    let n = rule.path.len();
    if names.len() < n {
        return false;
    }
    (0..=names.len() - n).any(|start| {
        let window = &names[start..start + n];
        if !window
            .iter()
            .zip(rule.path)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
        {
            return false;
        }
        let ends_path = start + n == names.len();
        match rule.kind {
            Kind::File => ends_path,
            Kind::Dir => true,
            Kind::DirExceptPub => {
                let public = !ends_path
                    && names
                        .last()
                        .is_some_and(|l| l.to_ascii_lowercase().ends_with(".pub"));
                !(reading && public)
            }
        }
    })
}

fn first_match(rules: &[Rule], names: &[&str], reading: bool) -> Option<&'static str> {
    rules
        .iter()
        .find(|r| matches(r, names, reading))
        .map(|r| r.what)
}

/// If `rel` (relative to the workspace root) is a credential file that file tools must not
/// read, what it is (e.g. "AWS credentials and configuration").
pub fn credential(rel: &Path) -> Option<&'static str> {
    first_match(CREDENTIALS, &names(rel), true)
}

/// If `rel` must not be written because it holds credentials or is startup or tool
/// configuration the host runs, what it is. Git control files are [`git_control`].
pub fn write_protected(rel: &Path) -> Option<&'static str> {
    let names = names(rel);
    first_match(CREDENTIALS, &names, false).or_else(|| first_match(STARTUP, &names, false))
}

/// Whether `name` is `.git` as git (or a case-insensitive filesystem) would see it: any
/// case, and trailing dots or spaces ignored (NTFS drops them).
fn is_dot_git(name: &str) -> bool {
    name.trim_end_matches(['.', ' '])
        .eq_ignore_ascii_case(".git")
}

/// If writing `rel` would change git's control files, why. See the module documentation.
pub fn git_control(rel: &Path) -> Option<&'static str> {
    let names = names(rel);
    if names.iter().any(|n| is_dot_git(n)) {
        return Some("inside .git, or a .git file that redirects git to another directory");
    }
    if names.iter().any(|n| n.eq_ignore_ascii_case(".gitmodules")) {
        return Some(".gitmodules: submodule URLs and paths that git follows");
    }
    if names
        .last()
        .is_some_and(|n| n.eq_ignore_ascii_case("commondir"))
    {
        return Some("a git 'commondir' pointer to another repository's configuration");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(p: &str) -> bool {
        credential(Path::new(p)).is_some()
    }

    fn wp(p: &str) -> bool {
        write_protected(Path::new(p)).is_some()
    }

    #[test]
    fn credentials_are_matched_by_name_at_any_depth() {
        for p in [
            ".ssh/id_ed25519",
            ".ssh/id_rsa",
            ".ssh/config",
            ".ssh/known_hosts",
            ".ssh/keys/deploy",
            "home/me/.ssh/id_ed25519",
            ".SSH/id_rsa",
            ".aws/credentials",
            ".aws/config",
            ".aws/sso/cache/x.json",
            ".gnupg/private-keys-v1.d/k.key",
            ".kube/config",
            ".docker/config.json",
            ".netrc",
            ".pgpass",
            ".npmrc",
            "project/.npmrc",
            ".pypirc",
            ".git-credentials",
            ".config/gh/hosts.yml",
            ".hermes/.env",
            ".hermes/config.yaml",
            "profiles/work/.hermes/auth.json",
            ".cargo/credentials.toml",
            ".config/gcloud/application_default_credentials.json",
        ] {
            assert!(cred(p), "{p} should be a credential");
            assert!(wp(p), "{p} should not be writable");
        }
        assert_eq!(
            credential(Path::new(".aws/credentials")),
            Some("AWS credentials and configuration")
        );
    }

    #[test]
    fn ordinary_files_and_public_keys_stay_readable() {
        for p in [
            ".ssh/id_ed25519.pub",
            ".ssh/keys/deploy.PUB",
            "src/ssh.rs",
            "ssh/id_rsa",
            "docs/.aws.md",
            ".docker/daemon.json",
            "config.json",
            ".hermes.md",
            ".config/gh/config.yml",
            ".npmrc.example",
            "README.md",
        ] {
            assert!(!cred(p), "{p} should be readable");
        }
        // Public keys are readable, not writable (authorized_keys lives next to them).
        assert!(wp(".ssh/id_ed25519.pub"));
        // `.ssh` itself as a file name is refused as a whole.
        assert!(cred(".ssh"));
    }

    #[test]
    fn startup_files_are_not_writable_but_readable() {
        for p in [
            ".bashrc",
            ".bash_profile",
            ".bash_login",
            ".profile",
            ".zshrc",
            ".zprofile",
            ".zshenv",
            ".config/fish/config.fish",
            ".config/fish/conf.d/x.fish",
            ".ssh/authorized_keys",
            ".ssh/config",
            ".gitconfig",
            ".config/git/config",
            "home/me/.bashrc",
        ] {
            assert!(wp(p), "{p} should not be writable");
        }
        assert!(!cred(".bashrc"));
        assert!(!cred(".gitconfig"));
        for p in [
            "src/profile.rs",
            "bashrc.md",
            ".config/fishing",
            "notes/.zshrc.txt",
        ] {
            assert!(!wp(p), "{p} should be writable");
        }
    }

    #[test]
    fn git_control_components() {
        for p in [
            ".git",
            ".git/hooks/pre-commit",
            ".git/config",
            ".git/config.worktree",
            ".git/modules/sub/hooks/post-checkout",
            ".git/modules/sub/config",
            ".git/worktrees/w/config.worktree",
            ".git/worktrees/w/commondir",
            ".git/info/attributes",
            ".git/objects/ab/cdef",
            ".GIT/hooks/x",
            ".Git/config",
            ".git./config",
            ".git /config",
            "sub/.git",
            "a/b/.git/HEAD",
            ".gitmodules",
            "vendor/lib/.gitmodules",
            "x/commondir",
        ] {
            assert!(git_control(Path::new(p)).is_some(), "{p} should be refused");
        }
        for p in [
            ".gitignore",
            ".gitattributes",
            ".github/workflows/ci.yml",
            "git/config",
            "config",
            "src/.gitkeep",
            "my.git/README",
        ] {
            assert!(git_control(Path::new(p)).is_none(), "{p} should be allowed");
        }
    }
}
