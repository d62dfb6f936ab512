//! What the tracer needs to know about one file: an ELF object's loader-relevant facts
//! (class, machine, interpreter, needs, search paths, soname, runtime-loading clues), or a
//! script's `#!` line. Files are memory-mapped and parsed once; nothing here touches other files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use goblin::elf::Elf;
use goblin::elf::dynamic::{DF_1_NODEFLIB, DT_FLAGS_1};
use goblin::elf::header::{EI_CLASS, EI_DATA, EI_OSABI, ET_DYN};

/// glibc functions that make it load NSS modules (`libnss_*.so.2`) at run time.
const NSS_FUNCTIONS: &[&str] = &[
    "getpwnam",
    "getpwnam_r",
    "getpwuid",
    "getpwuid_r",
    "getpwent",
    "getpwent_r",
    "getgrnam",
    "getgrnam_r",
    "getgrgid",
    "getgrgid_r",
    "getgrent",
    "getgrent_r",
    "getgrouplist",
    "initgroups",
    "getspnam",
    "getspnam_r",
    "getaddrinfo",
    "getnameinfo",
    "gethostbyname",
    "gethostbyname_r",
    "gethostbyname2",
    "gethostbyname2_r",
    "gethostbyaddr",
    "gethostbyaddr_r",
    "gethostent",
    "getservbyname",
    "getservbyname_r",
    "getservbyport",
    "getservbyport_r",
    "getservent",
    "getprotobyname",
    "getprotobyname_r",
    "getprotobynumber",
    "getprotoent",
    "getnetbyname",
    "getnetbyaddr",
    "getaliasbyname",
    "innetgr",
    "setnetgrent",
    "getnetgrent",
    "ether_hostton",
    "ether_ntohost",
    "getrpcbyname",
    "getrpcbynumber",
];

/// glibc functions that load gconv modules at run time.
const GCONV_FUNCTIONS: &[&str] = &["iconv_open"];

/// The identity that decides whether ld.so accepts an object for a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abi {
    pub is_64: bool,
    pub little_endian: bool,
    pub machine: u16,
    pub os_abi: u8,
}

impl Abi {
    /// ld.so's check: same class, byte order and machine; SYSV and GNU OS ABIs are interchangeable.
    pub fn accepts(&self, other: &Abi) -> bool {
        let os_abi = |abi: u8| if abi == 3 { 0 } else { abi };
        self.is_64 == other.is_64
            && self.little_endian == other.little_endian
            && self.machine == other.machine
            && os_abi(self.os_abi) == os_abi(other.os_abi)
    }
}

/// A parsed ELF object.
#[derive(Debug, Clone)]
pub struct ElfObject {
    pub abi: Abi,
    /// ET_DYN (shared object or PIE): the only type ld.so loads as a library.
    pub is_shared: bool,
    pub interpreter: Option<String>,
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub nodeflib: bool,
    /// Imported (undefined) functions that load NSS modules.
    pub nss_imports: BTreeSet<String>,
    /// Imported functions that load gconv modules.
    pub gconv_imports: BTreeSet<String>,
    /// `lib*.so*` strings in read-only data (candidates for `dlopen`).
    pub library_strings: BTreeSet<String>,
}

/// What a file is, as far as starting it goes.
#[derive(Debug, Clone)]
pub enum Object {
    Elf(Box<ElfObject>),
    /// `#!` interpreter and its optional single argument.
    Script {
        interpreter: String,
        argument: Option<String>,
    },
    /// Neither ELF nor a script.
    Other,
}

/// Why a file could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ParseError {
    pub path: PathBuf,
    pub reason: String,
}

