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

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A world whose store trusts a gpg key for `example.com`, and an image it signed.
fn trusted_world() -> (World, std::path::PathBuf, std::path::PathBuf) {
    let w = World::new();
    w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    w.acrun_ok(&[&"trust", &"--prefix", &"example.com", &key]);
    let aci = w.aci("app.aci", "example.com/app");
    w.gpg_sign(UID, &aci, &[]);
    (w, aci, key)
}

#[test]
fn user_ids_are_escaped_in_trust_and_list_output() {
    let w = World::new();
    let forged = "Mallory\nremoved key 0000 (all images)\x1b[2K\r";
    let key = appc::sign::SecretKey::generate(forged).unwrap();
    std::fs::write(w.path("m.asc"), key.armored_public().unwrap()).unwrap();
    let out = w.acrun_ok(&[&"trust", &"--root", &w.path("m.asc")]);
    assert!(
        out.contains(r"Mallory\nremoved key 0000 (all images)\x1b[2K\r"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let list = w.acrun_ok(&[&"trust", &"--list"]);
    assert_eq!(list.lines().count(), 1, "{list}");
    for out in [&out, &list] {
        assert!(!out.contains('\x1b') && !out.contains('\r'), "{out:?}");
    }
    let out = w.acrun_ok(&[&"trust", &"--remove", &key.fingerprint()]);
    assert_eq!(out.lines().count(), 1, "{out}");
    // Control: an ordinary user ID, non-ASCII letters included, is shown as it is.
    let plain = appc::sign::SecretKey::generate("Zoë <zoe@example.com>").unwrap();
    std::fs::write(w.path("z.asc"), plain.armored_public().unwrap()).unwrap();
    let out = w.acrun_ok(&[&"trust", &"--root", &w.path("z.asc")]);
    assert!(out.contains("Zoë <zoe@example.com>"), "{out}");
}

#[test]
fn group_or_world_writable_store_is_refused_naming_the_path() {
    let (w, aci, _) = trusted_world();
    let store = w.path("state/trustedkeys");
    let prefix = store.join("prefix.d/example.com");
    let key_file = std::fs::read_dir(&prefix)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // Control: the store as acrun made it verifies.
    w.acrun_ok(&[&"verify", &aci]);
    for (path, bad, good) in [
        (&store, 0o777, 0o700),
        (&prefix, 0o775, 0o755),
        (&key_file, 0o666, 0o644),
    ] {
        chmod(path, bad);
        for args in [
            &[&"verify" as &dyn AsRef<std::ffi::OsStr>, &aci][..],
            &[&"trust", &"--list"],
        ] {
            let err = w.acrun_fails(1, args);
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains("writable by group or others"), "{err}");
        }
        chmod(path, good);
        w.acrun_ok(&[&"verify", &aci]);
    }
}

#[test]
fn symlinked_store_directories_are_refused() {
    let (w, aci, key) = trusted_world();
    let store = w.path("state/trustedkeys");
    // root.d as a link to a directory holding the key: refused, not followed.
    let elsewhere = w.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::remove_dir_all(store.join("prefix.d")).unwrap();
    let fpr = w.fingerprint(UID);
    std::fs::copy(&key, elsewhere.join(&fpr)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, store.join("root.d")).unwrap();
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(
        err.contains(&store.join("root.d").display().to_string()),
        "{err}"
    );
    assert!(err.contains("symbolic link"), "{err}");
    // Trusting through the link is refused too.
    let err = w.acrun_fails(1, &[&"trust", &"--root", &key]);
    assert!(err.contains("symbolic link"), "{err}");
    // Control: the same directory in place of the link grants trust.
    std::fs::remove_file(store.join("root.d")).unwrap();
    std::fs::rename(&elsewhere, store.join("root.d")).unwrap();
    w.acrun_ok(&[&"verify", &aci]);
    // prefix.d as a link, and the store itself as a link.
    std::fs::remove_dir_all(store.join("root.d")).unwrap();
    let real = w.path("real-prefix");
    std::fs::create_dir_all(real.join("example.com")).unwrap();
    std::fs::copy(&key, real.join("example.com").join(&fpr)).unwrap();
    std::os::unix::fs::symlink(&real, store.join("prefix.d")).unwrap();
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(
        err.contains("prefix.d") && err.contains("symbolic link"),
        "{err}"
    );
    std::fs::remove_file(store.join("prefix.d")).unwrap();
    std::fs::rename(&real, store.join("prefix.d")).unwrap();
    w.acrun_ok(&[&"verify", &aci]);
    let moved = w.path("moved-store");
    std::fs::rename(&store, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &store).unwrap();
    let err = w.acrun_fails(1, &[&"verify", &aci]);
    assert!(
        err.contains("trustedkeys") && err.contains("symbolic link"),
        "{err}"
    );
}

#[test]
fn trust_under_umask_zero_makes_a_store_that_is_then_accepted() {
    let w = World::new();
    w.gpg_key(UID, &[], "never");
    let key = w.export(UID, "k.asc");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" trust --prefix example.com/app \"$1\"")
        .arg(env!("CARGO_BIN_EXE_acrun"))
        .arg(&key)
        .env("ACRUN_DIR", w.path("state"))
        .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aci = w.aci("app.aci", "example.com/app");
    w.gpg_sign(UID, &aci, &[]);
    w.acrun_ok(&[&"verify", &aci]);
}
