//! Fuzz target of the trust code, as a bounded proptest harness that runs in `cargo test`:
//! structured hostile inputs, never a panic, and nothing unsigned or untrusted accepted.
//!
//! - Signature files: 1–5 signatures, each of a random type, hash, signer, date, expiry and
//!   signed data, encoded as binary, one armour block or several, in any order, then optionally
//!   corrupted (bit flip, truncation). Uncorrupted, the image verifies exactly when one signature
//!   is good by the key trusted for its name (an oracle written independently of the verifier);
//!   corrupted, it verifies only if such a signature was among the originals.
//! - Trust-store trees: directories, key files (right, wrong or junk contents) and symbolic links
//!   with odd names (newlines, non-ASCII, `..`-like) and modes. A reachable link or a writable
//!   store directory always refuses the store; when a store loads, a key is trusted only if its
//!   own regular file sits at `root.d/FPR` or `prefix.d/PREFIX/FPR` with PREFIX covering the
//!   name, under real, non-writable directories — and such a placement is always honoured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use appc::trust::{Prefix, Scope, TrustStore};
use openpgp::cert::prelude::*;
use openpgp::crypto::KeyPair;
use openpgp::packet::UserID;
use openpgp::packet::signature::SignatureBuilder;
use openpgp::serialize::SerializeInto as _;
use openpgp::types::{HashAlgorithm, KeyFlags, SignatureType};
use proptest::prelude::*;
use sequoia_openpgp as openpgp;

const DAY: Duration = Duration::from_secs(86_400);
/// No line ending in it: a text-mode signature of it has the binary signature's digest, so only
/// the type check can refuse one.
const IMAGE: &[u8] = b"the image bytes";
const NAME: &str = "example.com/app/db";

/// Key 0 is trusted for `example.com/app` (covers NAME), key 1 for `example.org`, key 2 is not
/// trusted at all.
struct Keys {
    certs: Vec<Cert>,
    pairs: Vec<KeyPair>,
    fprs: Vec<String>,
    armored: Vec<Vec<u8>>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = Keys {
            certs: vec![],
            pairs: vec![],
            fprs: vec![],
            armored: vec![],
        };
        for uid in [
            "A <a@example.com>",
            "B\n<b@example.org>\x1b[2K",
            "C <c@untrusted>",
        ] {
            let (cert, _) = CertBuilder::new()
                .set_cipher_suite(CipherSuite::Cv25519)
                .set_creation_time(SystemTime::now() - 30 * DAY)
                .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
                .add_userid(uid)
                .generate()
                .unwrap();
            let pair = cert
                .primary_key()
                .key()
                .clone()
                .parts_into_secret()
                .unwrap()
                .into_keypair()
                .unwrap();
            keys.fprs.push(cert.fingerprint().to_hex());
            keys.armored.push(cert.armored().to_vec().unwrap());
            keys.certs.push(cert);
            keys.pairs.push(pair);
        }
        keys
    })
}

#[derive(Debug, Clone)]
struct SigSpec {
    signer: usize,
    typ: SignatureType,
    hash: HashAlgorithm,
    future: bool,
    validity: Option<bool>, // Some(true): still valid; Some(false): expired
    over_image: bool,
}

impl SigSpec {
    /// The independent oracle: would this signature alone make NAME verify?
    fn acceptable(&self) -> bool {
        self.signer == 0
            && self.typ == SignatureType::Binary
            && matches!(
                self.hash,
                HashAlgorithm::SHA256 | HashAlgorithm::SHA384 | HashAlgorithm::SHA512
            )
            && !self.future
            && self.validity != Some(false)
            && self.over_image
    }

