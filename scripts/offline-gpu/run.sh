#!/bin/bash
# Runs a command (default: the GPU pipeline benchmark) on a machine prepared by pack.sh's kit:
# unpacks Node, node_modules, redis-server and the Vulkan loader, finds the NVIDIA Vulkan driver,
# prints what the machine is, then runs the command from the repository root. As root (the Debian
# packages unpack into /).
#   bash scripts/offline-gpu/run.sh node_modules/.bin/tsx packages/cli/src/bench/engine-bench-main.ts --backends webgpu
set -euo pipefail
cd "$(dirname "$0")/../.."
kit=$PWD/.offline-gpu
[ -f "$kit/node.xz" ] || { echo "no .offline-gpu kit here: run scripts/offline-gpu/pack.sh on a machine with Node and apt first" >&2; exit 1; }
mkdir -p /tmp/offline-gpu/bin
xz -dc "$kit/node.xz" > /tmp/offline-gpu/bin/node && chmod +x /tmp/offline-gpu/bin/node
cp "$kit"/bin/* /tmp/offline-gpu/bin/ && chmod +x /tmp/offline-gpu/bin/*
[ -d node_modules ] || xz -dc "$kit/node_modules.tar.xz" | tar xf -
for deb in "$kit"/debs/*.deb; do dpkg -x "$deb" /; done
ldconfig
export PATH=/tmp/offline-gpu/bin:$PATH LD_LIBRARY_PATH=$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
  done
fi
echo "node $(node -v), $(nproc) cores, Vulkan driver ${VK_DRIVER_FILES:-not found}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if [ $# -eq 0 ]; then
  set -- node_modules/.bin/tsx packages/cli/src/bench/pipeline-bench-main.ts --backend webgpu --batch 32 --processes 8 --records 4000 --engine-seconds 8 --parts e2e,engine
fi
exec "$@"
