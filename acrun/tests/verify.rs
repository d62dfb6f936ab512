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
    let mut bytes = std::fs::read(&aci).unwrap();
    bytes.extend_from_slice(&[0; 512]);
    std::fs::write(&aci, bytes).unwrap();
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(err.contains("image example.com/app"), "{err}");
    assert!(err.contains(&fpr), "{err}");
    assert!(err.contains("does not match the image"), "{err}");
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
