#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Regression tests for the hostile archives of issue 8 (items 1, 2, 6, 7): each refusal next to
//! its positive control, every archive built here by `support/tar_craft.rs`.

mod support;

use appc::aci::read::{ERRORS_MAX, ReadError, ReadOptions, read};
use appc::aci::tar_stream::{PADDING_MAX, PATH_MAX, PAX_MAX};
use support::tar_craft::{Format, Head, TarWriter, compress};

fn opts() -> ReadOptions {
    ReadOptions {
        allow_nonstandard: true,
    }
}

/// Reads `bytes`; the error message, or `None` when accepted.
fn refusal(bytes: &[u8]) -> Option<String> {
    read(bytes, opts()).err().map(|e| e.to_string())
}

fn assert_refused(bytes: &[u8], needle: &str) {
    let msg = refusal(bytes).unwrap_or_else(|| panic!("accepted, expected {needle:?}"));
    assert!(msg.contains(needle), "expected {needle:?} in: {msg}");
}

fn assert_accepted(bytes: &[u8]) -> appc::aci::AciInfo {
    read(bytes, opts()).unwrap_or_else(|e| panic!("refused: {e}"))
}

// ---- item 1: bounds ----

#[test]
fn long_name_entry_longer_than_path_max_is_refused_before_it_is_read() {
    let name = vec![b'a'; PATH_MAX];
    let mut t = TarWriter::vec();
    t.base().long(b'L', &name).file("x", b"");
    assert_refused(&t.finished(), "more than PATH_MAX");
    // Control: the longest allowed name, under rootfs/, is read as the entry's name.
    let mut ok = b"rootfs/".to_vec();
    ok.resize(PATH_MAX - 1, b'b');
    let mut t = TarWriter::vec();
    t.base().long(b'L', &ok).file("x", b"");
    let info = assert_accepted(&t.finished());
    assert_eq!(info.entries[2].path.as_bytes(), &ok[..]);
}

#[test]
fn pax_header_larger_than_the_limit_is_refused() {
    let big = vec![b'c'; PAX_MAX as usize];
    let mut t = TarWriter::vec();
    t.base()
        .pax(b'x', &[("comment", &big)])
        .file("rootfs/x", b"");
    assert_refused(&t.finished(), "pax header of");
    let mut t = TarWriter::vec();
    t.base()
        .pax(b'x', &[("comment", &big[..1000])])
        .file("rootfs/x", b"");
    assert_accepted(&t.finished());
}

#[test]
fn pax_path_and_linkpath_longer_than_path_max_are_refused() {
    let long = "rootfs/".to_owned() + &"d".repeat(PATH_MAX);
    let mut t = TarWriter::vec();
    t.base()
        .pax(b'x', &[("path", long.as_bytes())])
        .file("x", b"");
    assert_refused(&t.finished(), "name of");
    let mut t = TarWriter::vec();
    t.base()
        .pax(b'x', &[("linkpath", long.as_bytes())])
        .symlink("rootfs/l", "x");
    assert_refused(&t.finished(), "link target of");
    let mut t = TarWriter::vec();
    t.base()
        .pax(b'x', &[("path", b"rootfs/pax-named")])
        .file("x", b"");
    assert_eq!(
        assert_accepted(&t.finished()).entries[2].path,
        "rootfs/pax-named"
    );
}

#[test]
fn errors_are_capped_and_the_rest_counted() {
    let mut t = TarWriter::vec();
    t.base();
    for _ in 0..=ERRORS_MAX + 50 {
        t.file("rootfs/same", b"");
    }
    let err = read(&t.finished()[..], opts()).unwrap_err();
    assert_eq!(err.layout_errors().len(), ERRORS_MAX);
    assert!(err.to_string().ends_with("and 50 more"), "{err}");
    // Control: below the cap every error is listed.
    let mut t = TarWriter::vec();
    t.base().file("rootfs/same", b"").file("rootfs/same", b"");
    let err = read(&t.finished()[..], opts()).unwrap_err();
    assert_eq!(err.layout_errors().len(), 1);
    assert!(!err.to_string().contains("more"), "{err}");
}

