#!/bin/sh
# Two acrun builds, alternating: `sh xtask/bench/run-ab.sh BEFORE AFTER [RUNS]` times a warm
# `acrun run` of the tiny static program (as run.sh sets it up) with each binary in turn, one
# start of each per round, RUNS rounds (default 300) after 5 of warm-up, and prints each one's
# median, p10 and p90 of wall time per start. Alternating keeps a slow spell of the machine from
# landing on one side only, which separate hyperfine runs cannot. Needs root, gcc and python3.
set -eu
[ $# -ge 2 ] || { echo "usage: run-ab.sh BEFORE AFTER [RUNS]" >&2; exit 2; }
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
RUNS=${3:-300}
WORK=$(mktemp -d /tmp/acrun-ab.XXXXXX)
cd "$WORK"
printf 'int main(void){return 0;}\n' > true.c
gcc -static -O2 -o true-static true.c
mkdir -p img/rootfs/proc img/rootfs/dev img/rootfs/sys
cp true-static img/rootfs/true
cat > img/manifest <<'M'
{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/true","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],"app":{"exec":["/true"],"user":"0","group":"0"}}
M
tar -C img -cf true.aci manifest rootfs
export ACRUN_DIR="$WORK/state"
"$BEFORE" fetch --insecure-options=image true.aci >/dev/null 2>&1
"$BEFORE" run --insecure-options=image example.com/true 2>/dev/null
python3 - "$RUNS" "$BEFORE" "$AFTER" <<'P'
import subprocess, sys, time
runs, builds = int(sys.argv[1]), sys.argv[2:]
times = {b: [] for b in builds}
for i in range(runs + 5):
    for b in builds:
        t0 = time.perf_counter()
        r = subprocess.run([b, "run", "--insecure-options=image", "example.com/true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.perf_counter()
        if r.returncode != 0:
            sys.exit(f"{b} run exited {r.returncode}")
        if i >= 5:
            times[b].append((t1 - t0) * 1000)
for label, b in zip(["before", "after"], builds):
    t = sorted(times[b])
    q = lambda f: t[min(len(t) - 1, int(f * len(t)))]
    print(f"{label} ({b}): median {q(0.5):.2f} ms, p10 {q(0.1):.2f} ms, p90 {q(0.9):.2f} ms ({len(t)} starts)")
P
echo "work dir: $WORK"
