#!/usr/bin/env bash
# Benchmark: the etcd image in package mode (inputs from the Debian packages pinned in
# recipes/etcd.lock) against host mode (the same recipe without its `package` nodes, inputs from
# the host's /usr/bin/etcd and libraries), with a warm package cache; then package mode with a cold
# cache (every .deb downloaded through the configured Debian sources and unpacked). Run from the
# repository root:
#   cargo build --release -p acbuild && xtask/bench/hermetic.sh
# Needs: hyperfine, apt-get with package lists, etcd-server and etcd-client installed (host mode).
# Writes the hyperfine tables to target/bench/hermetic-{warm,cold}.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACBUILD=${ACBUILD:-$PWD/target/release/acbuild}
W=$PWD/target/bench/hermetic
rm -rf "$W" && mkdir -p "$W"
cp recipes/etcd.kdl recipes/etcd.lock "$W/"
grep -v '^[[:space:]]*package ' recipes/etcd.kdl > "$W/etcd-host.kdl"

# Both modes build every time (--no-cache: no image cache); package mode keeps its .deb and
# sysroot caches, filled by one build first. --locked: the lockfile is checked, never written.
export XDG_CACHE_HOME=$W/warm
"$ACBUILD" build "$W/etcd.kdl" --out "$W/out-fill" --no-sign --locked >/dev/null 2>&1
hyperfine --warmup 1 --runs 10 \
  --export-markdown "$W/../hermetic-warm.md" ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/hermetic-warm.json"} \
  -n "host mode" "$ACBUILD build $W/etcd-host.kdl --out $W/out-host --no-sign --no-cache" \
  -n "package mode, warm cache" "$ACBUILD build $W/etcd.kdl --out $W/out-pkg --no-sign --no-cache --locked"

# Cold: an empty cache each run (download, verify, unpack the 40-package closure, then build).
hyperfine --runs 5 --prepare "rm -rf $W/cold" \
  --export-markdown "$W/../hermetic-cold.md" ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/hermetic-cold.json"} \
  -n "package mode, cold cache" \
  "env XDG_CACHE_HOME=$W/cold $ACBUILD build $W/etcd.kdl --out $W/out-cold --no-sign --locked"

echo
cmp "$W"/out-pkg/*.aci "$W"/out-cold/*.aci && echo "warm and cold builds: identical bytes"
echo "closure: $(grep -c '"sha256"' "$W/etcd.lock") hashes in the lockfile, $(du -sh "$W/cold/acbuild/debs" | cut -f1) of .deb files"
stat -c '%s %n' "$W"/out-host/*.aci "$W"/out-pkg/*.aci
