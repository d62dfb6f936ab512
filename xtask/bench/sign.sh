#!/bin/sh
# Sign and verify an ~8 MB ACI (etcd) with acbuild/acrun and with gpg, under hyperfine.
# Usage: xtask/bench/sign.sh   (from the workspace root; needs gpg, hyperfine, /usr/bin/etcd)
# Writes the markdown table to $OUT (default: target/bench-sign.md).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/target/bench-sign.md}
cargo build --release -q -p acbuild -p acrun
ACBUILD=${ACBUILD:-$root/target/release/acbuild}
ACRUN=${ACRUN:-$root/target/release/acrun}

work=$(mktemp -d)
export GNUPGHOME="$work/gnupg"
trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -m 700 "$GNUPGHOME"

# The image: manifest + rootfs/usr/bin/etcd, gzip.
mkdir -p "$work/src/rootfs/usr/bin"
cp /usr/bin/etcd "$work/src/rootfs/usr/bin/etcd"
printf '%s' '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/etcd","app":{"exec":["/usr/bin/etcd"],"user":"0","group":"0"}}' \
    > "$work/src/manifest"
tar -C "$work/src" --sort=name --mtime=@0 --owner=0 --group=0 -czf "$work/etcd.aci" manifest rootfs
cp "$work/etcd.aci" "$work/etcd-gpg.aci"
ls -l "$work/etcd.aci" >&2

# acbuild/acrun: Ed25519 key from acbuild keygen, trusted for the image's prefix.
"$ACBUILD" keygen --uid "Bench <bench@example.com>" --out "$work/keys" >/dev/null
export ACRUN_DIR="$work/state" ACRUN_SYSTEM_TRUST_DIR="$work/none"
"$ACRUN" trust --prefix example.com/etcd "$work/keys/signing-key.pub.asc" >/dev/null

# gpg: its own Ed25519 key.
gpg --batch --passphrase '' --quick-gen-key 'Bench GPG <gpg@example.com>' ed25519 sign never 2>/dev/null

"$ACBUILD" sign --sign-key "$work/keys/signing-key.asc" "$work/etcd.aci" >/dev/null
gpg --batch --yes -u gpg@example.com --armor --detach-sign "$work/etcd-gpg.aci"

hyperfine --warmup 3 --export-markdown "$OUT" ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/sign.json"} \
    -n 'acbuild sign (Ed25519)' "$ACBUILD sign --sign-key $work/keys/signing-key.asc $work/etcd.aci" \
    -n 'gpg --detach-sign (Ed25519)' "gpg --batch --yes -u gpg@example.com --armor --detach-sign $work/etcd-gpg.aci" \
    -n 'acrun verify (policy)' "$ACRUN verify $work/etcd.aci" \
    -n 'gpg --verify' "gpg --batch --verify $work/etcd-gpg.aci.asc $work/etcd-gpg.aci"
cat "$OUT"