    fn packet(&self) -> Vec<u8> {
        let mut pair = keys().pairs[self.signer].clone();
        let now = SystemTime::now();
        let created = if self.future {
            now + 10 * DAY
        } else {
            now - 3 * DAY
        };
        let mut b = SignatureBuilder::new(self.typ)
            .set_hash_algo(self.hash)
            .set_signature_creation_time(created)
            .unwrap();
        match self.validity {
            Some(true) => b = b.set_signature_validity_period(30 * DAY).unwrap(),
            Some(false) => b = b.set_signature_validity_period(DAY).unwrap(),
            None => {}
        }
        let data: &[u8] = if self.over_image { IMAGE } else { b"other" };
        let sig = match self.typ {
            SignatureType::Binary | SignatureType::Text => b.sign_message(&mut pair, data),
            SignatureType::Standalone => b.sign_standalone(&mut pair),
            SignatureType::Timestamp => b.sign_timestamp(&mut pair),
            _ => {
                let key = pair.public().clone().role_into_primary();
                b.sign_userid_binding(&mut pair, &key, &UserID::from("x"))
            }
        }
        .unwrap();
        openpgp::Packet::from(sig).to_vec().unwrap()
    }
}

fn sig_spec() -> impl Strategy<Value = SigSpec> {
    (
        prop::sample::select(vec![0usize, 0, 0, 1, 2]),
        prop::sample::select(vec![
            SignatureType::Binary,
            SignatureType::Binary,
            SignatureType::Text,
            SignatureType::Standalone,
            SignatureType::Timestamp,
            SignatureType::GenericCertification,
        ]),
        prop::sample::select(vec![
            HashAlgorithm::SHA256,
            HashAlgorithm::SHA512,
            HashAlgorithm::SHA384,
            HashAlgorithm::SHA256,
            HashAlgorithm::SHA1,
            HashAlgorithm::MD5,
        ]),
        prop::bool::weighted(0.15),
        prop::option::weighted(0.4, any::<bool>()),
        prop::bool::weighted(0.85),
    )
        .prop_map(
            |(signer, typ, hash, future, validity, over_image)| SigSpec {
                signer,
                typ,
                hash,
                future,
                validity,
                over_image,
            },
        )
}

fn armour(packets: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::Signature).unwrap();
    std::io::Write::write_all(&mut w, packets).unwrap();
    w.finalize().unwrap();
    out
}

/// A store trusting key 0 for `example.com/app` and key 1 for `example.org`.
fn policy() -> &'static (tempfile::TempDir, appc::trust::Policy) {
    static POLICY: OnceLock<(tempfile::TempDir, appc::trust::Policy)> = OnceLock::new();
    POLICY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = TrustStore::new(dir.path().join("trustedkeys"), None);
        for (i, prefix) in [(0, "example.com/app"), (1, "example.org")] {
            let scope = Scope::Prefix(Prefix::parse(prefix).unwrap());
            store
                .trust(&scope, &keys().armored[i], Path::new("k"))
                .unwrap();
        }
        let policy = store.policy().unwrap();
        (dir, policy)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn signature_files_verify_exactly_when_a_good_trusted_signature_is_in_them(
        specs in prop::collection::vec(sig_spec(), 1..5),
        encoding in 0u8..3,
        corruption in prop::option::weighted(0.3, (any::<prop::sample::Index>(), 1u8..=255, any::<bool>())),
    ) {
        let packets: Vec<Vec<u8>> = specs.iter().map(SigSpec::packet).collect();
        let mut file = match encoding {
            0 => packets.concat(),
            1 => armour(&packets.concat()),
            _ => packets.iter().flat_map(|p| armour(p)).collect(),
        };
        if let Some((at, xor, truncate)) = corruption {
            let i = at.index(file.len());
            if truncate { file.truncate(i) } else { file[i] ^= xor }
        }
        let expected = specs.iter().any(SigSpec::acceptable);
        let verdict = policy().1.verify(NAME, IMAGE, &file);
        if corruption.is_none() {
            prop_assert_eq!(verdict.is_ok(), expected, "{:?}: {:?}", specs, verdict.err().map(|e| e.to_string()));
        } else if verdict.is_ok() {
            prop_assert!(expected, "corrupted file accepted: {:?}", specs);
        }
        if let Ok(v) = verdict {
            prop_assert_eq!(&v.signer, &keys().fprs[0]);
            if corruption.is_none() {
                // Every other signature is reported.
                prop_assert_eq!(v.others.len() + 1, specs.len());
            }
        } else if let Err(e) = verdict {
            let text = e.to_string();
            prop_assert!(!text.contains('\x1b'), "{text:?}");
        }
    }
}

