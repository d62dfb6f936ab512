//! `acrun verify`: the signature policy, against signatures made by gpg.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::World;

const UID: &str = "Signer <signer@example.com>";

/// A world with one gpg key trusted for `prefix`, and an image `name` signed by it.
fn signed_image(prefix: &str, name: &str) -> (World, std::path::PathBuf, String) {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "signer.pub.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &prefix, &key]);
    let aci = w.aci("app.aci", name);
    w.gpg_sign(UID, &aci, &[]);
    (w, aci, fpr)
}

#[test]
fn accepts_gpg_signature_by_key_trusted_for_the_name() {
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/app");
    let out = w.acrun_ok(&[&"verify", &aci]);
    assert!(out.contains("image example.com/app verified"), "{out}");
    assert!(out.contains(&fpr), "{out}");
}

#[test]
fn accepts_key_trusted_for_a_parent_prefix() {
    let (w, aci, _) = signed_image("example.com", "example.com/app/db");
    w.acrun_ok(&[&"verify", &aci]);
}

#[test]
fn accepts_key_trusted_as_root() {
    let w = World::new();
    w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    w.acrun_ok(&[&"trust", &"--root", &key]);
    let aci = w.aci("app.aci", "other.org/thing");
    w.gpg_sign(UID, &aci, &[]);
    w.acrun_ok(&[&"verify", &aci]);
}

#[test]
fn accepts_signature_given_by_flag() {
    let (w, aci, _) = signed_image("example.com/app", "example.com/app");
    let moved = w.path("elsewhere.sig");
    std::fs::rename(format!("{}.asc", aci.display()), &moved).unwrap();
    w.acrun_ok(&[&"verify", &aci, &"--signature", &moved]);
}

#[test]
fn refuses_image_without_signature() {
    let w = World::new();
    let aci = w.aci("app.aci", "example.com/app");
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains("no signature"), "{err}");
}

#[test]
fn refuses_signature_by_untrusted_key() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let aci = w.aci("app.aci", "example.com/app");
    w.gpg_sign(UID, &aci, &[]);
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("not a trusted key"), "{err}");
}

#[test]
fn refuses_key_trusted_for_another_prefix() {
    let (w, aci, fpr) = signed_image("example.org", "example.com/app");
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("trusted only for prefix example.org"), "{err}");
}

#[test]
fn prefix_app_does_not_cover_apple() {
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/apple");
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/apple"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("does not cover example.com/apple"), "{err}");
}

#[test]
fn refuses_tampered_image() {
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/app");
    let original = std::fs::read(&aci).unwrap();
    // Control: the image as signed verifies.
    w.acrun_ok(&[&"verify", &aci]);
    // Changed bytes that still decompress to the same archive: the gzip header's MTIME field
    // (bytes 4..8) is covered by no checksum, only by the signature.
    let mut bytes = original.clone();
    bytes[4] ^= 0x5a;
    std::fs::write(&aci, &bytes).unwrap();
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("does not match the image"), "{err}");
    // Bytes appended after the compressed stream: the signature covers them (refused), and with
    // --full the archive check refuses them before the signature is looked at.
    let mut bytes = original;
    bytes.extend_from_slice(&[0; 512]);
    std::fs::write(&aci, bytes).unwrap();
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("does not match the image"), "{err}");
    let err = w.acrun_fails(1, &[&"verify", &"--full", &aci]);
    assert!(
        err.contains("data after the end of the gzip stream"),
        "{err}"
    );
}

#[test]
fn refuses_tampered_signature() {
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/app");
    // Flip a bit in the signature value (the last bytes of the packet), keeping the packet
    // well-formed so the signer is still named.
    let sig = w.path("app.aci.sig");
    let asc = format!("{}.asc", aci.display());
    w.gpg(&["--output", sig.to_str().unwrap(), "--dearmor", &asc]);
    let mut bytes = std::fs::read(&sig).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    std::fs::write(&sig, bytes).unwrap();
    let err = w.acrun_fails(1, &[&"verify", &aci, &"--signature", &sig]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("does not match the image"), "{err}");
}