#[test]
fn reading_stops_after_ten_thousand_errors() {
    let mut t = TarWriter::vec();
    t.base();
    for _ in 0..12_000 {
        t.file("rootfs/x", b"");
    }
    let err = read(&t.finished()[..], opts()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("and 9900 more (reading stopped after 10000 errors)"),
        "{err}"
    );
}

#[test]
fn padding_after_the_end_marker_is_bounded() {
    let mut t = TarWriter::vec();
    t.base().end().run(PADDING_MAX, 0);
    assert_refused(
        &t.bytes(),
        "bytes of padding after the end-of-archive marker",
    );
    // Control: GNU tar's 10 KiB record padding.
    let mut t = TarWriter::vec();
    t.base().end().run(10 * 1024 - 2048, 0);
    assert_accepted(&t.bytes());
}

// ---- item 2: one name per entry, no sparse files ----

#[test]
fn gnu_long_name_and_pax_path_together_are_refused_in_either_order() {
    let evil: &[u8] = b"manifest";
    let mut a = TarWriter::vec();
    a.base()
        .long(b'L', b"rootfs/innocent")
        .pax(b'x', &[("path", evil)])
        .file("rootfs/x", b"");
    assert_refused(&a.finished(), "name is given twice");
    let mut b = TarWriter::vec();
    b.base()
        .pax(b'x', &[("path", evil)])
        .long(b'L', b"rootfs/innocent")
        .file("rootfs/x", b"");
    assert_refused(&b.finished(), "name is given twice");
    let mut k = TarWriter::vec();
    k.base()
        .long(b'K', b"a")
        .pax(b'x', &[("linkpath", b"b")])
        .symlink("rootfs/l", "c");
    assert_refused(&k.finished(), "link target is given twice");
    // Controls: each way alone.
    let mut c = TarWriter::vec();
    c.base().long(b'L', b"rootfs/innocent").file("x", b"");
    assert_eq!(
        assert_accepted(&c.finished()).entries[2].path,
        "rootfs/innocent"
    );
}

#[test]
fn a_global_header_between_an_entrys_extended_headers_and_the_entry_is_refused() {
    for (typeflag, ext) in [(b'L', "long name"), (b'K', "long link"), (b'x', "pax")] {
        let extended = |t: &mut TarWriter<Vec<u8>>| {
            if typeflag == b'x' {
                t.pax(b'x', &[("path", b"rootfs/c")]);
            } else {
                t.long(typeflag, b"rootfs/c");
            }
        };
        let mut t = TarWriter::vec();
        extended(t.base());
        t.pax(b'g', &[("comment", b"hello")])
            .symlink("rootfs/a", "b");
        assert_refused(&t.finished(), "global pax header between");
        // Control: the global header first, then the same extended header and its entry.
        let mut t = TarWriter::vec();
        extended(t.base().pax(b'g', &[("comment", b"hello")]));
        t.symlink("rootfs/a", "b");
        let info = assert_accepted(&t.finished());
        let e = &info.entries[2];
        match typeflag {
            b'K' => assert_eq!(
                (e.path.as_str(), e.link.as_deref()),
                ("rootfs/a", Some("rootfs/c")),
                "{ext}"
            ),
            _ => assert_eq!(e.path, "rootfs/c", "{ext}"),
        }
    }
}

