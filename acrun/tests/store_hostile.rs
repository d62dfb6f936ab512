//! The hostile-archive suite: each case is signed by a trusted key, so the signature is not what
//! refuses it. Each must be refused (exit 1) with a message naming the entry or the rule, leave
//! a canary directory outside the store exactly as it was, and add nothing to `image list`.
//! The positive control — a well-formed image signed by the same key — is fetched at the end
//! of every case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use support::World;
use support::store::{Key, Tar, header, manifest, snapshot};

struct Case<'a> {
    world: &'a World,
    key: &'a Key,
    canary: std::path::PathBuf,
}

impl<'a> Case<'a> {
    fn new(world: &'a World, key: &'a Key) -> Case<'a> {
        let canary = world.path("canary");
        std::fs::create_dir_all(canary.join("etc")).unwrap();
        std::fs::write(canary.join("etc/passwd"), b"root:x:0:0\n").unwrap();
        Case { world, key, canary }
    }

    /// Fetch `aci` (already signed), expect a refusal mentioning every one of `expect`.
    fn refused(&self, aci: &Path, expect: &[&str]) {
        let before = snapshot(&self.canary);
        let listed = self.world.listed().len();
        let err = self.world.acrun_fails(1, &[&"fetch", &aci]);
        for e in expect {
            assert!(err.contains(e), "expected {e:?} in: {err}");
        }
        assert_eq!(snapshot(&self.canary), before, "the canary changed");
        assert_eq!(
            self.world.listed().len(),
            listed,
            "image list changed: {err}"
        );
        // Positive control: a valid image by the same key is accepted right after.
        let good = Tar::image("example.com/good")
            .file("rootfs/ok", b"ok")
            .bytes();
        let good = self.world.signed_aci("good.aci", &good, self.key);
        self.world.acrun_ok(&[&"fetch", &good]);
        self.world.acrun_ok(&[&"image", &"rm", &"example.com/good"]);
    }

    fn tar(&self, file: &str, tar: Tar, expect: &[&str]) {
        let aci = self.world.signed_aci(file, &tar.bytes(), self.key);
        self.refused(&aci, expect);
    }
}

fn world() -> (World, Key) {
    let w = World::new();
    let key = w.root_key();
    (w, key)
}

#[test]
fn refuses_traversal_and_absolute_names() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    c.tar(
        "dotdot.aci",
        Tar::image("example.com/evil").file("rootfs/../../canary/etc/passwd", b"pwned"),
        &["rootfs/../../canary/etc/passwd", "\"..\""],
    );
    let abs = format!("{}/etc/passwd", c.canary.display());
    c.tar(
        "abs.aci",
        Tar::image("example.com/evil").file(&abs, b"pwned"),
        &[&abs, "absolute"],
    );
}

#[test]
fn refuses_writing_through_a_symlink_to_the_outside() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    c.tar(
        "link-root.aci",
        Tar::image("example.com/evil")
            .symlink("rootfs/link", "/")
            .file(
                &format!("rootfs/link{}/etc/passwd", c.canary.display()),
                b"pwned",
            ),
        &["rootfs/link", "beneath the symlink"],
    );
    let target = c.canary.display().to_string();
    c.tar(
        "link-canary.aci",
        Tar::image("example.com/evil")
            .symlink("rootfs/link", &target)
            .file("rootfs/link/etc/passwd", b"pwned"),
        &["rootfs/link/etc/passwd", "beneath the symlink"],
    );
}

#[test]
fn refuses_a_symlink_replaced_by_a_file() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    let target = format!("{}/etc/passwd", c.canary.display());
    c.tar(
        "replace.aci",
        Tar::image("example.com/evil")
            .symlink("rootfs/passwd", &target)
            .file("rootfs/passwd", b"pwned"),
        &["rootfs/passwd", "duplicate"],
    );
}

#[test]
fn refuses_hardlinks_out_of_the_root_or_through_a_symlink() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    c.tar(
        "hl-out.aci",
        Tar::image("example.com/evil").hardlink("rootfs/h", "../canary/etc/passwd"),
        &["rootfs/h", "not inside rootfs/"],
    );
    let target = c.canary.display().to_string();
    c.tar(
        "hl-symlink.aci",
        Tar::image("example.com/evil")
            .symlink("rootfs/s", &target)
            .hardlink("rootfs/h", "rootfs/s/etc/passwd"),
        &["rootfs/h"],
    );
    c.tar(
        "hl-to-symlink.aci",
        Tar::image("example.com/evil")
            .symlink("rootfs/s", &target)
            .hardlink("rootfs/h", "rootfs/s")
            .file("rootfs/h/etc/passwd", b"pwned"),
        &["rootfs/h"],
    );
}

#[test]
fn refuses_device_nodes_and_fifos() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    c.tar(
        "char.aci",
        Tar::image("example.com/evil").put("rootfs/mem", tar::EntryType::Char, 0o666, b"", None),
        &["rootfs/mem", "character device"],
    );
    c.tar(
        "block.aci",
        Tar::image("example.com/evil").put("rootfs/sda", tar::EntryType::Block, 0o666, b"", None),
        &["rootfs/sda", "block device"],
    );
    c.tar(
        "fifo.aci",
        Tar::image("example.com/evil").put("rootfs/p", tar::EntryType::Fifo, 0o666, b"", None),
        &["rootfs/p", "fifo"],
    );
}

#[test]
fn refuses_duplicates() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    c.tar(
        "dup.aci",
        Tar::image("example.com/evil")
            .file("rootfs/a", b"1")
            .file("rootfs//a", b"2"),
        &["rootfs//a", "duplicate"],
    );
}

