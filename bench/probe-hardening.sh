#!/usr/bin/env bash
# A hostile and unlucky user's probe of issue 18 (not a test: the test suite holds each case as
# an assertion; this script reruns them all in one go and counts the outcomes for a report).
# Each case runs a zoo command and is classified:
#   clean    the expected outcome (a refusal: exit 2 with "error E_…" and a fix; or the expected
#            success), no stack trace
#   trace    an internal error or a stack trace
#   silent   exit 0 (or a wrong number) where a refusal, a refit or an untouched file was expected
#   other    any other exit code or a missing fix
# Needs a built checkout (npm run build), Debian's python3 with numpy, and unshare + tmpfs for
# the full-disk cases (skipped, and counted as such, where the kernel forbids it).
# Usage: bash bench/probe-hardening.sh [--keep]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ZOO="node $ROOT/dist/harness/bin/zoo.js"
W=$(mktemp -d /tmp/brainzoo-probe-XXXXXX)
[ "${1:-}" = "--keep" ] || trap 'rm -rf "$W"' EXIT
export BRAINZOO_CACHE="$W/cache"
declare -A COUNT=([clean]=0 [trace]=0 [silent]=0 [other]=0 [skipped]=0)
ROWS=()

# record NAME KIND DETAIL
record() { COUNT[$2]=$(( ${COUNT[$2]} + 1 )); ROWS+=("$2|$1|$3"); printf '%-7s %s%s\n' "$2" "$1" "${3:+  ($3)}"; }
has_trace() { grep -qE 'internal error|^\s+at \S.*:[0-9]+:[0-9]+' "$1"; }

# expect_error NAME CODE CMD...: exit 2, "error CODE:" and a fix line.
expect_error() {
  local name=$1 code=$2; shift 2
  "$@" >"$W/out" 2>"$W/err"; local rc=$?
  if has_trace "$W/err"; then record "$name" trace "exit $rc"
  elif [ $rc = 0 ]; then record "$name" silent "exit 0"
  elif [ $rc = 2 ] && grep -q "^error $code:" "$W/err" && grep -q '^  fix: ' "$W/err"; then record "$name" clean ""
  else record "$name" other "exit $rc: $(head -1 "$W/err")"; fi
}
# expect_ok NAME CHECK CMD...: exit 0, then CHECK (a shell condition) must hold, else silent.
expect_ok() {
  local name=$1 check=$2; shift 2
  "$@" >"$W/out" 2>"$W/err"; local rc=$?
  if has_trace "$W/err"; then record "$name" trace "exit $rc"
  elif [ $rc != 0 ]; then record "$name" other "exit $rc: $(grep -m1 '^error' "$W/err")"
  elif bash -c "$check"; then record "$name" clean ""
  else record "$name" silent "exit 0 but: $check"; fi
}
# expect_code NAME RC CHECK CMD...: a given exit code (validate: 1 = problems listed), then CHECK.
expect_code() {
  local name=$1 want=$2 check=$3; shift 3
  "$@" >"$W/out" 2>"$W/err"; local rc=$?
  if has_trace "$W/err"; then record "$name" trace "exit $rc"
  elif [ $rc = 0 ] && [ "$want" != 0 ]; then record "$name" silent "exit 0"
  elif [ $rc != "$want" ]; then record "$name" other "exit $rc"
  elif bash -c "$check"; then record "$name" clean ""
  else record "$name" silent "exit $rc but: $check"; fi
}
py() { /usr/bin/python3 -c "$@"; }

echo "probe: working in $W"
# ---------------------------------------------------------------- a bench to damage
$ZOO bench mae imagenet-vit --subjects subj01 --out "$W/out0" --max-epochs 2 --quiet >/dev/null 2>&1 || { echo "probe: the base bench failed"; exit 2; }
RUN="$W/out0/runs/mae/tiny/subj01/seed0.cpu"
fresh() { rm -rf "$W/o"; cp -r "$W/out0" "$W/o"; echo "$W/o/runs/mae/tiny/subj01/seed0.cpu"; }
FIT=(fit --plugin mae --variant tiny --subject subj01 --max-epochs 2 --quiet)