#[test]
fn refuses_expired_key() {
    let w = World::new();
    // Made and used in 2024 with a one-day lifetime.
    let fpr = w.gpg_key(UID, &["--faked-system-time", "20240101T000000"], "1d");
    let key = w.export(UID, "k.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com", &key]);
    let aci = w.aci("app.aci", "example.com/app");
    w.gpg_sign(UID, &aci, &["--faked-system-time", "20240101T060000"]);
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn refuses_revoked_key_once_its_revocation_is_imported() {
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/app");
    w.acrun_ok(&[&"verify", &aci]);
    // gpg leaves a revocation certificate with its lines prefixed by ':' to disarm it.
    let rev = w.gnupghome().join(format!("openpgp-revocs.d/{fpr}.rev"));
    let armed = std::fs::read_to_string(rev)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    std::fs::write(w.path("rev.asc"), armed).unwrap();
    w.gpg(&["--import", w.path("rev.asc").to_str().unwrap()]);
    let revoked = w.export(UID, "revoked.pub.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com/app", &revoked]);
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("revoked"), "{err}");
}

#[test]
fn refuses_image_whose_manifest_is_invalid() {
    let w = World::new();
    let src = w.path("src");
    std::fs::create_dir_all(src.join("rootfs")).unwrap();
    std::fs::write(src.join("manifest"), r#"{"acKind":"ImageManifest"}"#).unwrap();
    let aci = w.path("bad.aci");
    let ok = std::process::Command::new("tar")
        .arg("-C")
        .arg(&src)
        .arg("-cf")
        .arg(&aci)
        .args(["manifest", "rootfs"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("bad.aci: manifest:"), "{err}");
    assert!(err.contains("name: is required"), "{err}");
}

#[test]
fn accepts_signature_made_by_appc_sign() {
    let w = World::new();
    let key = appc::sign::SecretKey::generate("A <a@example.com>").unwrap();
    std::fs::write(w.path("a.pub"), key.armored_public().unwrap()).unwrap();
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com", &w.path("a.pub")]);
    let aci = w.aci("app.aci", "example.com/app");
    appc::sign::sign_file(&aci, &key, std::time::SystemTime::now()).unwrap();
    let out = w.acrun_ok(&[&"verify", &aci]);
    assert!(out.contains(&key.fingerprint()), "{out}");
}

/// The tar bytes with `\r` inserted before the `\n` ending rootfs/hello's content and one
/// trailing zero dropped: the same text-mode (canonical line ending) hash, different content.
fn crlf_tampered(plain: &[u8]) -> Vec<u8> {
    let at = plain
        .windows(6)
        .position(|w| w == b"hello\n")
        .expect("rootfs/hello content")
        + 5;
    let mut out = plain[..at].to_vec();
    out.push(b'\r');
    out.extend_from_slice(&plain[at..plain.len() - 1]);
    out
}

#[test]
fn text_mode_signature_is_refused_though_gpg_accepts_changed_bytes() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com/app", &key]);
    let aci = w.aci_plain("app.aci", "example.com/app");
    let sig = w.gpg_sign(UID, &aci, &["--textmode"]);
    // The attack is real: gpg accepts the text signature for different bytes.
    let tampered = w.path("tampered.aci");
    std::fs::write(&tampered, crlf_tampered(&std::fs::read(&aci).unwrap())).unwrap();
    w.gpg(&[
        "--verify",
        sig.to_str().unwrap(),
        tampered.to_str().unwrap(),
    ]);
    for image in [&aci, &tampered] {
        let err = w.acrun_fails(1, &[&"verify", image, &"--signature", &sig]);
        assert!(err.contains(&fpr), "{err}");
        assert!(
            err.contains("text-mode document signature (type 0x01)"),
            "{err}"
        );
        assert!(
            err.contains("only binary-document signatures (type 0x00)"),
            "{err}"
        );
    }
    // Control: a binary signature of the same image verifies, and not the tampered bytes.
    let sig = w.gpg_sign(UID, &aci, &[]);
    w.acrun_ok(&[&"verify", &aci]);
    let err = w.acrun_fails(1, &[&"verify", &tampered, &"--signature", &sig]);
    assert!(err.contains("does not match the image"), "{err}");
}

#[test]
fn sha1_signature_is_refused_naming_the_hash() {
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/app");
    w.acrun_ok(&[&"verify", &aci]);
    w.gpg_sign(UID, &aci, &["--digest-algo", "SHA1"]);
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains(&fpr), "{err}");
    assert!(
        err.contains("uses the SHA1 hash, which is not accepted"),
        "{err}"
    );
    assert!(!err.contains("does not match"), "{err}");
}