#[test]
fn two_long_names_or_two_pax_headers_for_one_entry_are_refused() {
    let mut t = TarWriter::vec();
    t.base()
        .long(b'L', b"rootfs/a")
        .long(b'L', b"manifest")
        .file("x", b"");
    assert_refused(&t.finished(), "two GNU long name headers");
    let mut t = TarWriter::vec();
    t.base()
        .pax(b'x', &[("comment", b"1")])
        .pax(b'x', &[("path", b"manifest")])
        .file("rootfs/x", b"");
    assert_refused(&t.finished(), "two pax headers");
    let mut t = TarWriter::vec();
    t.base()
        .pax(b'x', &[("path", b"rootfs/a"), ("path", b"manifest")])
        .file("x", b"");
    assert_refused(&t.finished(), "two pax path headers");
}

#[test]
fn sparse_entries_are_refused() {
    // PAX sparse 1.0: GNU tar names the entry after GNU.sparse.name.
    let mut t = TarWriter::vec();
    t.base()
        .pax(
            b'x',
            &[
                ("GNU.sparse.major", b"1"),
                ("GNU.sparse.minor", b"0"),
                ("GNU.sparse.name", b"manifest"),
                ("GNU.sparse.realsize", b"10"),
            ],
        )
        .file("rootfs/GNUSparseFile.0/x", b"1\n0\n10\n");
    assert_refused(
        &t.finished(),
        "sparse file (pax record \"GNU.sparse.major\")",
    );
    // Old GNU sparse type S.
    let mut t = TarWriter::vec();
    t.base().put(&Head::new(b"rootfs/s", b'S', 0), b"");
    assert_refused(&t.finished(), "sparse file (GNU type S)");
    // Control: the same data as a plain file.
    let mut t = TarWriter::vec();
    t.base().file("rootfs/GNUSparseFile.0/x", b"1\n0\n10\n");
    assert_accepted(&t.finished());
}

#[test]
fn global_pax_headers_that_rename_are_refused() {
    let mut t = TarWriter::vec();
    t.pax(b'g', &[("path", b"manifest")]).base();
    assert_refused(&t.finished(), "global pax header sets \"path\"");
    let mut t = TarWriter::vec();
    t.pax(b'g', &[("comment", b"built by git archive")]).base();
    assert_accepted(&t.finished());
}

#[test]
fn header_only_entries_with_data_are_refused() {
    // The tar crate would skip 512 bytes here, Go's reader none: the "data" is a header for it.
    let mut inner = TarWriter::vec();
    inner.file("manifest", b"{\"evil\":1}");
    let hidden = inner.bytes();
    let mut h = Head::new(b"rootfs/l", b'2', hidden.len() as u64);
    h.link = b"x";
    let mut t = TarWriter::vec();
    t.base().put(&h, &hidden);
    assert_refused(&t.finished(), "bytes of data");
    let mut t = TarWriter::vec();
    t.base().symlink("rootfs/l", "x");
    assert_accepted(&t.finished());
}

#[test]
fn nul_inside_a_long_name_is_refused() {
    let mut t = TarWriter::vec();
    t.base().long(b'L', b"rootfs/a\0manifest").file("x", b"");
    assert_refused(&t.finished(), "NUL byte");
}

#[test]
fn ustar_prefix_is_joined_and_other_formats_refused() {
    let mut h = Head::new(b"x", b'0', 0);
    h.format = Format::Ustar;
    h.prefix = b"rootfs/p";
    let mut t = TarWriter::vec();
    t.base().put(&h, b"");
    assert_eq!(assert_accepted(&t.finished()).entries[2].path, "rootfs/p/x");
    let mut block = Head::new(b"rootfs/v7", b'0', 0).block();
    block[257..265].fill(0);
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut t = TarWriter::vec();
    t.base();
    t.w.extend_from_slice(&block);
    assert_refused(&t.finished(), "not a POSIX ustar/pax or GNU tar header");
}

#[test]
fn bad_checksum_is_refused() {
    let mut t = TarWriter::vec();
    t.base();
    let mut bytes = t.finished();
    bytes[1024 + 100] ^= 1; // a mode digit of the rootfs header
    assert_refused(&bytes, "checksum");
}

// ---- item 6: nothing after the compressed stream ----