#[test]
fn refuses_missing_or_broken_manifests() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    c.tar(
        "no-manifest.aci",
        Tar::new().dir("rootfs").file("rootfs/x", b""),
        &["no manifest entry"],
    );
    c.tar(
        "bad-json.aci",
        Tar::new().file("manifest", b"{\"acKind\": ").dir("rootfs"),
        &["manifest"],
    );
    c.tar(
        "no-name.aci",
        Tar::new()
            .file(
                "manifest",
                br#"{"acKind":"ImageManifest","acVersion":"0.8.11"}"#,
            )
            .dir("rootfs"),
        &["manifest", "name"],
    );
}

#[test]
fn refuses_truncated_gzip() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    let tar = Tar::image("example.com/evil")
        .file("rootfs/big", &vec![7u8; 200_000])
        .bytes();
    let gz = support::store::gzip(&tar);
    let path = w.path("truncated.aci");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    w.sign(&path, &key);
    c.refused(&path, &["corrupt or truncated"]);
}

#[test]
fn refuses_a_gzip_bomb() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    // 160 MiB of zeros compress to about 160 KiB; written as a stream, never held in memory.
    let path = w.path("bomb.aci");
    {
        let file = std::fs::File::create(&path).unwrap();
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
        let mut b = tar::Builder::new(gz);
        let m = manifest("example.com/bomb", "");
        let mut h = header(tar::EntryType::Regular, 0o644, m.len() as u64);
        b.append_data(&mut h, "manifest", m.as_bytes()).unwrap();
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, "rootfs", std::io::empty()).unwrap();
        let size = 160u64 << 20;
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        b.append_data(&mut h, "rootfs/zeros", std::io::repeat(0).take(size))
            .unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    w.sign(&path, &key);
    c.refused(&path, &["rootfs/zeros", "decompression bomb"]);
}

use std::io::Read as _;

#[test]
fn refuses_a_dependency_cycle() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    let dep = |name: &str| format!(r#","dependencies":[{{"imageName":"{name}"}}]"#);
    let a = Tar::new()
        .file(
            "manifest",
            manifest("example.com/a", &dep("example.com/b")).as_bytes(),
        )
        .dir("rootfs");
    let b = Tar::new()
        .file(
            "manifest",
            manifest("example.com/b", &dep("example.com/a")).as_bytes(),
        )
        .dir("rootfs");
    w.signed_aci("b-linux-amd64.aci", &b.bytes(), &key);
    let a = w.signed_aci("a-linux-amd64.aci", &a.bytes(), &key);
    c.refused(
        &a,
        &["dependency cycle: example.com/a -> example.com/b -> example.com/a"],
    );
}

#[test]
fn refuses_a_dependency_with_a_wrong_image_id() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    let wrong = format!("sha512-{}", "0".repeat(128));
    let extra =
        format!(r#","dependencies":[{{"imageName":"example.com/base","imageID":"{wrong}"}}]"#);
    let base = Tar::image("example.com/base").file("rootfs/base", b"b");
    w.signed_aci("base-linux-amd64.aci", &base.bytes(), &key);
    let top = Tar::new()
        .file("manifest", manifest("example.com/top", &extra).as_bytes())
        .dir("rootfs");
    let top = w.signed_aci("top.aci", &top.bytes(), &key);
    c.refused(&top, &["example.com/base", "must have image ID", &wrong]);
}

#[test]
fn refuses_a_dependency_of_the_wrong_size() {
    let (w, key) = world();
    let c = Case::new(&w, &key);
    let base = Tar::image("example.com/base").file("rootfs/base", b"b");
    let base_path = w.signed_aci("base-linux-amd64.aci", &base.bytes(), &key);
    let size = std::fs::metadata(&base_path).unwrap().len();
    let top = |file: &str, size: u64| {
        let extra =
            format!(r#","dependencies":[{{"imageName":"example.com/base","size":{size}}}]"#);
        let tar = Tar::new()
            .file("manifest", manifest("example.com/top", &extra).as_bytes())
            .dir("rootfs");
        w.signed_aci(file, &tar.bytes(), &key)
    };
    let wrong = top("top-wrong.aci", size + 1);
    c.refused(
        &wrong,
        &["example.com/base", &format!("must be {} bytes", size + 1)],
    );
    // Control: the size the base image really has.
    let right = top("top.aci", size);
    w.acrun_ok(&[&"fetch", &right]);
    assert_eq!(w.listed().len(), 2);
}

#[test]
fn dependencies_from_the_same_directory_render_in_spec_order() {
    // Positive control of the two dependency refusals: the same shape, valid, renders.
    let (w, key) = world();
    let base = Tar::image("example.com/base")
        .file("rootfs/shared", b"base")
        .file("rootfs/base-only", b"b");
    let base_path = w.signed_aci("base-linux-amd64.aci", &base.bytes(), &key);
    let base_id = w.acrun_ok(&[&"fetch", &base_path]).trim().to_owned();
    w.acrun_ok(&[&"image", &"rm", &base_id]);
    let extra =
        format!(r#","dependencies":[{{"imageName":"example.com/base","imageID":"{base_id}"}}]"#);
    let top = Tar::new()
        .file("manifest", manifest("example.com/top", &extra).as_bytes())
        .dir("rootfs")
        .file("rootfs/shared", b"top");
    let top = w.signed_aci("top.aci", &top.bytes(), &key);
    w.acrun_ok(&[&"fetch", &top]);
    assert_eq!(w.listed().len(), 2);
    let out = w.path("rendered");
    w.acrun_ok(&[&"image", &"render", &"example.com/top", &out]);
    assert_eq!(std::fs::read(out.join("shared")).unwrap(), b"top");
    assert_eq!(std::fs::read(out.join("base-only")).unwrap(), b"b");
}
