//! Fetch by name over real HTTPS: a site written by `acbuild publish` is served by Python's
//! `http.server` wrapped in TLS on 127.0.0.1:443, inside a private network + mount namespace
//! (`unshare -n -m`) where a bind-mounted `/etc/hosts` maps the image's domain to 127.0.0.1 and
//! the test CA is given through `SSL_CERT_FILE`. Each refusal sits beside its allowed twin:
//! trust without `--yes` off a terminal / with `--yes`; a label the image lacks / the same image
//! without it; an image signed by a key not trusted / one signed by the trusted key; plain HTTP
//! without / with `--insecure-options=http`; `acrun run NAME:VERSION` with `--pull=never` on an empty
//! store / by discovery (then from the store), and run of the untrusted image refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::World;
use support::store::acbuild_ok;

const DOMAIN: &str = "example.test";

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "{tool} is required: apt-get install {package}");
}

/// A signed image `NAME` version `version` for this host, packed by acbuild.
fn image(w: &World, name: &str, version: &str, key: &Path) -> std::path::PathBuf {
    let tag = format!("{}-{version}", name.replace('/', "_"));
    let dir = w.path(&format!("src-{tag}"));
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    std::fs::write(dir.join("rootfs/hello"), format!("{name} {version}\n")).unwrap();
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    std::fs::create_dir_all(dir.join("rootfs/bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("rootfs/bin/busybox")).unwrap();
    let manifest = serde_json::json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": name,
        "labels": [
            {"name": "version", "value": version},
            {"name": "os", "value": appc::discovery::host_os()},
            {"name": "arch", "value": appc::discovery::host_arch()},
        ],
        "app": {
            "exec": ["/bin/busybox", "sh", "-c", format!("echo ran {name} {version}; exit 7")],
            "user": "0", "group": "0",
        },
    });
    std::fs::write(dir.join("manifest"), manifest.to_string()).unwrap();
    let aci = w.path(&format!("{tag}.aci"));
    acbuild_ok(&[&"pack", &dir, &aci, &"--sign-key", &key]);
    aci
}

