#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 8 item 1: tiny archives that made the reader allocate gigabytes. Each bomb is built here
//! (`appc/tests/support/tar_craft.rs`, streamed through a real compressor), then checked by the
//! real `acbuild validate` under `prlimit --as` (64 MiB of address space): it must be refused
//! with a clear message, not killed or out of memory. The positive control is a valid image under
//! the same limit.
//!
//! By default the bombs are scaled down so the test stays quick (each still holds at least
//! 64 MiB, 16 000 times the largest name we accept); `BOMB_FULL=1` builds the sizes of the
//! issue, and `BOMB_DIR=DIR` keeps the files (xtask/bench/bombs.sh uses both).

#[path = "../../appc/tests/support/tar_craft.rs"]
mod tar_craft;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use tar_craft::{Head, Packer, TarWriter};

/// The address-space limit the bombs run under.
const LIMIT: u64 = 64 * 1024 * 1024;

fn full() -> bool {
    std::env::var_os("BOMB_FULL").is_some()
}

/// `small` normally, `big` with `BOMB_FULL`.
fn size(small: u64, big: u64) -> u64 {
    if full() { big } else { small }
}

struct Dir {
    _temp: Option<tempfile::TempDir>,
    path: PathBuf,
}

fn dir() -> Dir {
    match std::env::var_os("BOMB_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            Dir {
                _temp: None,
                path: d.into(),
            }
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let path = t.path().to_owned();
            Dir {
                _temp: Some(t),
                path,
            }
        }
    }
}

type Out = TarWriter<Packer<BufWriter<File>>>;

fn bomb(dir: &Dir, name: &str, codec: &str, build: impl FnOnce(&mut Out)) -> PathBuf {
    let path = dir.path.join(name);
    let file = BufWriter::new(File::create(&path).unwrap());
    let mut t = TarWriter::new(Packer::new(codec, file));
    build(&mut t);
    t.w.finish().flush().unwrap();
    path
}

/// `acbuild validate FILE` under the address-space limit: exit code and stderr.
fn validate_limited(file: &Path) -> (Option<i32>, String) {
    let out = Command::new("prlimit")
        .arg(format!("--as={LIMIT}"))
        .arg(env!("CARGO_BIN_EXE_acbuild"))
        .arg("validate")
        .arg(file)
        .output()
        .expect("prlimit not found: apt-get install util-linux");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err)
}

fn assert_refused(file: &Path, needle: &str) {
    let (code, err) = validate_limited(file);
    assert_eq!(code, Some(1), "{}: {err}", file.display());
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(err.len() < 64 * 1024, "error output of {} bytes", err.len());
}

#[test]
fn a_valid_image_passes_under_the_same_memory_limit() {
    let d = dir();
    let ok = bomb(&d, "control.aci", "bzip2", |t| {
        t.base()
            .dir("rootfs/bin")
            .put_run(&Head::new(b"rootfs/bin/big", b'0', 8 << 20), b'a')
            .end();
    });
    let (code, err) = validate_limited(&ok);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_huge_gnu_long_name_is_refused_in_bounded_memory() {
    let d = dir();
    let n = size(64 << 20, 1 << 30);
    for codec in ["bzip2", "gzip"] {
        let f = bomb(&d, &format!("long-name.{codec}.aci"), codec, |t| {
            t.base()
                .put_run(&Head::new(b"././@LongLink", b'L', n), b'a')
                .file("x", b"")
                .end();
        });
        assert_refused(
            &f,
            &format!("GNU long name entry of {n} bytes, more than PATH_MAX"),
        );
    }
}

#[test]
fn a_huge_pax_record_is_refused_in_bounded_memory() {
    let d = dir();
    let n = size(64 << 20, 1 << 30);
    let f = bomb(&d, "pax-comment.aci", "gzip", |t| {
        t.base();
        let prefix = format!("{} comment=", n + 20);
        let len = prefix.len() as u64 + n + 1;
        t.w.write_all(&Head::new(b"PaxHeaders/x", b'x', len).block())
            .unwrap();
        t.w.write_all(prefix.as_bytes()).unwrap();
        t.run(n, b'a').run(1, b'\n');
        t.run((512 - len % 512) % 512, 0);
        t.file("rootfs/x", b"").end();
    });
    assert_refused(&f, "pax header of");
}

#[test]
fn millions_of_copies_of_one_entry_stop_after_ten_thousand_errors() {
    let d = dir();
    let copies = size(50_000, 4_000_000);
    let f = bomb(&d, "copies.aci", "gzip", |t| {
        t.base().file("rootfs/x", b"");
        let block = Head::new(b"rootfs/x", b'0', 0).block();
        let chunk: Vec<u8> = block.iter().copied().cycle().take(512 * 4096).collect();
        for _ in 0..copies / 4096 {
            t.w.write_all(&chunk).unwrap();
        }
        t.end();
    });
    assert_refused(&f, "(reading stopped after 10000 errors)");
}

#[test]
fn gigabytes_of_padding_after_the_end_are_not_read() {
    let d = dir();
    let n = size(64 << 20, 4 << 30);
    let f = bomb(&d, "padding.aci", "bzip2", |t| {
        t.base().end().run(n, 0);
    });
    assert_refused(&f, "bytes of padding after the end-of-archive marker");
}

#[test]
fn errors_are_capped_then_counted() {
    let d = dir();
    let f = bomb(&d, "duplicates.aci", "gzip", |t| {
        t.base();
        for _ in 0..5000 {
            t.file("rootfs/x", b"");
        }
        t.end();
    });
    assert_refused(&f, "and 4899 more");
}
