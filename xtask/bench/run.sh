#!/bin/sh
# Warm start of a tiny static program: `acrun run` (image already in the store, rendered) vs
# `crun run` on the same rootfs, and the kernel work alone (floor.c: the same namespaces, overlay,
# mounts, capabilities and seccomp filter, with nothing else; `--bare` is crun's shape, the app
# exec'd as PID 1 with no confinement). floor.c is built twice: with glibc, whose start-up alone
# costs a program 0.7-0.8 ms on this machine (every cpuid traps), and with musl, whose
# start-up does not (the `/true` rows time the app's start with each libc). Needs root, gcc,
# musl-gcc, crun, hyperfine (xtask/debian-packages.txt) and a release build of acrun (ACRUN=path,
# default target/release/acrun).
# crun 1.8 refuses hybrid cgroup layouts whose cgroup2 lists a controller (hugetlb here), so every
# case runs in a private mount namespace where an empty file hides
# /sys/fs/cgroup/unified/cgroup.controllers (runtime-anchors B1/B5); nothing outside changes.
set -eu
RUNS=${RUNS:-100}
ACRUN=$(realpath "${ACRUN:-target/release/acrun}")
HERE=$(dirname "$(realpath "$0")")
WORK=$(mktemp -d /tmp/acrun-bench.XXXXXX)
cd "$WORK"
gcc -static -O2 -o floor "$HERE/floor.c"
# musl's wrapper leaves out /usr/include; floor.c needs the kernel's headers from there.
mkdir kernel-headers
for d in linux asm-generic "$(gcc -print-multiarch)/asm"; do ln -s "/usr/include/$d" kernel-headers/; done
musl-gcc -static -O2 -idirafter kernel-headers -o floor-musl "$HERE/floor.c"
mkdir floor-base
export ACRUN_DIR="$WORK/state"
. "$HERE/lib/true-image.sh"
true_image "$ACRUN"
musl-gcc -static -O2 -o true-musl true.c
mkdir bundle && cp -a img/rootfs bundle/rootfs
(cd bundle && crun spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/true"/' config.json)
: > empty
cat > ns.sh <<N
mount --make-rprivate /
mount --bind $WORK/empty /sys/fs/cgroup/unified/cgroup.controllers
exec "\$@"
N
unshare -m sh ns.sh hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$WORK/result.json" \
  -n "acrun run" "$ACRUN run --insecure-options=image example.com/true" \
  -n "crun run" "crun run --bundle $WORK/bundle acrun-bench" \
  -n "floor" "$WORK/floor $WORK/img/rootfs $WORK/floor-base" \
  -n "floor --bare" "$WORK/floor --bare $WORK/img/rootfs $WORK/floor-base" \
  -n "floor (musl)" "$WORK/floor-musl $WORK/img/rootfs $WORK/floor-base" \
  -n "floor --bare (musl)" "$WORK/floor-musl --bare $WORK/img/rootfs $WORK/floor-base" \
  -n "/true (glibc)" "$WORK/true-static" \
  -n "/true (musl)" "$WORK/true-musl"
python3 - "$WORK/result.json" <<'P'
import json, sys
medians = {}
for r in json.load(open(sys.argv[1]))["results"]:
    t = sorted(r["times"])
    p = lambda q: t[min(len(t) - 1, int(q * len(t)))] * 1000
    medians[r["command"]] = p(0.5)
    print(f"{r['command']}: median {p(0.5):.2f} ms, p90 {p(0.9):.2f} ms, min {t[0]*1000:.2f} ms ({len(t)} runs)")
crun = medians["crun run"]
print("medians / crun's: " + ", ".join(f"{c} {m / crun:.2f}x" for c, m in medians.items() if c != "crun run"))
P
[ -z "${BENCH_JSON_DIR:-}" ] || cp "$WORK/result.json" "$BENCH_JSON_DIR/run.json"
echo "work dir: $WORK"