#[test]
fn data_after_the_compressed_stream_is_refused_for_every_codec() {
    let mut t = TarWriter::vec();
    t.base().file("rootfs/x", b"x");
    let tar = t.finished();
    let mut second = TarWriter::vec();
    second.file("rootfs/evil", b"evil");
    let second = second.finished();
    for codec in ["gzip", "bzip2", "xz", "zstd"] {
        let good = compress(codec, &tar);
        assert_accepted(&good);
        let mut garbage = good.clone();
        garbage.extend_from_slice(b"garbage");
        assert_refused(
            &garbage,
            &format!("data after the end of the {codec} stream"),
        );
        let mut two = good.clone();
        two.extend_from_slice(&compress(codec, &second));
        assert_refused(&two, &format!("data after the end of the {codec} stream"));
    }
}

// ---- item 7: nothing beneath a symlink ----

#[test]
fn entry_beneath_a_hard_link_to_a_symlink_is_refused() {
    let mut t = TarWriter::vec();
    t.base()
        .symlink("rootfs/s", "/x")
        .hardlink("rootfs/h", "rootfs/s")
        .file("rootfs/h/pwned", b"");
    assert_refused(
        &t.finished(),
        "entry \"rootfs/h/pwned\": stored beneath the symlink \"rootfs/h\"",
    );
    // Control: a hard link to a regular file, and files in a real directory.
    let mut t = TarWriter::vec();
    t.base()
        .file("rootfs/f", b"1")
        .hardlink("rootfs/h", "rootfs/f")
        .dir("rootfs/d")
        .file("rootfs/d/ok", b"");
    assert_accepted(&t.finished());
}

#[test]
fn symlink_replacing_a_directory_with_entries_is_refused() {
    let mut t = TarWriter::vec();
    t.base().file("rootfs/d/x", b"").symlink("rootfs/d", "/etc");
    assert_refused(
        &t.finished(),
        "where the earlier entry \"rootfs/d/x\" needs a directory",
    );
    let mut t = TarWriter::vec();
    t.base().file("rootfs/d/x", b"").dir("rootfs/d");
    assert_accepted(&t.finished());
}

#[test]
fn entry_beneath_a_regular_file_is_refused() {
    let mut t = TarWriter::vec();
    t.base().file("rootfs/f", b"").file("rootfs/f/x", b"");
    assert_refused(&t.finished(), "which is a regular file, not a directory");
}

#[test]
fn a_symlink_with_an_empty_target_is_refused() {
    // Found by the fuzz target: other readers report no link target at all.
    let mut t = TarWriter::vec();
    t.base().symlink("rootfs/s", "");
    assert_refused(&t.finished(), "empty link target");
    let mut t = TarWriter::vec();
    t.base().symlink("rootfs/s", ".");
    assert_accepted(&t.finished());
}

#[test]
fn a_regular_file_named_like_a_directory_is_refused() {
    // GNU tar and Go read a regular file whose name ends with "/" as a directory.
    let mut t = TarWriter::vec();
    t.base().file("rootfs/d/", b"");
    assert_refused(&t.finished(), "whose name ends with \"/\"");
    let mut t = TarWriter::vec();
    t.base().dir("rootfs/d/");
    assert_accepted(&t.finished());
}

#[test]
fn a_hard_link_to_a_directory_is_refused() {
    let mut t = TarWriter::vec();
    t.base().dir("rootfs/d").hardlink("rootfs/h", "rootfs/d");
    assert_refused(&t.finished(), "is a directory");
}

#[test]
fn the_reader_reports_corruption_without_a_layout_error() {
    let mut t = TarWriter::vec();
    t.base().file("rootfs/x", &[1u8; 2000]);
    let bytes = t.finished();
    let err = read(&bytes[..1800], opts()).unwrap_err();
    assert!(
        matches!(err, ReadError::Tar { .. } | ReadError::Corrupt { .. }),
        "{err}"
    );
}