# ---------------------------------------------------------------- security: a hostile plugin
plug() { # plug NAME EDIT-PYTHON → a copy of mae named NAME with its fixture inside, edited
  local d="$W/plugins/$1"; rm -rf "$d"; mkdir -p "$W/plugins"; cp -r "$ROOT/plugins/mae" "$d"; mkdir -p "$d/onnx"; cp "$ROOT/fixtures/mae/tiny.onnx" "$d/onnx/"
  py "import json,sys; p='$d/plugin.json'; m=json.load(open(p)); m['id']='$1'
for v in m['variants']:
    if v.get('onnx'): v['onnx']='onnx/tiny.onnx'
$2
json.dump(m,open(p,'w'),indent=2)"
  echo "$d"
}
printf '#!/bin/sh\ntouch %s/MARKER\n' "$W" > "$W/evil.sh"; chmod +x "$W/evil.sh"
D=$(plug evilpy "m['export']['python']='$W/evil.sh'")
expect_code "validate does not run export.python" 0 "[ ! -e $W/MARKER ]" $ZOO plugins validate "$D" --no-onnx
expect_ok "plugins list does not run export.python" "[ ! -e $W/MARKER ]" $ZOO plugins list --plugins "$W/plugins"
expect_ok "plugins show does not run export.python" "[ ! -e $W/MARKER ]" $ZOO plugins show "$D"
rm -rf "$W/plugins"
printf 'open("%s/MARKER","w")\n' "$W" > "$W/evil.py"
D=$(plug evilscript "m['export']['script']='../../../../../../../../$W/evil.py'")
expect_code "validate lists an export.script outside the plugin" 1 "grep -q export/script $W/out $W/err && [ ! -e $W/MARKER ]" $ZOO plugins validate "$D" --no-onnx
expect_error "plugins test refuses it without running it" E_PLUGIN_MANIFEST $ZOO plugins test "$D"
[ -e "$W/MARKER" ] && record "…and nothing ran" silent "marker written" || record "…and nothing ran" clean ""
rm -rf "$W/plugins"
ln -s "$W/evil.py" "$W/evil-link.py"
D=$(plug evillink "m['export']['script']='export-link.py'"); ln -s "$W/evil.py" "$D/export-link.py"
expect_code "validate lists a symlink out of the plugin" 1 "[ ! -e $W/MARKER ]" $ZOO plugins validate "$D" --no-onnx
rm -rf "$W/plugins"
echo "precious" > "$W/victim.txt"
D=$(plug evilonnx "
for v in m['variants']:
    if v['name']=='tiny': v['onnx']='$W/victim.txt'")
expect_error "export does not write where the manifest's onnx points" E_PLUGIN_MANIFEST $ZOO export --plugins "$W/plugins" --plugin evilonnx --tiny --random-init
[ "$(cat "$W/victim.txt")" = precious ] && record "…and the victim file is untouched" clean "" || record "…and the victim file is untouched" silent "overwritten"
rm -rf "$W/plugins"

# ---------------------------------------------------------------- damaged runs
R=$(fresh); truncate -s 10 "$R/r2.npy"
expect_ok "fit refits a truncated r2.npy" "grep -q 'damaged' $W/err" $ZOO "${FIT[@]}" --out "$W/o"
R=$(fresh); rm "$R/r2.npy"
expect_ok "fit refits a deleted r2.npy" "grep -q 'damaged' $W/err" $ZOO "${FIT[@]}" --out "$W/o"
R=$(fresh); truncate -s 100 "$R/encoder.onnx"
expect_ok "fit refits a truncated encoder.onnx" "grep -q 'damaged' $W/err" $ZOO "${FIT[@]}" --out "$W/o"
R=$(fresh); echo garbage > "$R/split.json"
expect_ok "fit refits a garbage split.json" "grep -q 'damaged' $W/err" $ZOO "${FIT[@]}" --out "$W/o"
R=$(fresh); py "import numpy as n; a=n.load('$R/r2.npy'); a[:]=0.9; n.save('$R/r2.npy',a)"
expect_ok "fit refits an altered r2.npy (same size)" "grep -q 'damaged' $W/err" $ZOO "${FIT[@]}" --out "$W/o"
R=$(fresh); py "import numpy as n; a=n.load('$R/r2.npy'); a[:]=0.9; n.save('$R/r2.npy',a)"
expect_error "publish refuses r2.npy set to 0.9" E_RUN_DAMAGED $ZOO publish --from "$W/o" --out "$W/o" --quiet
R=$(fresh); py "import numpy as n; a=n.load('$R/layer_weights.npy'); n.save('$R/layer_weights.npy',a*5)"
expect_error "publish refuses layer_weights.npy ×5" E_RUN_DAMAGED $ZOO publish --from "$W/o" --out "$W/o" --quiet
expect_error "draw refuses layer_weights.npy ×5" E_RUN_DAMAGED $ZOO draw --from "$W/o" --out "$W/o/pics"
R=$(fresh); py "b=bytearray(open('$R/encoder.onnx','rb').read()); b[len(b)//2]^=0xFF; open('$R/encoder.onnx','wb').write(b)"
expect_error "predict refuses a flipped byte in encoder.onnx" E_RUN_DAMAGED $ZOO predict --run "$R" --dataset "$ROOT/fixtures/synthetic" --out "$W/pred.npy"
R=$(fresh); py "import numpy as n; a=n.load('$R/voxels.npy'); a[:]=0; n.save('$R/voxels.npy',a)"
expect_error "predict refuses a zeroed voxels.npy" E_RUN_DAMAGED $ZOO predict --run "$R" --dataset "$ROOT/fixtures/synthetic" --out "$W/pred.npy"
R=$(fresh); py "import numpy as n; a=n.load('$R/r2.npy'); a[:]=n.nan; n.save('$R/r2.npy',a)"
expect_error "publish refuses r2.npy all NaN" E_RUN_DAMAGED $ZOO publish --from "$W/o" --out "$W/o" --quiet
expect_error "publish --rois NOPE" E_ARGS $ZOO publish --from "$W/out0" --out "$W/o" --rois NOPE --quiet
# a dataset with a constant voxel and a voxel at 3e38
rm -rf "$W/ds"; cp -r "$ROOT/fixtures/synthetic" "$W/ds"
py "import numpy as n; p='$W/ds/subj01/training_split/training_fmri/lh_training_fmri.npy'; a=n.load(p); a[:,0]=1.5; a[5,1]=3e38; n.save(p,a)"
expect_ok "fit leaves out and counts a constant and an overflowing voxel" "grep -qE 'excludedVoxels' $W/fitout/runs/mae/tiny/subj01/seed0.cpu/metrics.json" $ZOO "${FIT[@]}" --dataset "$W/ds" --out "$W/fitout"
py "import numpy as n; p='$W/ds/subj01/training_split/training_fmri/lh_training_fmri.npy'; a=n.load(p); a[:]=1.0; n.save(p,a); p='$W/ds/subj01/training_split/training_fmri/rh_training_fmri.npy'; a=n.load(p); a[:]=1.0; n.save(p,a)"
expect_error "fit refuses a subject whose responses are all constant" E_DATASET $ZOO "${FIT[@]}" --dataset "$W/ds" --out "$W/fitout2"

# ---------------------------------------------------------------- odd file systems and inputs
rm -rf "$W/loopds"; cp -r "$ROOT/fixtures/synthetic" "$W/loopds"; ln -s subjX "$W/loopds/subj05"; ln -s subj05 "$W/loopds/subjX"
expect_error "a symlink loop in a dataset" E_IO $ZOO extract --plugin mae --variant tiny --dataset "$W/loopds" --quiet
mkdir -p "$W/loopplugins"; ln -s b "$W/loopplugins/a"; ln -s a "$W/loopplugins/b"
expect_ok "a symlink loop in a --plugins folder is a listed broken plugin" "grep -qiE 'loop|ELOOP' $W/out $W/err" $ZOO plugins list --plugins "$W/loopplugins"
D=$(plug deep "pass"); py "open('$D/plugin.json','w').write('{\"a\":'*200000+'1'+'}'*200000)"
expect_code "a manifest nested 200,000 levels" 1 "grep -qi 'nest' $W/out $W/err" $ZOO plugins validate "$D" --no-onnx
rm -rf "$W/plugins"
D=$(plug bom "pass"); py "p='$D/plugin.json'; t=open(p,encoding='utf-8').read(); open(p,'w',encoding='utf-8').write('\ufeff'+t)"
expect_code "a UTF-8 BOM in a valid manifest is accepted" 0 "true" $ZOO plugins validate "$D" --no-onnx
rm -rf "$W/plugins"
D=$(plug huge "
for v in m['variants']:
    if v['name']=='tiny': v['layers']['count']=1000000000")
expect_code "a layer count of 10^9 is refused quickly" 1 "true" timeout 60 $ZOO plugins validate "$D" --no-onnx
rm -rf "$W/plugins"
expect_error "a checkpoint that is a folder" E_ARGS $ZOO export --plugin mae --tiny --checkpoint "$W" --out "$W/x.onnx"
expect_error "export --opset 5" E_ARGS $ZOO export --plugin mae --tiny --random-init --opset 5 --out "$W/x.onnx"
mkdir -p "$W/logsfile"; touch "$W/logsfile/logs"
expect_error "bench with OUT/logs a file" E_IO $ZOO bench mae --subjects subj01 --out "$W/logsfile" --quiet

# ---------------------------------------------------------------- sizes
expect_ok "--threads 1000 is lowered to the cores" "grep -q 'using --threads' $W/err" $ZOO extract --plugin mae --variant tiny --subjects subj01 --threads 1000 --quiet
expect_error "extract --grid 1000" E_ARGS $ZOO extract --plugin mae --variant tiny --grid 1000
expect_error "fit --frequencies 100000" E_ARGS $ZOO "${FIT[@]}" --frequencies 100000 --out "$W/o"
expect_error "fit --channels 100000000" E_ARGS $ZOO "${FIT[@]}" --channels 100000000 --out "$W/o"
expect_error "fit too large for memory" E_ARGS $ZOO "${FIT[@]}" --channels 4096 --batch-size 1024 --voxel-chunk 0 --out "$W/o"
expect_error "synth --voxels 1000000000" E_ARGS timeout 60 $ZOO synth --out "$W/huge" --voxels 1000000000
[ -e "$W/huge" ] && record "…and nothing half-written" silent "$W/huge exists" || record "…and nothing half-written" clean ""

# ---------------------------------------------------------------- flags
expect_error "fit --subject \"\"" E_ARGS $ZOO "${FIT[@]}" --subject "" --out "$W/o"
expect_error "bench --subjects \"\"" E_ARGS $ZOO bench mae --subjects "" --out "$W/o"
expect_error "publish --subjects \"\"" E_ARGS $ZOO publish --from "$W/out0" --subjects ""
expect_error "bench --all with plugin names" E_ARGS $ZOO bench --all mae --out "$W/o"
expect_error "predict --images with --dataset" E_ARGS $ZOO predict --run "$RUN" --images "$W" --dataset "$ROOT/fixtures/synthetic" --out "$W/p.npy"

# ---------------------------------------------------------------- concurrency
two() { # two NAME CMD...: the same command twice at once; both must exit 0
  "$@" >"$W/a.out" 2>"$W/a.err" & local p=$!; "$@" >"$W/b.out" 2>"$W/b.err"; local rb=$?; wait $p; local ra=$?
  if has_trace "$W/a.err" || has_trace "$W/b.err"; then record "$1" trace ""
  elif [ $ra = 0 ] && [ $rb = 0 ]; then record "$NAME" clean ""
  else record "$NAME" other "exits $ra, $rb: $(grep -hm1 '^error' "$W/a.err" "$W/b.err")"; fi
}
NAME="two extracts of one cold entry" two $ZOO extract --plugin dinov2 --variant tiny --subjects subj01 --cache "$W/cc1" --quiet
NAME="two fits of one cold run" two $ZOO "${FIT[@]}" --cache "$W/cc2" --out "$W/twofits"
$ZOO bench mae --subjects subj01 --out "$W/twobench" --max-epochs 2 --quiet >/dev/null 2>"$W/b1.err" & P=$!
sleep 2
expect_error "a second bench into the same --out" E_ARGS $ZOO bench mae --subjects subj01 --out "$W/twobench" --max-epochs 2 --quiet
wait $P || record "…the first bench still finishes" other "exit $?"

# ---------------------------------------------------------------- full disks
if unshare -r -m sh -c 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"' 2>/dev/null; then
  disk() { # disk NAME MOUNTOPTS SCRIPT: SCRIPT runs with $S a small tmpfs; it prints RC=… and ERR is its stderr file
    local name=$1 opts=$2 script=$3; mkdir -p "$W/s"
    unshare -r -m bash -c "mount -t tmpfs -o $opts tmpfs $W/s; S=$W/s; ZOO='$ZOO'; $script" >"$W/out" 2>"$W/err"
    local rc; rc=$(sed -n 's/^RC=//p' "$W/out" | tail -1)
    if has_trace "$W/err" || has_trace "$W/out"; then record "$name" trace "exit $rc"
    elif [ "$rc" = 0 ]; then record "$name" silent "exit 0"
    elif grep -q 'E_INTERNAL' "$W/err" "$W/out"; then record "$name" other "E_INTERNAL"
    elif grep -qE '^error E_IO: (no space left|not enough disk space)|^ +failed +.*: no space left writing ' "$W/err" "$W/out"; then record "$name" clean ""
    else record "$name" other "exit $rc: $(grep -hm1 -e '^error' -e 'failed' "$W/err" "$W/out")"; fi
  }
  disk "synth on a full disk" size=100m,nr_inodes=30 '$ZOO synth --out $S/brain --voxels 200 --images 40 --subjects 1 --quiet; echo RC=$?'
  disk "extract on a full disk" size=1m '$ZOO extract --plugin mae --variant tiny --subjects subj01 --cache $S/cache --quiet; echo RC=$?'
  $ZOO extract --plugin mae --variant tiny --subjects subj01 --quiet >/dev/null 2>&1
  disk "fit on a full disk" size=48k '$ZOO fit --plugin mae --variant tiny --subject subj01 --out $S/o --max-epochs 2 --quiet; echo RC=$?'
  disk "bench on a full disk" size=64k '$ZOO bench mae --subjects subj01 --out $S/o --max-epochs 2 --quiet; echo RC=$?'
  disk "publish on a full disk" size=8m "cp -r $W/out0 \$S/o; dd if=/dev/zero of=\$S/fill bs=4k 2>/dev/null; \$ZOO publish --from \$S/o --out \$S/o --quiet; echo RC=\$?"
  disk "draw on a full disk" size=8m "cp -r $W/out0 \$S/o; dd if=/dev/zero of=\$S/fill bs=4k 2>/dev/null; \$ZOO draw --from \$S/o --out \$S/o/pics2; echo RC=\$?"
else
  for n in synth extract fit bench publish draw; do record "$n on a full disk" skipped "no unprivileged tmpfs here"; done
fi

echo
total=0; for k in clean trace silent other skipped; do total=$(( total + ${COUNT[$k]} )); done
echo "probe: $total cases: ${COUNT[clean]} clean, ${COUNT[trace]} traces, ${COUNT[silent]} silent wrong results, ${COUNT[other]} other, ${COUNT[skipped]} skipped"
[ $(( ${COUNT[trace]} + ${COUNT[silent]} + ${COUNT[other]} )) = 0 ]