// ----- trust-store trees ----------------------------------------------------------------------

const NAMES: &[&str] = &[
    "root.d",
    "prefix.d",
    "example.com",
    "app",
    "example.org",
    "a\nb",
    "é",
    "..x",
    "KEY0",
    "KEY1",
    "KEY2",
];

#[derive(Debug, Clone)]
enum Node {
    Dir(u32),
    /// A key file: whose key's fingerprint names it is the path; contents are key `.0` (3 = junk).
    File(usize, u32),
    /// A link to a directory outside the store holding all keys, or to key `.0`'s file there.
    Link(Option<usize>),
}

fn node() -> impl Strategy<Value = Node> {
    let mode = prop::sample::select(vec![0o755, 0o700, 0o555, 0o775, 0o777, 0o757]);
    let fmode = prop::sample::select(vec![0o644, 0o600, 0o444, 0o664, 0o666]);
    prop_oneof![
        3 => mode.prop_map(Node::Dir),
        4 => (0usize..4, fmode).prop_map(|(k, m)| Node::File(k, m)),
        1 => prop::option::of(0usize..3).prop_map(Node::Link),
    ]
}

/// A path below the store: mostly under root.d or prefix.d, sometimes one of those itself or
/// something beside them.
fn store_path() -> impl Strategy<Value = Vec<usize>> {
    (
        prop::sample::select(vec![0usize, 0, 1, 1, 1, 2, 5]),
        prop::collection::vec(0..NAMES.len(), 0..3),
    )
        .prop_map(|(first, rest)| [vec![first], rest].concat())
}

fn component(name: &str) -> String {
    match name {
        "KEY0" => keys().fprs[0].clone(),
        "KEY1" => keys().fprs[1].clone(),
        "KEY2" => keys().fprs[2].clone(),
        other => other.to_owned(),
    }
}

/// Build the tree: missing parents are made (0755, as `mkdir -p` would); an operation whose
/// path exists, or has a parent that is not a real directory, is skipped.
fn build(root: &Path, outside: &Path, ops: &[(Vec<usize>, Node)]) {
    std::fs::create_dir_all(outside.join("example.com/app")).unwrap();
    for (i, armored) in keys().armored.iter().enumerate() {
        std::fs::write(outside.join(&keys().fprs[i]), armored).unwrap();
        std::fs::write(
            outside.join("example.com/app").join(&keys().fprs[i]),
            armored,
        )
        .unwrap();
    }
    std::fs::create_dir(root).unwrap();
    for (path, node) in ops {
        let mut p = root.to_owned();
        for &c in path {
            p.push(component(NAMES[c]));
        }
        let Some(parent) = p.parent() else { continue };
        let parent_ok = parent
            .ancestors()
            .take_while(|a| a.starts_with(root))
            .all(|a| std::fs::symlink_metadata(a).map_or(true, |m| m.is_dir()));
        if !parent_ok || std::fs::symlink_metadata(&p).is_ok() {
            continue;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .unwrap();
        match node {
            Node::Dir(mode) => {
                std::fs::create_dir(&p).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
            }
            Node::File(k, mode) => {
                let body = keys().armored.get(*k).cloned().unwrap_or(b"junk".to_vec());
                std::fs::write(&p, body).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
            }
            Node::Link(target) => {
                let t = match target {
                    Some(k) => outside.join(&keys().fprs[*k]),
                    None => outside.to_owned(),
                };
                std::os::unix::fs::symlink(t, &p).unwrap();
            }
        }
    }
}

fn writable(m: &std::fs::Metadata) -> bool {
    m.permissions().mode() & 0o022 != 0
}

/// Does the tree hold something that must refuse the whole store: a link or a group/world-
/// writable directory at the top, at root.d or prefix.d, directly in root.d, or anywhere below
/// prefix.d?
fn must_refuse(root: &Path) -> bool {
    let bad = |p: &Path| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.file_type().is_symlink() || (m.is_dir() && writable(&m)))
    };
    if bad(root) {
        return true;
    }
    let root_d = root.join("root.d");
    if bad(&root_d) {
        return true;
    }
    if std::fs::symlink_metadata(&root_d).is_ok_and(|m| m.is_dir()) {
        for e in std::fs::read_dir(&root_d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_symlink() {
                return true;
            }
        }
    }
    let prefix_d = root.join("prefix.d");
    if bad(&prefix_d) {
        return true;
    }
    let mut pending = vec![prefix_d];
    while let Some(dir) = pending.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in read {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_symlink() || (t.is_dir() && writable(&e.metadata().unwrap())) {
                return true;
            }
            if t.is_dir() {
                pending.push(e.path());
            }
        }
    }
    false
}