fn make_ca(w: &World) {
    let dir = w.path("tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ext.cnf"),
        format!(
            "subjectAltName=DNS:{DOMAIN}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    let script = "set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj /CN=acrun-test-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr \
  -subj /CN=example.test
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
  -extfile ext.cnf";
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SERVER: &str = r#"
import http.server, ssl, sys, os
site, port, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
os.chdir(site)
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"#;

/// The steps run inside the namespace; each writes `out/STEP.{code,stdout,stderr}`.
fn script(w: &World) -> String {
    let acrun = env!("CARGO_BIN_EXE_acrun");
    let d = w.dir.path().display();
    format!(
        r#"set -u
W={d}
ip link set lo up
mount --make-rprivate /
mount --bind $W/hosts /etc/hosts
export SSL_CERT_FILE=$W/tls/ca.pem
unset SSL_CERT_DIR
wait_port() {{ python3 -c "import socket,time,sys
for i in range(100):
    try: socket.create_connection(('127.0.0.1', $1), 0.2).close(); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)"; }}
step() {{ name=$1; shift; "$@" </dev/null >$W/out/$name.stdout 2>$W/out/$name.stderr; echo $? >$W/out/$name.code; }}
mkdir -p $W/out
python3 $W/server.py $W/site 443 $W/tls/srv.pem $W/tls/srv.key & HTTPS=$!
python3 $W/server.py $W/site-http 80 & HTTP=$!
wait_port 443 && wait_port 80 || echo servers did not start >$W/out/setup.error
export ACRUN_DIR=$W/state ACRUN_SYSTEM_TRUST_DIR=$W/system-trust
step trust_no_tty {acrun} trust --prefix {DOMAIN}
step trust_yes {acrun} trust --prefix {DOMAIN} --yes
step fetch {acrun} fetch --json {DOMAIN}/hello:1.0
step fetch_latest {acrun} fetch {DOMAIN}/hello --pull=always
step fetch_label {acrun} fetch {DOMAIN}/hello:1.0,channel=beta --pull=always
step fetch_evil {acrun} fetch {DOMAIN}/evil:1.0
step image_list {acrun} image list --json
export ACRUN_DIR=$W/state-run
step run_trust {acrun} trust --prefix {DOMAIN} --yes
step run_never {acrun} run --pull=never {DOMAIN}/hello:1.0
step run_name {acrun} run {DOMAIN}/hello:1.0
step run_stored {acrun} run --pull=never {DOMAIN}/hello:1.0
step run_evil {acrun} run {DOMAIN}/evil:1.0
kill $HTTPS; wait $HTTPS 2>/dev/null
export ACRUN_DIR=$W/state-http
step http_trust {acrun} trust --prefix {DOMAIN} $W/alice.pub.asc
step http_refused {acrun} fetch {DOMAIN}/hello:1.0
step http_allowed {acrun} fetch {DOMAIN}/hello:1.0 --insecure-options=http
kill $HTTP; wait $HTTP 2>/dev/null
exit 0
"#
    )
}

struct Step {
    code: i32,
    stdout: String,
    stderr: String,
}

fn steps(w: &World) -> BTreeMap<String, Step> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(w.path("out")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "code") {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            let read = |ext: &str| std::fs::read_to_string(p.with_extension(ext)).unwrap();
            let code = read("code").trim().parse().unwrap();
            out.insert(
                stem,
                Step {
                    code,
                    stdout: read("stdout"),
                    stderr: read("stderr"),
                },
            );
        }
    }
    out
}

fn expect(steps: &BTreeMap<String, Step>, name: &str, code: i32, needle: &str) -> String {
    let s = steps
        .get(name)
        .unwrap_or_else(|| panic!("step {name} did not run"));
    assert_eq!(
        s.code, code,
        "{name}: stdout {}\nstderr {}",
        s.stdout, s.stderr
    );
    let both = format!("{}{}", s.stdout, s.stderr);
    assert!(both.contains(needle), "{name}: {needle:?} not in:\n{both}");
    s.stdout.clone()
}

#[test]
fn trust_fetch_by_name_over_https_in_a_private_network() {
    require("unshare", "util-linux");
    require("ip", "iproute2");
    require("openssl", "openssl");
    require("python3", "python3");
    let w = World::new();
    let alice = w.key("alice");
    let mallory = w.key("mallory");
    std::fs::copy(&alice.public, w.path("alice.pub.asc")).unwrap();
    let hello = image(&w, &format!("{DOMAIN}/hello"), "1.0", &alice.secret);
    let evil = image(&w, &format!("{DOMAIN}/evil"), "1.0", &mallory.secret);
    let base = format!("https://{DOMAIN}");
    acbuild_ok(&[
        &"publish",
        &"--base-url",
        &base,
        &"--out",
        &w.path("site"),
        &"--pubkey",
        &alice.public,
        &hello,
    ]);
    // An attacker drops a mallory-signed image at a path the site's template names.
    let (host, arch) = (appc::discovery::host_os(), appc::discovery::host_arch());
    let planted = w.path(&format!("site/{DOMAIN}/evil-1.0-{host}-{arch}.aci"));
    std::fs::copy(&evil, &planted).unwrap();
    std::fs::copy(
        format!("{}.asc", evil.display()),
        format!("{}.asc", planted.display()),
    )
    .unwrap();
    let http_base = format!("http://{DOMAIN}");
    acbuild_ok(&[
        &"publish",
        &"--base-url",
        &http_base,
        &"--out",
        &w.path("site-http"),
        &"--pubkey",
        &alice.public,
        &hello,
    ]);
    make_ca(&w);
    std::fs::write(w.path("hosts"), format!("127.0.0.1 localhost {DOMAIN}\n")).unwrap();
    std::fs::write(w.path("server.py"), SERVER).unwrap();
    std::fs::write(w.path("run.sh"), script(&w)).unwrap();
    let out = Command::new("unshare")
        .args(["-n", "-m", "sh"])
        .arg(w.path("run.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "namespace script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!w.path("out/setup.error").exists(), "servers did not start");
    let s = steps(&w);

    expect(&s, "trust_no_tty", 2, "pass --yes");
    let fp = appc::sign::PublicKey::from_bytes(&std::fs::read(&alice.public).unwrap())
        .unwrap()
        .fingerprint();
    let shown = expect(&s, "trust_yes", 0, &fp);
    assert!(
        shown.contains("alice <alice@store.test>"),
        "user ID shown: {shown}"
    );

    let fetched = expect(&s, "fetch", 0, "sha512-");
    assert!(fetched.contains(&format!("{DOMAIN}/hello")), "{fetched}");
    expect(&s, "fetch_latest", 0, "sha512-");
    expect(&s, "fetch_label", 1, "channel=\"beta\"");
    expect(
        &s,
        "fetch_evil",
        1,
        &format!("acrun trust --prefix {DOMAIN}/evil"),
    );
    let listed = expect(&s, "image_list", 0, "hello");
    assert!(
        !listed.contains("evil"),
        "the untrusted image was stored: {listed}"
    );

    // `acrun run NAME:VERSION` in a fresh store: --pull=never refuses (nothing stored), the
    // default discovers, fetches and runs; then --pull=never runs it from the store.
    expect(&s, "run_trust", 0, &fp);
    expect(&s, "run_never", 254, &format!("{DOMAIN}/hello:1.0"));
    expect(&s, "run_name", 7, &format!("ran {DOMAIN}/hello 1.0"));
    expect(&s, "run_stored", 7, &format!("ran {DOMAIN}/hello 1.0"));
    let refused = expect(
        &s,
        "run_evil",
        254,
        &format!("acrun trust --prefix {DOMAIN}/evil"),
    );
    assert!(!refused.contains("ran "), "{refused}");

    expect(&s, "http_trust", 0, &fp);
    let refused = expect(&s, "http_refused", 1, "discovery of image endpoints");
    assert!(!refused.contains("sha512-"), "{refused}");
    expect(&s, "http_allowed", 0, "sha512-");
}
