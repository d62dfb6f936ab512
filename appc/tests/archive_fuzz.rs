#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The archive reader's fuzz target: a proptest harness over *structured* hostile archives —
//! names from a pool of tricky ones, every tar entry type, GNU long names and link names, local
//! and global pax headers (path, linkpath, size, sparse keys), link targets, the ustar prefix,
//! the five compressions and data after the end — for a bounded number of cases inside
//! `cargo test`, so CI runs it.
//!
//! For every archive: no panic and a bounded error message. For every archive the reader
//! accepts: the layout invariants hold (one `manifest` file, one `rootfs` directory, everything
//! else clean and under `rootfs/`, no duplicates, nothing beneath a non-directory, hard links to
//! earlier non-directories), the image ID is the SHA-512 of the tar stream, and a second tar
//! reader (the `tar` crate) sees the same entries with the same names, kinds and link targets.

mod support;

use std::collections::BTreeMap;

use appc::aci::read::{ERRORS_MAX, EntryType, ReadOptions, read};
use appc::aci::tar_stream::PATH_MAX;
use proptest::prelude::*;
use sha2::{Digest, Sha512};
use support::tar_craft::{Format, Head, TarWriter, compress};

const NAMES: &[&str] = &[
    "manifest",
    "./manifest",
    "rootfs",
    "rootfs/",
    "./rootfs",
    "rootfs/a",
    "rootfs/a/b",
    "rootfs//a/./b",
    "rootfs/s",
    "rootfs/s/x",
    "rootfs/h",
    "rootfs/h/x",
    "rootfs/d",
    "rootfs/d/x",
    "rootfs/../x",
    "/rootfs/a",
    "rootfs2/x",
    "",
    ".",
    "rootfs/a\u{e9}",
];

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => "rootfs(/[abcsd]{1,2}){1,3}".prop_map(String::into_bytes),
        6 => prop::sample::select(NAMES).prop_map(|n| n.as_bytes().to_vec()),
        1 => (0usize..300).prop_map(|n| format!("rootfs/{}", "l".repeat(n)).into_bytes()),
        1 => Just(vec![b'r'; PATH_MAX + 1]),
        1 => Just(b"rootfs/a\0manifest".to_vec()),
        1 => Just(vec![b'r', b'o', 0xff]),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Entry {
        name: Vec<u8>,
        typeflag: u8,
        data: usize,
        link: Vec<u8>,
        prefix: Option<Vec<u8>>,
    },
    Long(u8, Vec<u8>),
    Pax(u8, Vec<(&'static str, Vec<u8>)>),
}

fn pax_record() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    prop_oneof![
        4 => name().prop_map(|n| ("path", n)),
        2 => name().prop_map(|n| ("linkpath", n)),
        1 => (0u64..1200).prop_map(|s| ("size", s.to_string().into_bytes())),
        2 => Just(("comment", b"hello".to_vec())),
        1 => Just(("GNU.sparse.name", b"manifest".to_vec())),
        1 => Just(("GNU.sparse.major", b"1".to_vec())),
        1 => Just(("uid", b"0".to_vec())),
        1 => Just(("mtime", b"1700000000.5".to_vec())),
        1 => Just(("size", b"x".to_vec())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let typeflag = prop::sample::select(&b"00000155522221113467SDV\0"[..]);
    let plain = "rootfs(/[abcsd]){1,3}";
    prop_oneof![
        // Mostly entries a normal writer makes, so that many archives are accepted and checked.
        12 => (plain, prop::sample::select(&b"00055221"[..]), 0usize..1100, plain)
            .prop_map(|(name, typeflag, data, link)| Op::Entry {
                name: name.into_bytes(),
                typeflag,
                data: if typeflag == b'0' { data } else { 0 },
                link: link.into_bytes(),
                prefix: None,
            }),
        6 => (name(), typeflag, 0usize..1100, name(), prop::option::weighted(0.1, name()), prop::bool::weighted(0.05))
            .prop_map(|(name, typeflag, data, link, prefix, odd)| {
                // Data only where a tar entry has some, but now and then where it has none.
                let data = if matches!(typeflag, b'1'..=b'6') && !odd { 0 } else { data };
                Op::Entry { name, typeflag, data, link, prefix }
            }),
        1 => (prop::sample::select(&b"LK"[..]), name()).prop_map(|(t, n)| Op::Long(t, n)),
        2 => (prop::sample::select(&b"xxg"[..]), prop::collection::vec(pax_record(), 1..3))
            .prop_map(|(t, r)| Op::Pax(t, r)),
    ]
}

fn build(base: bool, ops: &[Op], end: usize) -> Vec<u8> {
    let mut t = TarWriter::vec();
    if base {
        t.base();
    }
    for op in ops {
        match op {
            Op::Entry {
                name,
                typeflag,
                data,
                link,
                prefix,
            } => {
                let mut h = Head::new(name, *typeflag, *data as u64);
                h.link = link;
                if let Some(p) = prefix {
                    h.format = Format::Ustar;
                    h.prefix = p;
                }
                t.put(&h, &vec![b'd'; *data]);
            }
            Op::Long(typeflag, n) => {
                t.long(*typeflag, n);
            }
            Op::Pax(typeflag, records) => {
                let r: Vec<(&str, &[u8])> = records.iter().map(|(k, v)| (*k, &v[..])).collect();
                t.pax(*typeflag, &r);
            }
        }
    }
    match end {
        0 => t.finished(),
        1 => {
            t.end().run(8 * 1024, 0);
            t.bytes()
        }
        2 => {
            let mut b = t.finished();
            b.extend_from_slice(b"junk");
            b
        }
        _ => t.bytes(),
    }
}

fn clean(raw: &str) -> Option<String> {
    if raw.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = raw
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    (!parts.is_empty() && !parts.contains(&"..")).then(|| parts.join("/"))
}

/// What the `tar` crate sees: (cleaned name, typeflag, size, link target).
fn other_reader(tar: &[u8]) -> Vec<(String, u8, u64, String)> {
    let mut a = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let t = e.header().entry_type().as_byte();
        if t == b'g' {
            continue;
        }
        let name = clean(std::str::from_utf8(&e.path_bytes()).unwrap()).unwrap();
        let link = match t {
            b'1' | b'2' => {
                String::from_utf8(e.link_name_bytes().unwrap_or_default().into_owned()).unwrap()
            }
            _ => String::new(),
        };
        out.push((name, t, e.size(), link));
    }
    out
}

fn check_accepted(info: &appc::aci::AciInfo, tar: &[u8]) {
    let digest: [u8; 64] = Sha512::digest(tar).into();
    assert_eq!(info.image_id.digest(), &digest);
    let mut on_disk: BTreeMap<&str, EntryType> = BTreeMap::new();
    let (mut manifests, mut rootfs) = (0, 0);
    for e in &info.entries {
        let p = e.path.as_str();
        assert!(p.len() < PATH_MAX);
        assert_eq!(clean(p).as_deref(), Some(p), "not clean: {p:?}");
        assert!(!on_disk.contains_key(p), "duplicate {p:?}");
        match p {
            "manifest" => {
                manifests += 1;
                assert_eq!(e.kind, EntryType::File);
            }
            "rootfs" => {
                rootfs += 1;
                assert_eq!(e.kind, EntryType::Dir);
            }
            _ => assert!(p.starts_with("rootfs/"), "outside: {p:?}"),
        }
        if e.kind != EntryType::File {
            assert_eq!(e.size, 0);
        }
        let mut kind = e.kind;
        if e.kind == EntryType::Hardlink {
            let target = e.link.as_deref().unwrap();
            assert!(target.starts_with("rootfs/"));
            kind = *on_disk.get(target).expect("hard link to an earlier entry");
            assert_ne!(kind, EntryType::Dir);
        }
        let mut end = p.len();
        while let Some(i) = p[..end].rfind('/') {
            if let Some(k) = on_disk.get(&p[..i]) {
                assert_eq!(*k, EntryType::Dir, "{p:?} beneath a {k}");
            }
            end = i;
        }
        if kind != EntryType::Dir {
            let below = format!("{p}/");
            assert!(
                !on_disk.keys().any(|k| k.starts_with(&below)),
                "{p:?} replaces a dir"
            );
        }
        on_disk.insert(p, kind);
    }
    assert_eq!((manifests, rootfs), (1, 1));
    let theirs = other_reader(tar);
    assert_eq!(theirs.len(), info.entries.len(), "{theirs:?}");
    for (ours, (name, _, size, link)) in info.entries.iter().zip(&theirs) {
        assert_eq!(&ours.path, name);
        if ours.kind == EntryType::File {
            assert_eq!(ours.size, *size, "{name}");
        }
        match ours.kind {
            EntryType::Symlink => assert_eq!(ours.link.as_deref(), Some(link.as_str())),
            EntryType::Hardlink => assert_eq!(ours.link, clean(link)),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn structured_hostile_archives(
        base in prop::bool::weighted(0.85),
        ops in prop::collection::vec(op(), 0..8),
        end in prop::sample::select(&[0usize, 0, 0, 1, 1, 2, 3][..]),
        codec in prop::sample::select(&["none", "gzip", "bzip2", "xz", "zstd"][..]),
        trailing in prop::bool::weighted(0.1),
    ) {
        let tar = build(base, &ops, end);
        let mut file = compress(codec, &tar);
        if trailing {
            file.extend_from_slice(&compress(codec, b"more"));
        }
        let opts = ReadOptions { allow_nonstandard: true };
        match read(&file[..], opts) {
            Ok(info) => {
                prop_assert!(!trailing || codec == "none");
                check_accepted(&info, &tar);
            }
            Err(e) => {
                let limit = ERRORS_MAX * (8 * PATH_MAX + 300) + 4096;
                prop_assert!(e.to_string().len() < limit);
            }
        }
    }
}