impl Object {
    /// Map and parse the host file `host_path` (named `path` in errors).
    pub fn read(host_path: &Path, path: &Path) -> Result<Object, ParseError> {
        let error = |reason: String| ParseError {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(host_path).map_err(|e| error(e.to_string()))?;
        let len = file.metadata().map_err(|e| error(e.to_string()))?.len();
        if len < 4 {
            return Ok(Object::Other);
        }
        // SAFETY: the map is read-only and private; a file truncated under us can raise SIGBUS,
        // the same risk every ELF tool takes. We never hand out references past this function.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| error(e.to_string()))?;
        Object::parse(&map).map_err(error)
    }

    /// Parse file contents.
    pub fn parse(bytes: &[u8]) -> Result<Object, String> {
        if bytes.starts_with(b"#!") {
            return Ok(parse_shebang(bytes));
        }
        if !bytes.starts_with(b"\x7fELF") {
            return Ok(Object::Other);
        }
        let elf = Elf::parse(bytes).map_err(|e| format!("invalid ELF: {e}"))?;
        Ok(Object::Elf(Box::new(elf_object(&elf, bytes))))
    }
}

fn elf_object(elf: &Elf<'_>, bytes: &[u8]) -> ElfObject {
    let ident = &elf.header.e_ident;
    let abi = Abi {
        is_64: ident[EI_CLASS] == 2,
        little_endian: ident[EI_DATA] == 1,
        machine: elf.header.e_machine,
        os_abi: ident[EI_OSABI],
    };
    let split = |paths: &[&str]| -> Vec<String> {
        paths
            .iter()
            .flat_map(|p| p.split(':'))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let runpath = split(&elf.runpaths);
    // glibc ignores DT_RPATH when DT_RUNPATH is present.
    let rpath = if runpath.is_empty() {
        split(&elf.rpaths)
    } else {
        Vec::new()
    };
    let nodeflib = elf.dynamic.as_ref().is_some_and(|d| {
        d.dyns
            .iter()
            .any(|e| e.d_tag == DT_FLAGS_1 && e.d_val & DF_1_NODEFLIB != 0)
    });
    let mut nss_imports = BTreeSet::new();
    let mut gconv_imports = BTreeSet::new();
    for sym in elf
        .dynsyms
        .iter()
        .filter(|s| s.st_shndx == 0 && s.st_name != 0)
    {
        let Some(name) = elf.dynstrtab.get_at(sym.st_name) else {
            continue;
        };
        if NSS_FUNCTIONS.contains(&name) {
            nss_imports.insert(name.to_string());
        } else if GCONV_FUNCTIONS.contains(&name) {
            gconv_imports.insert(name.to_string());
        }
    }
    let mut library_strings = BTreeSet::new();
    for section in &elf.section_headers {
        if elf.shdr_strtab.get_at(section.sh_name) != Some(".rodata") {
            continue;
        }
        let start = usize::try_from(section.sh_offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(section.sh_size).unwrap_or(0));
        if let Some(data) = bytes.get(start..end) {
            find_library_strings(data, &mut library_strings);
        }
    }
    let needed: Vec<String> = elf.libraries.iter().map(|s| s.to_string()).collect();
    library_strings.retain(|s| !needed.contains(s) && elf.soname != Some(s.as_str()));
    ElfObject {
        abi,
        is_shared: elf.header.e_type == ET_DYN,
        interpreter: elf.interpreter.map(str::to_string),
        soname: elf.soname.map(str::to_string),
        needed,
        rpath,
        runpath,
        nodeflib,
        nss_imports,
        gconv_imports,
        library_strings,
    }
}

/// Collect strings that look like shared-library file names: `lib` + name + `.so` + optional
/// version digits, bounded by bytes that cannot be part of a file name.
fn find_library_strings(data: &[u8], found: &mut BTreeSet<String>) {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.');
    let mut i = 0;
    while let Some(offset) = data[i..].windows(3).position(|w| w == b"lib") {
        let start = i + offset;
        let mut end = start + 3;
        while end < data.len() && is_name_byte(data[end]) {
            end += 1;
        }
        let bounded = start == 0 || !is_name_byte(data[start - 1]);
        if bounded
            && let Ok(name) = std::str::from_utf8(&data[start..end])
            && looks_like_library(name)
        {
            found.insert(name.to_string());
        }
        i = end;
    }
}

fn looks_like_library(name: &str) -> bool {
    let Some(at) = name.find(".so") else {
        return false;
    };
    let version = &name[at + 3..];
    at > 3
        && (version.is_empty()
            || (version.starts_with('.')
                && version[1..]
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))))
}

fn parse_shebang(bytes: &[u8]) -> Object {
    // The kernel reads at most the first 256 bytes (BINPRM_BUF_SIZE) of the line.
    let head = &bytes[2..bytes.len().min(256)];
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let line = line.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
    let (interpreter, argument) = match line.split_once([' ', '\t']) {
        Some((interp, arg)) => {
            let arg = arg.trim_matches([' ', '\t']);
            (interp, (!arg.is_empty()).then(|| arg.to_string()))
        }
        None => (line, None),
    };
    if interpreter.is_empty() {
        return Object::Other;
    }
    Object::Script {
        interpreter: interpreter.to_string(),
        argument,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_keeps_one_argument_like_the_kernel() {
        let Object::Script {
            interpreter,
            argument,
        } = Object::parse(b"#! /usr/bin/env  python3 -u\nx").unwrap()
        else {
            panic!("not a script");
        };
        assert_eq!(interpreter, "/usr/bin/env");
        assert_eq!(argument.as_deref(), Some("python3 -u"));
    }

    #[test]
    fn library_strings_need_a_so_suffix_and_a_boundary() {
        let mut found = BTreeSet::new();
        find_library_strings(
            b"\0libfoo.so.1\0xlibbar.so\0libbaz.so.x\0/usr/lib/libq.so\0libr.sox",
            &mut found,
        );
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["libfoo.so.1", "libq.so"]
        );
    }

    #[test]
    fn garbage_after_elf_magic_is_an_error_not_a_panic() {
        assert!(Object::parse(b"\x7fELF\x02\x01\x01garbage").is_err());
    }

    #[test]
    fn abi_treats_gnu_and_sysv_as_one() {
        let a = Abi {
            is_64: true,
            little_endian: true,
            machine: 62,
            os_abi: 0,
        };
        assert!(a.accepts(&Abi { os_abi: 3, ..a }));
        assert!(!a.accepts(&Abi { is_64: false, ..a }));
        assert!(!a.accepts(&Abi { machine: 183, ..a }));
    }
}