#[test]
fn future_dated_signature_is_refused_as_such() {
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/app");
    w.acrun_ok(&[&"verify", &aci]);
    w.gpg_sign(UID, &aci, &["--faked-system-time", "20991231T000000"]);
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains(&fpr), "{err}");
    assert!(
        err.contains("dated 2099-12-31 00:00:00 UTC, in the future"),
        "{err}"
    );
}

#[test]
fn expired_signature_is_refused_as_such() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &["--faked-system-time", "20240101T000000"], "never");
    let key = w.export(UID, "k.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com", &key]);
    let aci = w.aci("app.aci", "example.com/app");
    let at = ["--faked-system-time", "20240102T000000"];
    // Control: signed then, without an expiry, by a key that never expires.
    w.gpg_sign(UID, &aci, &at);
    w.acrun_ok(&[&"verify", &aci]);
    w.gpg_sign(
        UID,
        &aci,
        &[&at[..], &["--default-sig-expire", "1d"]].concat(),
    );
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("expired at 2024-01-03 00:00:00 UTC"), "{err}");
    assert!(!err.contains("does not match"), "{err}");
}

#[test]
fn any_good_trusted_signature_among_several_suffices_in_either_order() {
    const OTHER: &str = "Other <other@example.org>";
    let (w, aci, fpr) = signed_image("example.com/app", "example.com/app");
    let other = w.gpg_key(OTHER, &[], "never");
    let key = w.export(OTHER, "other.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.org", &key]);
    let good = std::fs::read(format!("{}.asc", aci.display())).unwrap();
    let other_sig = std::fs::read(w.gpg_sign(OTHER, &aci, &[])).unwrap();
    // Control: the other-prefix signature alone is refused.
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("trusted only for prefix example.org"), "{err}");
    let both = w.path("both.asc");
    for (order, sig) in [
        ("other first", [other_sig.clone(), good.clone()].concat()),
        ("good first", [good.clone(), other_sig.clone()].concat()),
    ] {
        std::fs::write(&both, sig).unwrap();
        let out = w.acrun_ok(&[&"verify", &aci, &"--signature", &both]);
        assert!(out.contains(&format!("signed by {fpr}")), "{order}: {out}");
        assert!(out.contains(&other), "{order}: {out}");
        assert!(
            out.contains("trusted only for prefix example.org"),
            "{order}: {out}"
        );
    }
    // One armour block holding both signatures, as `gpg -u A -u B` makes it.
    let joint = w.path("joint.asc");
    w.gpg(&[
        "--local-user",
        OTHER,
        "--local-user",
        UID,
        "--armor",
        "--output",
        joint.to_str().unwrap(),
        "--detach-sign",
        aci.to_str().unwrap(),
    ]);
    let out = w.acrun_ok(&[&"verify", &aci, &"--signature", &joint]);
    assert!(out.contains(&format!("signed by {fpr}")), "{out}");
}

/// Serve `images` through the FIFO `path`, one per open for writing, on a thread.
fn serve_fifo(path: &std::path::Path, images: Vec<Vec<u8>>) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo (coreutils) is required");
    assert!(status.success());
    let path = path.to_owned();
    std::thread::spawn(move || {
        for image in images {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
                let _ = std::io::Write::write_all(&mut f, &image);
            }
        }
    });
}

