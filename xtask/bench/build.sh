#!/usr/bin/env bash
# Benchmark: `acbuild recipes/etcd.kdl` against the same image made with the reference tools
# (`lddtree --copy-to-tree` for the ELF closure + NSS modules, a shell for accounts and config,
# `actool build` for the ACI), in one hyperfine run. Run from the repository root:
#   cargo build --release -p acbuild && xtask/bench/build.sh
# Needs: hyperfine, actool (appc-spec), lddtree (pax-utils + python3-pyelftools), etcd-server,
# etcd-client. Writes the hyperfine tables to target/bench/build-{full,cached}.md and prints sizes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACBUILD=${ACBUILD:-$PWD/target/release/acbuild}
W=$PWD/target/bench/build
rm -rf "$W" && mkdir -p "$W"

# The manifest the reference build uses: the one acbuild writes, so both images say the same.
"$ACBUILD" build recipes/etcd.kdl --out "$W/acbuild-out" >/dev/null 2>&1
tar -xzf "$W"/acbuild-out/*.aci -C "$W" manifest

cat > "$W/reference.sh" <<'SH'
#!/usr/bin/env bash
# The etcd image by hand: closure by lddtree, accounts and NSS by shell, archive by actool.
set -euo pipefail
W=$1
rm -rf "$W/ref" && mkdir -p "$W/ref/rootfs"
nss=$(for s in files dns systemd; do ls /usr/lib/x86_64-linux-gnu/libnss_$s.so.2 2>/dev/null || true; done)
/usr/bin/python3 /usr/bin/lddtree --copy-to-tree "$W/ref/rootfs" /usr/bin/etcd /usr/bin/etcdctl $nss >/dev/null
mkdir -p "$W/ref/rootfs/etc" "$W/ref/rootfs/var/lib/etcd"
chmod 700 "$W/ref/rootfs/var/lib/etcd" && chown 1000:1000 "$W/ref/rootfs/var/lib/etcd"
cp /etc/nsswitch.conf /etc/host.conf /etc/services /etc/protocols "$W/ref/rootfs/etc/"
printf 'root:x:0:0:root:/root:/sbin/nologin\netcd:x:1000:1000::/var/lib/etcd:/sbin/nologin\n' > "$W/ref/rootfs/etc/passwd"
printf 'root:x:0:\netcd:x:1000:\n' > "$W/ref/rootfs/etc/group"
cp "$W/manifest" "$W/ref/manifest"
actool build --overwrite "$W/ref" "$W/reference.aci"
SH
chmod +x "$W/reference.sh"

# A full build (cache off) against the reference, then a rebuild with nothing changed (cache on).
hyperfine --warmup 1 --runs 5 ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/build-1-full.json"} \
  --export-markdown "$W/../build-full.md" \
  -n "acbuild recipes/etcd.kdl (no cache)" "$ACBUILD build recipes/etcd.kdl --out $W/out --no-cache" \
  -n "lddtree --copy-to-tree + actool build" "$W/reference.sh $W"
export XDG_CACHE_HOME=$W/cache
"$ACBUILD" build recipes/etcd.kdl --out "$W/out-cached" >/dev/null 2>&1
hyperfine --warmup 3 --runs 20 -N ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/build-2-cached.json"} \
  --export-markdown "$W/../build-cached.md" \
  -n "acbuild recipes/etcd.kdl (nothing changed)" "$ACBUILD build recipes/etcd.kdl --out $W/out-cached"

echo
echo "sizes (bytes):"
stat -c '%s %n' "$W"/out/*.aci "$W/reference.aci"
echo "entries: acbuild $(tar -tzf "$W"/out/*.aci | wc -l), reference $(tar -tzf "$W/reference.aci" | wc -l)"
