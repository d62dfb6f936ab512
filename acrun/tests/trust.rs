//! `acrun trust`: the store layout, what it prints, and what it refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::World;

const UID: &str = "Signer <signer@example.com>";

#[test]
fn trust_prefix_prints_fingerprint_and_prefix_and_stores_by_fingerprint() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    let out = w.acrun_ok(&[&"trust", &"--prefix", &"example.com/app", &key]);
    assert!(out.contains(&fpr), "{out}");
    assert!(out.contains("for prefix example.com/app"), "{out}");
    let stored = w.path(&format!("state/trustedkeys/prefix.d/example.com/app/{fpr}"));
    assert!(stored.is_file(), "{}", stored.display());
}

#[test]
fn trust_root_stores_in_root_d() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    let out = w.acrun_ok(&[&"trust", &"--root", &key]);
    assert!(out.contains(&fpr) && out.contains("root"), "{out}");
    assert!(w.path(&format!("state/trustedkeys/root.d/{fpr}")).is_file());
}

#[test]
fn prefix_that_would_escape_the_store_is_a_usage_error() {
    let w = World::new();
    w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    for bad in ["../etc", "/etc", "example.com/../../x", "Example.com"] {
        let err = w.acrun_fails(2, &[&"trust", &"--prefix", &bad, &key]);
        assert!(err.contains("invalid prefix"), "{bad}: {err}");
    }
    assert!(!w.path("state/trustedkeys/prefix.d").exists());
}

#[test]
fn non_key_file_is_a_usage_error() {
    let w = World::new();
    std::fs::write(w.path("junk"), "not a key").unwrap();
    let err = w.acrun_fails(2, &[&"trust", &"--root", &w.path("junk")]);
    assert!(err.contains("not an OpenPGP public key"), "{err}");
}

#[test]
fn list_shows_user_and_system_keys() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com", &key]);
    let system = w.path("system-trust/root.d");
    std::fs::create_dir_all(&system).unwrap();
    std::fs::copy(&key, system.join(&fpr)).unwrap();
    let out = w.acrun_ok(&[&"trust", &"--list"]);
    assert!(
        out.contains(&format!("{fpr} {UID}\troot [system]")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{fpr} {UID}\tprefix example.com\n")),
        "{out}"
    );
}

#[test]
fn system_store_trust_is_honoured_by_verify() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    let system = w.path("system-trust/prefix.d/example.com");
    std::fs::create_dir_all(&system).unwrap();
    std::fs::copy(&key, system.join(&fpr)).unwrap();
    let aci = w.aci("app.aci", "example.com/app");
    w.gpg_sign(UID, &aci, &[]);
    w.acrun_ok(&[&"verify", &aci]);
}

#[test]
fn remove_forgets_the_key() {
    let w = World::new();
    let fpr = w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com", &key]);
    let out = w.acrun_ok(&[&"trust", &"--remove", &fpr]);
    assert!(out.contains(&fpr), "{out}");
    assert_eq!(w.acrun_ok(&[&"trust", &"--list"]), "");
    let err = w.acrun_fails(2, &[&"trust", &"--remove", &fpr]);
    assert!(err.contains("no trusted key"), "{err}");
}
