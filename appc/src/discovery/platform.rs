//! The host's operating system and architecture in appc's spelling (checklist §2.3), the defaults
//! for the `os` and `arch` labels of a discovery request.
//!
//! Rust's and Go's names differ from appc's (`x86_64`/`amd64` vs `amd64`, `arm64` vs `aarch64`):
//! using the wrong spelling would discover nothing or, worse, an image for another machine. The
//! `actool discover` defaults are Go's spelling (checklist §8 item 23); these are appc's.

/// The host `os` label: `linux`, `freebsd` or `darwin` (Rust's `std::env::consts::OS` otherwise).
pub fn host_os() -> &'static str {
    os_label(std::env::consts::OS)
}

/// The host `arch` label for [`host_os`], e.g. `amd64`, `aarch64`, `armv7l`, `ppc64le`.
pub fn host_arch() -> &'static str {
    arch_label(
        std::env::consts::OS,
        std::env::consts::ARCH,
        cfg!(target_endian = "big"),
        cfg!(target_feature = "v7"),
    )
}

fn os_label(rust_os: &'static str) -> &'static str {
    match rust_os {
        "macos" => "darwin",
        other => other,
    }
}

fn arch_label(
    rust_os: &str,
    rust_arch: &'static str,
    big_endian: bool,
    armv7: bool,
) -> &'static str {
    match (rust_os, rust_arch) {
        ("macos", "x86_64") => "x86_64",
        ("freebsd", "arm" | "aarch64") => "arm",
        (_, "x86_64") => "amd64",
        (_, "x86") => "i386",
        (_, "aarch64") if big_endian => "aarch64_be",
        (_, "aarch64") => "aarch64",
        (_, "arm") if big_endian => "armv7b",
        (_, "arm") if armv7 => "armv7l",
        (_, "arm") => "armv6l",
        (_, "powerpc64") if big_endian => "ppc64",
        (_, "powerpc64") => "ppc64le",
        (_, other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::OS_ARCH;

    #[test]
    fn linux_arches_use_the_appc_table_spelling() {
        let linux = OS_ARCH[0].1;
        for (arch, be, v7, want) in [
            ("x86_64", false, false, "amd64"),
            ("x86", false, false, "i386"),
            ("aarch64", false, false, "aarch64"),
            ("aarch64", true, false, "aarch64_be"),
            ("arm", false, true, "armv7l"),
            ("arm", false, false, "armv6l"),
            ("arm", true, true, "armv7b"),
            ("powerpc64", false, false, "ppc64le"),
            ("powerpc64", true, false, "ppc64"),
            ("s390x", true, false, "s390x"),
        ] {
            let got = arch_label("linux", arch, be, v7);
            assert_eq!(got, want, "{arch}");
            assert!(linux.contains(&got), "{got} is not an appc linux arch");
        }
    }

    #[test]
    fn other_systems_follow_their_own_table() {
        assert_eq!(os_label("macos"), "darwin");
        assert_eq!(arch_label("macos", "x86_64", false, false), "x86_64");
        assert_eq!(arch_label("freebsd", "x86_64", false, false), "amd64");
        assert_eq!(arch_label("freebsd", "arm", false, true), "arm");
    }

    #[test]
    fn this_host_is_a_valid_pair() {
        let os = host_os();
        let arches = OS_ARCH
            .iter()
            .find(|(o, _)| *o == os)
            .map(|(_, a)| *a)
            .unwrap_or_default();
        assert!(arches.contains(&host_arch()), "{os}/{}", host_arch());
    }
}
