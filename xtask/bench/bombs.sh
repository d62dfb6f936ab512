#!/bin/sh
# Benchmark (issue 8, item 1): `acbuild validate` on each archive bomb at the sizes of the issue
# (1 GiB GNU long name in bzip2 and gzip, 1 GiB pax comment, 4 million copies of one entry,
# 4 GiB of zero padding), time and peak RSS by /usr/bin/time, three runs each. The bombs are
# built by acbuild/tests/archive_bombs.rs (BOMB_FULL=1 BOMB_DIR=...), which also checks that each
# is refused under prlimit --as=64MiB. Goal: under 2 s and 64 MB each.
# Usage: sh xtask/bench/bombs.sh   (from the workspace root; PROFILE=release for a release
# binary, default dev; needs /usr/bin/time and prlimit: apt-get install time util-linux)
set -eu
for t in /usr/bin/time prlimit; do
    command -v "$t" >/dev/null 2>&1 || { echo "missing $t (apt-get install time util-linux)" >&2; exit 1; }
done
PROFILE=${PROFILE:-dev}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
BOMB_FULL=1 BOMB_DIR="$W" cargo test -q --profile "$PROFILE" -p acbuild --test archive_bombs >&2
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
ACBUILD="${CARGO_TARGET_DIR:-$PWD/target}/$dir/acbuild"
echo "| bomb | file size | exit | wall time (3 runs) | peak RSS (max of 3) | message |"
echo "|---|---|---|---|---|---|"
for f in "$W"/*.aci; do
    times=""; rss=0
    for _ in 1 2 3; do
        /usr/bin/time -f '%e %M' -o "$W/t" "$ACBUILD" validate "$f" >/dev/null 2>"$W/err" && code=0 || code=$?
        set -- $(cat "$W/t" | tail -1)
        times="$times $1 s"; [ "$2" -gt "$rss" ] && rss=$2
    done
    msg=$(tail -1 "$W/err" | sed "s|$W/||" | cut -c1-110)
    echo "| $(basename "$f") | $(stat -c %s "$f") B | $code |$times | $((rss / 1024)) MiB | \`$msg\` |"
done
