#!/bin/sh
# Two acrun builds, alternating: `sh xtask/bench/run-ab.sh BEFORE AFTER [RUNS]` times a warm
# `acrun run` of the tiny static program (lib/true-image.sh, as for run.sh) with each binary in
# turn, one start of each per round, RUNS rounds (default 300) after 5 of warm-up, and prints each
# one's median, p10 and p90 of wall time per start. Alternating keeps a slow spell of the machine from
# landing on one side only, which separate hyperfine runs cannot. Needs root, gcc and python3.
set -eu
[ $# -ge 2 ] || { echo "usage: run-ab.sh BEFORE AFTER [RUNS]" >&2; exit 2; }
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
RUNS=${3:-300}
HERE=$(dirname "$(realpath "$0")")
WORK=$(mktemp -d /tmp/acrun-ab.XXXXXX)
cd "$WORK"
export ACRUN_DIR="$WORK/state"
. "$HERE/lib/true-image.sh"
true_image "$BEFORE"
python3 - "$RUNS" "$BEFORE" "$AFTER" <<'P'
import subprocess, sys, time
runs, builds = int(sys.argv[1]), sys.argv[2:]
times = [[] for _ in builds]
for i in range(runs + 5):
    for n, b in enumerate(builds):
        t0 = time.perf_counter()
        r = subprocess.run([b, "run", "--insecure-options=image", "example.com/true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.perf_counter()
        if r.returncode != 0:
            sys.exit(f"{b} run exited {r.returncode}")
        if i >= 5:
            times[n].append((t1 - t0) * 1000)
for label, b, t in zip(["before", "after"], builds, times):
    t = sorted(t)
    q = lambda f: t[min(len(t) - 1, int(f * len(t)))]
    print(f"{label} ({b}): median {q(0.5):.2f} ms, p10 {q(0.1):.2f} ms, p90 {q(0.9):.2f} ms ({len(t)} starts)")
P
echo "work dir: $WORK"
