#!/bin/sh
# acrun fetch of the etcd image (signature check, one-pass decompress + layout check + hash +
# safe extraction, syncfs, publish) vs gpg --verify + tar -xzf of the same file, side by side.
# Usage: xtask/bench/fetch.sh   (from the workspace root; needs gpg, hyperfine, etcd-server)
# Writes the markdown table to $OUT (default: target/bench-fetch.md).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/target/bench-fetch.md}
cargo build --release -q -p acbuild -p acrun
ACBUILD=${ACBUILD:-$root/target/release/acbuild}
ACRUN=${ACRUN:-$root/target/release/acrun}

work=$(mktemp -d)
export GNUPGHOME="$work/gnupg"
trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -m 700 "$GNUPGHOME"

# The image: acbuild recipes/etcd.kdl, signed with an acbuild key trusted for its prefix.
"$ACBUILD" keygen --uid "Bench <bench@example.com>" --out "$work/keys" >/dev/null
"$ACBUILD" recipes/etcd.kdl --out "$work/out" --sign-key "$work/keys/signing-key.asc" >/dev/null
aci="$work/out/etcd-3.4.23-linux-amd64.aci"
ls -l "$aci" >&2
export ACRUN_DIR="$work/state" ACRUN_SYSTEM_TRUST_DIR="$work/none"
"$ACRUN" trust --prefix coreos.com/etcd "$work/keys/signing-key.pub.asc" >/dev/null

# gpg: its own Ed25519 key, signing a copy of the same bytes.
gpg --batch --passphrase '' --quick-gen-key 'Bench GPG <gpg@example.com>' ed25519 sign never 2>/dev/null
cp "$aci" "$work/gpg.aci"
gpg --batch --yes -u gpg@example.com --armor --detach-sign "$work/gpg.aci"

hyperfine --warmup 3 --runs ${RUNS:-30} --export-markdown "$OUT" ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/fetch.json"} \
    -n 'acrun fetch (fresh store)' \
    --prepare "rm -rf $work/state/images" \
    "$ACRUN fetch $aci" \
    -n 'gpg --verify + tar -xzf' \
    --prepare "rm -rf $work/x && mkdir $work/x" \
    "gpg --batch --verify $work/gpg.aci.asc $work/gpg.aci 2>/dev/null && tar -xzf $work/gpg.aci -C $work/x"
cat "$OUT"
