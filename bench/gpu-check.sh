#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and no Node.js, from the repository root where
# .gpu-pack/ (made by bench/gpu-pack.sh) was carried, unpack Node and the app, check the GPU,
# PyTorch and Vulkan, then run bench/gpu-check.ts: the real-scale training step with ONNX Runtime
# on cuda and webgpu against PyTorch CUDA with AMP, and a tiny zoo bench per device against
# --device cpu, all in this one run. Prints one table; a side that cannot run is a row with the
# reason. If even the unpacking fails, the table is one row saying why.
#
#   bash bench/gpu-check.sh [--pack DIR] [--work DIR] [--report DIR] [gpu-check options]
#
# gpu-check options (see dist/bench/gpu-check.js): --devices cuda,webgpu (default; cpu too)
# --scale real|small (real) --steps N (5) --bench-max-steps N (200; 0 = to convergence)
# --bench-plugins mae,clip --bench-subjects subj01 --timeout S per side (240) --budget S (480)
#
# --work (default $GPU_CHECK_WORK or /tmp/brainzoo-gpu-check) is where Node, the app and the
# bench outputs are unpacked; --report (default $OUT when set, else WORK/report) receives
# gpu-check.md, gpu-check.json, gpu-check.log and each tiny bench's log. Exit 0: every row
# measured; 1: some side failed or was unavailable (the table says which); 2: bad arguments.
# With the default --budget, the whole check ends within about 9 minutes (a device tool's
# command may run 10).
set -uo pipefail

pack=.gpu-pack
work=${GPU_CHECK_WORK:-/tmp/brainzoo-gpu-check}
report=${OUT:-}
budget=480
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pack) pack="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    --budget) budget="$2"; pass+=("$1" "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --*) [ $# -ge 2 ] || { echo "gpu-check: $1 needs a value" >&2; exit 2; }; pass+=("$1" "$2"); shift 2 ;;
    *) echo "gpu-check: unexpected argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$budget" in ''|*[!0-9]*) echo "gpu-check: --budget must be a whole number of seconds (got $budget)" >&2; exit 2 ;; esac
report=${report:-$work/report}

# One row saying why nothing could be measured: the table is printed whatever happens.
setup_failed() {
  echo
  echo "| device | what | brainzoo | comparator (same machine, same run) | comparator's | ratio | note |"
  echo "|---|---|---|---|---|---|---|"
  echo "| all | setup | FAILED | | | n/a | $(echo "$1" | tr '\n|' ' /') |"
  mkdir -p "$report" 2>/dev/null && printf 'setup FAILED: %s\n' "$1" > "$report/gpu-check.md"
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# A Python for the PyTorch comparator: the first that sees a CUDA GPU, else the first with torch.
pick_python() {
  local c first_torch=""
  for c in ${BRAINZOO_PYTHON:-} python3 /usr/bin/python3 python; do
    have "$c" || continue
    if timeout 120 "$c" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)' 2>/dev/null; then echo "$c"; return; fi
    if [ -z "$first_torch" ] && timeout 120 "$c" -c 'import torch' 2>/dev/null; then first_torch="$c"; fi
  done
  if [ -n "$first_torch" ]; then echo "$first_torch"; elif have python3; then echo python3; else echo ""; fi
}
python=$(pick_python)

# xz may be missing where Python is not: Python's lzma and tarfile modules do the same.
unxz() { # unxz FILE.xz OUT
  if have xz; then xz -dc "$1" > "$2"
  elif [ -n "$python" ]; then "$python" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  else return 1; fi
}
untar_xz() { # untar_xz FILE.tar.xz DIR
  if have xz; then tar -C "$2" -xJf "$1"
  elif [ -n "$python" ]; then "$python" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"
  else return 1; fi
}

[ -f "$pack/node.xz" ] && [ -f "$pack/app.tar.xz" ] || setup_failed "no $pack/node.xz and $pack/app.tar.xz here ($(pwd)): run bash bench/gpu-pack.sh on a linux-x64 machine with Node.js and carry $pack along"
pack=$(cd "$pack" && pwd)
repo=$(pwd)
mkdir -p "$work" "$report" || setup_failed "cannot create $work and $report"
work=$(cd "$work" && pwd); report=$(cd "$report" && pwd)
echo "gpu-check: unpacking $pack into $work …" >&2
rm -rf "$work/app" "$work/libs" "$work/node" "$work/runs"
unxz "$pack/node.xz" "$work/node" || setup_failed "could not decompress $pack/node.xz (needs xz or a Python with lzma)"
chmod +x "$work/node"
untar_xz "$pack/app.tar.xz" "$work" || setup_failed "could not unpack $pack/app.tar.xz"
node_version=$("$work/node" --version 2>&1) || setup_failed "the packed Node does not run here: $node_version"
echo "gpu-check: node $node_version; python ${python:-none}" >&2
[ -n "$python" ] && export BRAINZOO_PYTHON="$python"

