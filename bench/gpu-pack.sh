#!/usr/bin/env bash
# Packs what bench/gpu-check.sh needs on a GPU machine that has no Node.js into .gpu-pack/
# (ignored by git), small enough to carry (the device tool carries at most 64 MiB):
#
#   .gpu-pack/node.xz        the Node binary running here (process.execPath), strip --strip-all
#   .gpu-pack/app.tar.xz     package.json, dist/ (without tests), node_modules trimmed to what
#                            runs on linux-x64 (no dev dependencies, no other platforms'
#                            onnxruntime-node libraries, no type declarations or source maps),
#                            plugins/, schemas/, bench/py/; with --with-fixtures also the fixtures
#                            of the tiny bench (else gpu-check.sh takes them from the checkout it
#                            runs in, where git tracks them: the device tool sends that checkout
#                            anyway, and both together must stay under its 64 MiB)
#                            Also in it: libs/vulkan/libvulkan.so.1, libs/glvnd/libGLdispatch.so.0,
#                            this machine's Vulkan loader and GL dispatch library (NVIDIA's
#                            Vulkan driver needs it), used there only when the GPU machine has none
#   .gpu-pack/MANIFEST       versions, sizes, checksums, and whether the CUDA provider is in it
#
#   bash bench/gpu-pack.sh [--out DIR] [--no-build] [--with-fixtures]
#
# Run from the repository root on a linux-x64 machine after npm ci. xz -9e with the x86 filter
# takes about two minutes on two cores.
set -euo pipefail

out=.gpu-pack
build=1
fixtures=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --with-fixtures) fixtures=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu-pack: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

[ -f package.json ] && grep -q '"name": "brainzoo"' package.json || { echo "gpu-pack: run from the brainzoo repository root" >&2; exit 2; }
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "gpu-pack: packs linux-x64 binaries, so it must run on linux-x64 (this is $(uname -s)-$(uname -m))" >&2; exit 2; }
command -v xz >/dev/null || { echo "gpu-pack: needs xz (Debian: apt-get install xz-utils)" >&2; exit 2; }
[ -d node_modules/onnxruntime-node ] || { echo "gpu-pack: node_modules is missing: run npm ci first" >&2; exit 2; }

if [ "$build" = 1 ]; then
  echo "gpu-pack: building dist/ …" >&2
  npx tsc -p tsconfig.json
fi
[ -f dist/bench/gpu-check.js ] || { echo "gpu-pack: dist/bench/gpu-check.js is missing: build first (npx tsc -p tsconfig.json)" >&2; exit 2; }

node_bin=$(node -p 'process.execPath')
node_version=$(node -p 'process.version')
nm_real=$(cd node_modules && pwd -P)
ort_dir=onnxruntime-node/bin/napi-v6/linux/x64

rm -rf "$out"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
app="$stage/app"
mkdir -p "$app/node_modules" "$app/bench"

# The project: built JavaScript (tests left out), manifests, schemas, the PyTorch comparators,
# and with --with-fixtures the fixtures of the tiny bench (zoo bench mae clip on the bundled
# synthetic dataset).
cp package.json "$app/"
tar -C . --exclude=dist/test -cf - dist plugins schemas bench/py | tar -C "$app" -xf -
if [ "$fixtures" = 1 ]; then
  mkdir -p "$app/fixtures"
  for f in mae clip synthetic; do cp -a "fixtures/$f" "$app/fixtures/"; done
fi
find "$app" -name __pycache__ -prune -exec rm -rf {} +

# node_modules: only the runtime dependency tree (npm ls --omit=dev), each package with its
# nested node_modules; the packages nested under another are copied with it.
here=$(pwd)
mapfile -t pkgs < <(npm ls --omit=dev --all --parseable 2>/dev/null | while read -r p; do
  case "$p" in "$here/node_modules/"*) echo "${p#"$here/node_modules/"}" ;; "$nm_real/"*) echo "${p#"$nm_real/"}" ;; esac
