# Sourced by run.sh and run-ab.sh: in the current directory, builds a static
# `int main(){return 0;}` (true-static), an image of it (img/, true.aci, name example.com/true,
# root user), and warms it with `$1`: fetched into $ACRUN_DIR and run once, which renders its tree.
true_image() {
  printf 'int main(void){return 0;}\n' > true.c
  gcc -static -O2 -o true-static true.c
  mkdir -p img/rootfs/proc img/rootfs/dev img/rootfs/sys
  cp true-static img/rootfs/true
  cat > img/manifest <<'M'
{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/true","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],"app":{"exec":["/true"],"user":"0","group":"0"}}
M
  tar -C img -cf true.aci manifest rootfs
  "$1" fetch --insecure-options=image true.aci >/dev/null 2>&1
  "$1" run --insecure-options=image example.com/true 2>/dev/null
}
