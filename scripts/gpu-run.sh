#!/usr/bin/env bash
# Every GPU step in one go, for a machine with an NVIDIA GPU and a build made elsewhere: the GPU tests,
# the pipelines that need CUDA, element-level fault checks, and the benchmarks. Writes each log into
# the folder given (default: gpu-results/). Builds nothing.
#   scripts/gpu-run.sh [OUTDIR] [--quick|--full] [all|vulkan|move|links|wave|spectrum]
# With "wave" or "spectrum", only the GPU tests and what concerns rkwavesrc or rkspectrum (its element
# tests on CUDA, its pipelines, its benchmark); with "vulkan", the GPU tests and the Vulkan backend's
# tests on the GPU's own driver; with "move", the GPU tests and moving running actors; with "links", the
# GPU tests and K2K links (device and staged paths) between CUDA actors.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-gpu-results}
quick=${2:-}
[ "$quick" = "--full" ] && quick=
part=${3:-all}
mkdir -p "$out"
export GST_PLUGIN_PATH=$PWD/build/plugin
status=0

nvidia-smi --query-gpu=name,driver_version,compute_mode --format=csv,noheader | tee "$out/device.txt"
git rev-parse --short HEAD 2>/dev/null | tee -a "$out/device.txt"
date -u | tee -a "$out/device.txt"

for t in "test-cuda" "test-cuda-user" "test-cuda-user --hang"; do
  log="$out/$(echo "$t" | tr -d ' -').log"
  timeout 300 build/tests/gpu/$t > "$log" 2>&1
  rc=$?
  echo "$t: exit $rc"
  tail -n 6 "$log"
  [ $rc -eq 0 ] || status=1
done

# the Vulkan backend on the GPU's driver: its tests against the C references, the element tests of
# rkspectrum, rkwavesrc and linked actors on it, and its pipeline
if [ "$part" = all ] || [ "$part" = vulkan ]; then
  timeout 300 build/tests/gpu/test-vulkan > "$out/test-vulkan.log" 2>&1
  rc=$?
  echo "test-vulkan: exit $rc"; grep -m1 '^device' "$out/test-vulkan.log"; tail -n 2 "$out/test-vulkan.log"
  [ $rc -eq 0 ] || status=1
  for e in rkspectrum rkwavesrc rklinks; do
    env RKSPECTRUM_BACKEND=vulkan RKWAVE_BACKEND=vulkan RKLINKS_BACKEND=vulkan RKLINKS_BUFFERS=${RKLINKS_BUFFERS:-200000} \
      timeout 600 build/tests/elements/test_$e > "$out/test-$e-vulkan.log" 2>&1
    rc=$?
    echo "test-$e on vulkan: exit $rc"; tail -n 2 "$out/test-$e-vulkan.log"
    [ $rc -eq 0 ] || status=1
  done
  timeout 120 tests/pipelines/run-pipeline.sh pipelines/scale-vulkan.pipeline > "$out/pipeline-scale-vulkan.log" 2>&1
  echo "pipeline scale-vulkan: exit $?"
  [ "$part" = vulkan ] && exit $status
fi

# moving running actors on the GPU: the element tests with CUDA actors (a new actor on the same device,
# and back and forth between the CPU and CUDA), and the benchmark of the pause a move causes
if [ "$part" = all ] || [ "$part" = move ]; then
  for b in cuda cpu,cuda cuda,cpu; do
    RKMOVE_BACKENDS=$b timeout 300 build/tests/elements/test_rkmove > "$out/test-rkmove-${b/,/-}.log" 2>&1
    rc=$?
    echo "test-rkmove between $b: exit $rc"; grep 'made over' "$out/test-rkmove-${b/,/-}.log"; tail -n 1 "$out/test-rkmove-${b/,/-}.log"
    [ $rc -eq 0 ] || status=1
  done
  timeout 400 build/tests/bench/bench-move $quick > "$out/bench-move.log" 2>&1
  echo "bench-move: exit $?"
  [ "$part" = move ] && exit $status
fi

# K2K on the GPU: the element tests of linked actors (chains of 1-8 against the C references, host paths,
# staged paths, flush and EOS, a slow consumer), the debug log and stats of two linked scale actors on
# the device path and on the staged one, and the benchmark of chains
if [ "$part" = all ] || [ "$part" = links ]; then
  RKLINKS_BACKEND=cuda RKLINKS_BUFFERS=${RKLINKS_BUFFERS:-200000} timeout 600 build/tests/elements/test_rklinks \
    > "$out/test-rklinks-cuda.log" 2>&1
  rc=$?
  echo "test-rklinks on cuda: exit $rc"; tail -n 3 "$out/test-rklinks-cuda.log"
  [ $rc -eq 0 ] || status=1
  for link in auto staged; do
    GST_DEBUG=rkactor:4 timeout 60 gst-launch-1.0 -q audiotestsrc num-buffers=200 ! audio/x-raw,format=F32LE \
      ! rkactor backend=cuda kernel=scale name=a link=$link ! rkactor backend=cuda kernel=scale name=b ! fakesink \
      > "$out/k2k-launch-$link.log" 2>&1
    echo "two linked scale actors, link=$link: exit $?; $(grep -c 'K2K' "$out/k2k-launch-$link.log") K2K lines"
    grep 'K2K' "$out/k2k-launch-$link.log" | sed 's/.*gstrkactor.c/gstrkactor.c/' | head -4
  done
  # in two runs, each within its limit: device links against the host's, then the staged path
  for links in auto,host staged; do
    timeout 500 build/tests/bench/bench-element --chains cuda --links $links $quick \
      > "$out/bench-chains-${links/,/-}.log" 2>&1
    echo "bench-element --chains cuda --links $links: exit $?"
  done
  [ "$part" = links ] && exit $status