/// Is key `k`'s own file at a place that trusts it for NAME, through real, safe directories?
fn properly_placed(root: &Path, k: usize) -> bool {
    let fpr = &keys().fprs[k];
    let safe_chain = |file: &Path| {
        let mut dir = file.parent();
        while let Some(d) = dir {
            let Ok(m) = std::fs::symlink_metadata(d) else {
                return false;
            };
            if !m.is_dir() || writable(&m) {
                return false;
            }
            if d == root {
                break;
            }
            dir = d.parent();
        }
        std::fs::symlink_metadata(file).is_ok_and(|m| m.is_file() && !writable(&m))
            && std::fs::read(file).is_ok_and(|b| b == keys().armored[k])
    };
    let candidates: Vec<PathBuf> = vec![
        root.join("root.d").join(fpr),
        root.join("prefix.d/example.com").join(fpr),
        root.join("prefix.d/example.com/app").join(fpr),
    ];
    candidates.iter().any(|c| safe_chain(c))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn trust_store_trees_grant_trust_only_through_safe_placements(
        ops in prop::collection::vec((store_path(), node()), 0..14),
        seed_good in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("trustedkeys");
        let mut ops = ops;
        if seed_good {
            // Often include the right placement of key 0, so acceptance is exercised too.
            ops.insert(0, (vec![1], Node::Dir(0o755)));
            ops.insert(1, (vec![1, 2], Node::Dir(0o755)));
            ops.insert(2, (vec![1, 2, 8], Node::File(0, 0o644)));
        }
        build(&root, &dir.path().join("outside"), &ops);
        let store = TrustStore::new(root.clone(), None);
        let loaded = store.policy();
        if must_refuse(&root) {
            prop_assert!(loaded.is_err(), "unsafe tree accepted: {:?}", ops);
        }
        let Ok(policy) = loaded else { return Ok(()); };
        for k in 0..3 {
            let mut pair = keys().pairs[k].clone();
            let sig = SignatureBuilder::new(SignatureType::Binary)
                .set_signature_creation_time(SystemTime::now() - DAY)
                .unwrap()
                .sign_message(&mut pair, IMAGE)
                .unwrap();
            let sig = openpgp::Packet::from(sig).to_vec().unwrap();
            let accepted = policy.verify(NAME, IMAGE, &sig).is_ok();
            prop_assert_eq!(accepted, properly_placed(&root, k), "key {} in {:?}", k, ops);
        }
        // Listing never panics and shows what the policy uses.
        prop_assert!(store.list().is_ok());
    }
}
