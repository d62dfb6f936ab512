#!/bin/sh
# Benchmark: `acbuild pack` (release) vs `actool build --owner-root` on the same directory
# (/usr/bin/etcd + libc + loader). Prints a hyperfine table and both output sizes.
# Usage: sh xtask/bench/pack.sh   (from the workspace root; needs etcd-server, actool, hyperfine)
set -eu
for t in /usr/bin/etcd actool hyperfine; do
    command -v "$t" >/dev/null 2>&1 || [ -e "$t" ] || { echo "missing $t (apt-get install etcd-server actool hyperfine)" >&2; exit 1; }
done
cargo build --release -q -p acbuild
ACBUILD=${ACBUILD:-$PWD/target/release/acbuild}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/d/rootfs/usr/bin" "$W/d/rootfs/lib/x86_64-linux-gnu" "$W/d/rootfs/lib64"
cp /usr/bin/etcd "$W/d/rootfs/usr/bin/"
cp -L /lib/x86_64-linux-gnu/libc.so.6 "$W/d/rootfs/lib/x86_64-linux-gnu/"
cp -L /lib64/ld-linux-x86-64.so.2 "$W/d/rootfs/lib64/"
printf '%s' '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/etcd","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}' > "$W/d/manifest"
hyperfine --warmup 2 --runs "${RUNS:-10}" --export-markdown "$W/table.md" ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/pack.json"} \
    -n "acbuild pack" "$ACBUILD pack $W/d $W/acbuild.aci" \
    -n "actool build --owner-root" "actool build --overwrite --owner-root $W/d $W/actool.aci"
cat "$W/table.md"
a=$(stat -c %s "$W/acbuild.aci"); b=$(stat -c %s "$W/actool.aci")
echo "size: acbuild $a bytes, actool $b bytes, ratio $(echo "scale=4; $a / $b" | bc)"
