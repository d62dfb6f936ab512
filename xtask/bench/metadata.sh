#!/bin/sh
# Metadata service response time (issue 11: "each request answered in well under 100 ms", the ACE
# validator's client timeout). A busybox pod with --net=host (so the service's socket is on the
# host's 127.0.0.1 and curl can time it from outside) writes its AC_METADATA_URL to a host volume
# and sleeps; curl then times RUNS requests of each kind (`%{time_total}`: connect to last byte).
# Needs root, busybox-static, curl, python3 and a release acrun (ACRUN=path, default
# target/release/acrun). Usage: xtask/bench/metadata.sh   or  cargo xtask bench metadata
set -eu
RUNS=${RUNS:-200}
ACRUN=$(realpath "${ACRUN:-target/release/acrun}")
WORK=$(mktemp -d /tmp/acrun-metadata.XXXXXX)
POD=
trap '[ -n "$POD" ] && kill -TERM "$POD" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir -p img/rootfs/bin out
cp /bin/busybox img/rootfs/bin/busybox
ln -s busybox img/rootfs/bin/sh
ln -s busybox img/rootfs/bin/sleep
cat > img/manifest <<'M'
{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/meta","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],"app":{"exec":["/bin/sh"],"user":"0","group":"0"},"annotations":[{"name":"purpose","value":"bench"}]}
M
tar -C img -czf meta.aci manifest rootfs
export ACRUN_DIR="$WORK/state"
"$ACRUN" run --insecure-options=image --net=host --volume "out,kind=host,source=$WORK/out" \
  meta.aci --mount volume=out,target=/out -- -c 'echo "$AC_METADATA_URL" > /out/url; exec sleep 600' \
  2>/dev/null &
POD=$!
i=0
while [ ! -s out/url ]; do i=$((i + 1)); [ $i -lt 200 ] || { echo "pod did not start" >&2; exit 1; }; sleep 0.05; done
URL=$(cat out/url)/acMetadata/v1
UUID=$(curl -sf "$URL/pod/uuid")
SIG=$(curl -sf --data content=hello "$URL/pod/hmac/sign")
for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "$URL/pod/uuid"; done > uuid.txt
for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "$URL/pod/manifest"; done > manifest.txt
for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "$URL/apps/meta/annotations"; done > annotations.txt
for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' --data content=hello "$URL/pod/hmac/sign"; done > sign.txt
for _ in $(seq "$RUNS"); do
  curl -s -o /dev/null -w '%{time_total}\n' --data-urlencode content=hello --data-urlencode "uuid=$UUID" \
    --data-urlencode "signature=$SIG" "$URL/pod/hmac/verify"
done > verify.txt
code=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode content=hello --data-urlencode "uuid=$UUID" \
    --data-urlencode "signature=$SIG" "$URL/pod/hmac/verify")
[ "$code" = 200 ] || { echo "verify answered $code" >&2; exit 1; }
echo "metadata service, $RUNS requests each, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
python3 - uuid.txt manifest.txt annotations.txt sign.txt verify.txt <<'P'
import sys
print("| request | median [ms] | p99 [ms] | max [ms] |")
print("|:---|---:|---:|---:|")
names = {"uuid.txt": "GET /pod/uuid", "manifest.txt": "GET /pod/manifest",
         "annotations.txt": "GET /apps/meta/annotations", "sign.txt": "POST /pod/hmac/sign",
         "verify.txt": "POST /pod/hmac/verify"}
for f in sys.argv[1:]:
    t = sorted(float(x) * 1000 for x in open(f) if x.strip())
    p = lambda q: t[min(len(t) - 1, int(q * len(t)))]
    print(f"| `{names[f]}` | {p(0.5):.2f} | {p(0.99):.2f} | {t[-1]:.2f} |")
P