done | grep -v '/node_modules/' | sort -u)
[ "${#pkgs[@]}" -gt 0 ] || { echo "gpu-pack: npm ls listed no runtime packages" >&2; exit 1; }
tar -C "$nm_real" \
  --exclude='onnxruntime-node/bin/napi-v6/darwin' --exclude='onnxruntime-node/bin/napi-v6/win32' --exclude='onnxruntime-node/bin/napi-v6/linux/arm64' \
  --exclude='protobufjs/cli' --exclude='*.map' --exclude='*.ts' --exclude='*.mts' --exclude='*.cts' --exclude='*.md' --exclude='sbom.cdx.json' \
  -cf - "${pkgs[@]}" | tar -C "$app/node_modules" -xf -
rm -rf "$app/node_modules/@types"

# Whether this onnxruntime-node can run CUDA: its linux-x64 folder needs the provider
# libraries, which npm does not ship (onnxruntime-node's install script fetches them).
if [ -f "$app/node_modules/$ort_dir/libonnxruntime_providers_cuda.so" ]; then
  cuda_provider="present"
else
  cuda_provider="absent (node_modules/$ort_dir has $(ls "$app/node_modules/$ort_dir" | tr '\n' ' ' | sed 's/ $//'))"
fi

# The Vulkan loader and libGLdispatch (loaded by NVIDIA's Vulkan driver), from this machine.
lib_notes=()
for want in "vulkan libvulkan.so.1" "glvnd libGLdispatch.so.0"; do
  set -- $want
  found=$(ldconfig -p 2>/dev/null | sed -n "s/^\s*${2//./\\.} (libc6,x86-64) => //p" | head -n1)
  if [ -n "$found" ]; then mkdir -p "$stage/libs/$1"; cp -L "$found" "$stage/libs/$1/$2"; lib_notes+=("$2 from $found"); else lib_notes+=("no $2 on this machine"); fi
done

# Node's symbol table is not needed to run it (addons link against .dynsym, which strip keeps).
cp "$node_bin" "$stage/node"
chmod u+w "$stage/node"
if command -v strip >/dev/null; then strip --strip-all "$stage/node"; fi
"$stage/node" -e 'process.exit(0)' || { echo "gpu-pack: the stripped node does not run" >&2; exit 1; }
# Most of the bytes are x86-64 machine code: xz's x86 filter, then LZMA2 at -9e. Both in parallel.
xzx() { xz -T1 --x86 --lzma2=preset=9e,dict=64MiB -c; }
echo "gpu-pack: compressing node ($node_version) and the app …" >&2
xzx < "$stage/node" > "$out/node.xz" &
node_pid=$!
mkdir -p "$stage/libs"
tar -C "$stage" -cf - app libs | xzx > "$out/app.tar.xz"
wait "$node_pid"

{
  echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "node: $node_version ($node_bin, $(stat -c %s "$stage/node") bytes after strip --strip-all)"
  echo "onnxruntime-node: $(node -p "require('$nm_real/onnxruntime-node/package.json').version")"
  echo "cuda provider: $cuda_provider"
  echo "libraries: $(IFS=';'; echo "${lib_notes[*]}" | sed 's/;/; /g')"
  echo "fixtures: $([ "$fixtures" = 1 ] && echo 'mae, clip, synthetic packed' || echo 'not packed: taken from the checkout gpu-check.sh runs in')"
  echo "app: $(du -sb "$app" | cut -f1) bytes unpacked, $(find "$app" -type f | wc -l) files, ${#pkgs[@]} runtime packages"
  (cd "$out" && sha256sum node.xz app.tar.xz | sed 's/^/sha256: /')
} > "$out/MANIFEST"

cat "$out/MANIFEST"
total=$(find "$out" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "gpu-pack: $out: node.xz $(mib "$(stat -c %s "$out/node.xz")") MiB, app.tar.xz $(mib "$(stat -c %s "$out/app.tar.xz")") MiB, total $(mib "$total") MiB"
# What the device tool sends: this checkout's tracked and untracked-not-ignored files, plus the pack.
tree=$( (git ls-files -z --cached --others --exclude-standard 2>/dev/null || true) | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
echo "gpu-pack: with this checkout's tracked and unignored files ($(mib "$tree") MiB) the device tool would send $(mib $((total + tree))) MiB (its limit: 64 MiB)"
if [ $((total + tree)) -gt $((64 * 1048576)) ]; then
  echo "gpu-pack: warning: over 64 MiB, more than the device tool carries" >&2
fi