# The tiny bench's fixtures: packed (gpu-pack.sh --with-fixtures), or this checkout's.
if [ ! -e "$work/app/fixtures" ] && [ -d "$repo/fixtures/synthetic" ]; then ln -s "$repo/fixtures" "$work/app/fixtures"; fi

# WebGPU (Dawn) loads libvulkan.so.1, and NVIDIA's Vulkan driver (libGLX_nvidia.so.0, named by
# nvidia_icd.json) needs libGLdispatch.so.0: this machine's, else the ones carried in the pack.
has_lib() { ldconfig -p 2>/dev/null | grep -q "$1 (.*x86-64"; }
notes=()
for want in "vulkan libvulkan.so.1" "glvnd libGLdispatch.so.0"; do
  set -- $want
  if has_lib "$2"; then notes+=("$2 $(ldconfig -p | sed -n "s/^\s*${2//./\\.} (libc6,x86-64) => //p" | head -n1)")
  elif [ -f "$work/libs/$1/$2" ]; then
    export LD_LIBRARY_PATH="$work/libs/$1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    notes+=("$2 carried in the pack (none on this machine)")
  else notes+=("no $2 here or in the pack"); fi
done
# The driver's own folder when the container runtime mounted it but ldconfig does not list it.
if [ -d /usr/local/nvidia/lib64 ] && ! has_lib libGLX_nvidia.so.0; then
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"
fi
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1 \
  && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json VK_ICD_FILENAMES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export BRAINZOO_GPU_CHECK_VULKAN="$(IFS=';'; echo "${notes[*]}" | sed 's/;/; /g')"

# onnxruntime-node from npm has no CUDA provider. A Python onnxruntime-gpu of the very same version
# has one: borrow it (and the CUDA libraries that pip's nvidia-* packages bring) when it is there.
ort_dir="$work/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
if [ ! -f "$ort_dir/libonnxruntime_providers_cuda.so" ] && [ -n "$python" ]; then
  ort_version=$("$work/node" -p "require('$work/app/node_modules/onnxruntime-node/package.json').version" 2>/dev/null)
  found=$(timeout 120 "$python" - <<'EOF' 2>/dev/null
import glob, os, onnxruntime as o
capi = os.path.join(os.path.dirname(o.__file__), "capi")
print(o.__version__)
print(capi if os.path.exists(os.path.join(capi, "libonnxruntime_providers_cuda.so")) else "")
libs = [d for d in glob.glob(os.path.join(os.path.dirname(os.path.dirname(o.__file__)), "nvidia", "*", "lib"))]
print(":".join(libs))
EOF
)
  py_ort=$(echo "$found" | sed -n 1p); capi=$(echo "$found" | sed -n 2p); nvlibs=$(echo "$found" | sed -n 3p)
  if [ -n "$capi" ] && [ "$py_ort" = "$ort_version" ]; then
    cp "$capi/libonnxruntime_providers_cuda.so" "$capi/libonnxruntime_providers_shared.so" "$ort_dir/" && \
      export BRAINZOO_GPU_CHECK_CUDA_NOTE="provider copied from Python onnxruntime-gpu $py_ort ($capi)"
    [ -n "$nvlibs" ] && export LD_LIBRARY_PATH="$nvlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  elif [ -n "$capi" ]; then
    export BRAINZOO_GPU_CHECK_CUDA_NOTE="Python has onnxruntime-gpu $py_ort with a CUDA provider, but onnxruntime-node is $ort_version: not mixed"
  fi
fi

cd "$work/app" || setup_failed "no $work/app after unpacking"
log="$work/gpu-check.log"
# stdout (the table) as it is; stderr (progress) to the terminal and to $log.
{ timeout --kill-after=20 $((budget + 60)) "$work/node" dist/bench/gpu-check.js --work "$work/runs" --report "$report" ${pass[@]+"${pass[@]}"} 2>&1 1>&3 3>&- | tee "$log" >&2 3>&-; rc=${PIPESTATUS[0]}; } 3>&1
[ "$rc" -eq 2 ] && exit 2  # bad arguments, said on stderr
# The progress log and each bench's log beside the table (at most 6 files: a device tool may bring back 8).
cp "$log" "$report/" 2>/dev/null
for f in "$work"/runs/bench-*.log; do [ -f "$f" ] && tail -c 4000000 "$f" > "$report/$(basename "$f")"; done
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  setup_failed "dist/bench/gpu-check.js ended with exit $rc$([ "$rc" -ge 124 ] && echo ' (timeout)'): $(grep -v '^gpu-check \[' "$log" | tail -n 3 | tr '\n' ' ')"
fi
exit "$rc"