#[test]
fn a_fifo_is_read_once_so_it_cannot_show_two_images() {
    let (w, aci, _) = signed_image("example.com/app", "example.com/app");
    let admin = w.aci("admin.aci", "example.com/app/admin");
    let sig = format!("{}.asc", aci.display());
    // The attack: the unsigned admin image on the first read, the signed image on the second.
    let fifo = w.path("attack.aci");
    serve_fifo(
        &fifo,
        vec![std::fs::read(&admin).unwrap(), std::fs::read(&aci).unwrap()],
    );
    // Opened once, the FIFO yields both images as one stream: the admin image is never judged
    // on its own (opened twice, it would be named and the signed image's bytes would verify).
    let err = w.acrun_fails(1, &[&"verify", &fifo, &"--signature", &sig]);
    assert!(!err.contains("verified"), "{err}");
    assert!(err.contains("does not match the image"), "{err}");
    // With --full the archive check sees the second image as trailing data.
    let fifo = w.path("attack-full.aci");
    serve_fifo(
        &fifo,
        vec![std::fs::read(&admin).unwrap(), std::fs::read(&aci).unwrap()],
    );
    let err = w.acrun_fails(1, &[&"verify", &"--full", &fifo, &"--signature", &sig]);
    assert!(!err.contains("verified"), "{err}");
    assert!(
        err.contains("data after the end of the gzip stream"),
        "{err}"
    );
    // Control: a FIFO serving the signed image once verifies.
    let fifo = w.path("good.aci");
    serve_fifo(&fifo, vec![std::fs::read(&aci).unwrap()]);
    let out = w.acrun_ok(&[&"verify", &fifo, &"--signature", &sig]);
    assert!(out.contains("image example.com/app verified"), "{out}");
}

#[test]
fn a_directory_or_device_is_not_an_image() {
    let (w, aci, _) = signed_image("example.com/app", "example.com/app");
    let sig = format!("{}.asc", aci.display());
    let dir = w.path("dir.aci");
    std::fs::create_dir(&dir).unwrap();
    let err = w.acrun_fails(2, &[&"verify", &dir, &"--signature", &sig]);
    assert!(err.contains("is a directory, not an image file"), "{err}");
    let err = w.acrun_fails(2, &[&"verify", &"/dev/zero", &"--signature", &sig]);
    assert!(err.contains("is a character device"), "{err}");
    w.acrun_ok(&[&"verify", &aci]);
}

#[test]
fn full_checks_every_entry_while_the_default_stops_at_the_manifest() {
    let (w, _, fpr) = signed_image("example.com/app", "example.com/app");
    // A signed image whose archive is invalid after its manifest: an entry outside rootfs/.
    let src = w.path("extra.src");
    std::fs::create_dir_all(src.join("rootfs")).unwrap();
    std::fs::write(
        src.join("manifest"),
        r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app"}"#,
    )
    .unwrap();
    std::fs::write(src.join("extra"), b"not in the layout\n").unwrap();
    let aci = w.path("extra.aci");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&src)
        .arg("-czf")
        .arg(&aci)
        .args(["manifest", "rootfs", "extra"])
        .status()
        .unwrap();
    assert!(status.success());
    w.gpg_sign(UID, &aci, &[]);
    // The signature and the name are good: the default check says so (fetch would refuse the
    // archive when it extracts it).
    let out = w.acrun_ok(&[&"verify", &aci]);
    assert!(out.contains(&format!("signed by {fpr}")), "{out}");
    // --full reads every entry and refuses the stray one.
    let err = w.acrun_fails(1, &[&"verify", &"--full", &aci]);
    assert!(err.contains("extra"), "{err}");
    // Control: --full accepts a valid image.
    let good = w.aci("good.aci", "example.com/app");
    w.gpg_sign(UID, &good, &[]);
    w.acrun_ok(&[&"verify", &"--full", &good]);
}
