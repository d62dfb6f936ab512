/// `--deb-dir` offers `.deb` files before the Debian sources: with the packages of a filled
/// cache in a directory and no `apt-get` on PATH, an empty cache still builds the same image;
/// without `--deb-dir` the same build fails, saying it cannot run apt-get.
#[test]
fn deb_dir_builds_without_apt_and_without_it_the_build_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let filled = tmp.path().join("filled");
    let o = build(&filled, &recipe, &tmp.path().join("out1"), &["--locked"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let debs = filled.join("acbuild/debs");
    let no_apt = tmp.path().join("bin");
    fs::create_dir(&no_apt).unwrap();
    let offline = |cache: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "build",
            recipe.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-sign",
            "--locked",
        ];
        args.extend(extra);
        acbuild_cmd::acbuild(args)
            .env("XDG_CACHE_HOME", cache)
            .env("PATH", &no_apt)
            .output()
            .unwrap()
    };
    let o = offline(&tmp.path().join("c2"), &tmp.path().join("out2"), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot run apt-get"), "{}", stderr(&o));
    let o = offline(
        &tmp.path().join("c3"),
        &tmp.path().join("out3"),
        &["--deb-dir", debs.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        fs::read(tmp.path().join("out3").join(ACI)).unwrap()
            == fs::read(tmp.path().join("out1").join(ACI)).unwrap()
    );
}

/// A package the recipe names but the lockfile does not pin is drift: `--locked` refuses it,
/// naming the package, with exit 2 and nothing written.
#[test]
fn locked_refuses_a_package_the_lockfile_does_not_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_copy(tmp.path(), "etcd");
    let text = fs::read_to_string(&recipe).unwrap();
    let more = text.replacen(
        "package \"etcd-client\"",
        "package \"etcd-client\"\n    package \"tzdata\"",
        1,
    );
    assert_ne!(more, text);
    fs::write(&recipe, more).unwrap();
    let lock = fs::read(tmp.path().join("etcd.lock")).unwrap();
    let out = tmp.path().join("out");
    let o = build(&tmp.path().join("cache"), &recipe, &out, &["--locked"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("package `tzdata`: not in the lockfile"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists() || !out.join(ACI).exists());
    assert_eq!(fs::read(tmp.path().join("etcd.lock")).unwrap(), lock);
}