fi

# rkspectrum on the GPU: its element tests against GStreamer's spectrum, its pipeline (backend=auto
# picks CUDA), and the benchmark
if [ "$part" = all ] || [ "$part" = spectrum ]; then
  RKSPECTRUM_BACKEND=cuda timeout 300 build/tests/elements/test_rkspectrum > "$out/test-rkspectrum-cuda.log" 2>&1
  rc=$?
  echo "test-rkspectrum on cuda: exit $rc"; tail -n 3 "$out/test-rkspectrum-cuda.log"
  [ $rc -eq 0 ] || status=1
  GST_DEBUG=rkspectrum:4 timeout 120 tests/pipelines/run-pipeline.sh pipelines/spectrum.pipeline \
    > "$out/pipeline-spectrum.log" 2>&1
  echo "pipeline spectrum: exit $?; $(grep -o 'spectrum actor started on [a-z]* device [0-9]*' "$out/pipeline-spectrum.log" | head -1); $(tail -n 1 "$out/pipeline-spectrum.log")"
  timeout 500 build/tests/bench/bench-spectrum $quick > "$out/bench-spectrum.log" 2>&1
  echo "bench-spectrum: exit $?"
  [ "$part" = spectrum ] && exit $status
fi

# rkwavesrc on the GPU: its element tests against the C reference, its pipelines (backend=auto picks
# CUDA), and the benchmark
RKWAVE_BACKEND=cuda timeout 300 build/tests/elements/test_rkwavesrc > "$out/test-rkwavesrc-cuda.log" 2>&1
rc=$?
echo "test-rkwavesrc on cuda: exit $rc"; tail -n 3 "$out/test-rkwavesrc-cuda.log"
[ $rc -eq 0 ] || status=1
for p in wave-png wave-3d wave-k2k; do
  GST_DEBUG=rkwavesrc:4 timeout 120 tests/pipelines/run-pipeline.sh pipelines/$p.pipeline > "$out/pipeline-$p.log" 2>&1
  echo "pipeline $p: exit $?; $(grep -o 'wave actor started on [a-z]* device [0-9]*\|K2K: frames go down.*' "$out/pipeline-$p.log" | head -2 | tr '\n' ' ')"
done
timeout 500 build/tests/bench/bench-wave $quick > "$out/bench-wave.log" 2>&1
echo "bench-wave: exit $?"
if [ "$part" = wave ]; then
  exit $status
fi

# pipelines that need CUDA, as gst-launch runs them
timeout 120 tests/pipelines/run-pipeline.sh pipelines/user-gain.pipeline > "$out/pipeline-user-gain.log" 2>&1
echo "pipeline user-gain: exit $?"

# element level: a kernel file that does not compile, and one that faults, must end in a bus error
printf 'extern "C" __device__ void rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len,\n  const double *p, uint32_t first, uint32_t stride) { nonsense }\n' > "$out/broken.cu"
timeout 60 gst-launch-1.0 audiotestsrc num-buffers=10 ! rkactor backend=cuda kernel-file="$out/broken.cu" ! fakesink > "$out/element-broken.log" 2>&1
echo "element with a broken kernel file: exit $? (want 1), $(grep -c 'error' "$out/element-broken.log") error lines"
printf 'extern "C" __device__ void rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len,\n  const double *p, uint32_t first, uint32_t stride) { *(volatile int *) (uintptr_t) 8 = 1; }\n' > "$out/fault.cu"
start=$(date +%s%N)
timeout 60 gst-launch-1.0 audiotestsrc num-buffers=10 ! rkactor backend=cuda kernel-file="$out/fault.cu" ! fakesink > "$out/element-fault.log" 2>&1
rc=$?
echo "element with a faulting kernel file: exit $rc (want 1) after $(( ($(date +%s%N) - start) / 1000000 )) ms"

# why GStreamer's own CUDA elements do or do not register here
GST_DEBUG='*nvcodec*:4,*cuda*:4' gst-inspect-1.0 cudaupload > "$out/cudaupload-inspect.log" 2>&1
echo "cudaupload: $(grep -c 'Factory Details' "$out/cudaupload-inspect.log") factory found"

timeout 400 build/tests/bench/bench-ring $quick > "$out/bench-ring.log" 2>&1
echo "bench-ring: exit $?"
timeout 500 build/tests/bench/bench-element $quick > "$out/bench-element.log" 2>&1
echo "bench-element: exit $?"
exit $status
