#!/usr/bin/env bash
# Benchmark `acbuild trace` (one call over every ELF file in /usr/bin and /usr/sbin) against
# lddtree and ldd run once per file on the same list. Run through `cargo xtask bench trace`
# (which builds the release binary first), from the workspace root.
set -euo pipefail
cd "$(dirname "$0")/../.."
acbuild=${ACBUILD:-$PWD/target/release/acbuild}
[ -x "$acbuild" ] || { echo "build first: cargo build --release -p acbuild" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "apt-get install hyperfine" >&2; exit 1; }
[ -x /usr/bin/lddtree ] || { echo "apt-get install pax-utils python3-pyelftools" >&2; exit 1; }

list="$(mktemp)"
trap 'rm -f "$list"' EXIT
# Regular files (not symlinks) that start with the ELF magic, sorted.
find /usr/bin /usr/sbin -maxdepth 1 -type f -print0 | sort -z |
    while IFS= read -r -d '' f; do
        [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] && printf '%s\n' "$f"
    done >"$list"
echo "files: $(wc -l <"$list") ELF files in /usr/bin and /usr/sbin; cores: $(nproc)"

hyperfine --warmup "${WARMUP:-1}" --runs "${RUNS:-5}" --export-markdown "${OUT:-/dev/stdout}" ${BENCH_JSON_DIR:+--export-json "$BENCH_JSON_DIR/trace.json"} \
    -n 'acbuild trace (one call)' "xargs -a $list -d '\\n' $acbuild trace --allow-missing >/dev/null 2>&1" \
    -n 'lddtree -l (per file)' "xargs -a $list -d '\\n' -n 1 /usr/bin/python3 /usr/bin/lddtree -l >/dev/null 2>&1 || true" \
    -n 'ldd (per file)' "xargs -a $list -d '\\n' -n 1 ldd >/dev/null 2>&1 || true"
