#!/bin/sh
# `acrun verify` (one pass: tee into the signature digest and the archive reader, which stops at
# the manifest) against `gpg --verify` on the same ~8 MB ACI (etcd), under hyperfine;
# `acrun verify --full` also decompresses and checks every entry, and `acbuild validate` (the
# archive reader alone, no signature) shows what that archive check costs.
# Usage: xtask/bench/verify.sh  or  cargo xtask bench verify   (workspace root; needs gpg,
# hyperfine, /usr/bin/etcd). RUNS (default 20) and WARMUP (default 3) tune hyperfine.
# Writes the markdown table to $OUT (default: target/bench-verify.md).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/target/bench-verify.md}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
cargo build --release -q -p acbuild -p acrun
bin=${CARGO_TARGET_DIR:-$root/target}/release

work=$(mktemp -d)
export GNUPGHOME="$work/gnupg"
trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -m 700 "$GNUPGHOME"

# The image: manifest + rootfs/usr/bin/etcd, gzip (the same image as sign.sh).
mkdir -p "$work/src/rootfs/usr/bin"
cp /usr/bin/etcd "$work/src/rootfs/usr/bin/etcd"
printf '%s' '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/etcd","app":{"exec":["/usr/bin/etcd"],"user":"0","group":"0"}}' \
    > "$work/src/manifest"
tar -C "$work/src" --sort=name --mtime=@0 --owner=0 --group=0 -czf "$work/etcd.aci" manifest rootfs
ls -l "$work/etcd.aci" >&2

# One gpg Ed25519 key signs the image; acrun trusts the same key, so both check the same .asc.
gpg --batch --passphrase '' --quick-gen-key 'Bench <bench@example.com>' ed25519 sign never 2>/dev/null
gpg --batch --armor --export bench@example.com > "$work/bench.pub.asc"
gpg --batch --yes -u bench@example.com --armor --detach-sign "$work/etcd.aci"
export ACRUN_DIR="$work/state" ACRUN_SYSTEM_TRUST_DIR="$work/none"
"$bin/acrun" trust --prefix example.com/etcd "$work/bench.pub.asc" >/dev/null
"$bin/acrun" verify "$work/etcd.aci" >&2
gpg --batch --verify "$work/etcd.aci.asc" "$work/etcd.aci"

hyperfine --warmup "$WARMUP" --runs "$RUNS" --export-markdown "$OUT" ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/verify.json"} \
    -n 'acrun verify' "$bin/acrun verify $work/etcd.aci" \
    -n 'gpg --verify' "gpg --batch --verify $work/etcd.aci.asc $work/etcd.aci" \
    -n 'acrun verify --full' "$bin/acrun verify --full $work/etcd.aci" \
    -n 'acbuild validate (archive only)' "$bin/acbuild validate $work/etcd.aci"
cat "$OUT"
