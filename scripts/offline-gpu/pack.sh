#!/bin/bash
# Packs what the benchmarks need for a Linux x86-64 machine with a GPU but no network and no
# Node.js into .offline-gpu/ (git-ignored; about 50 MB): Node itself, the node_modules files that a
# short benchmark run opens (traced with strace), redis-server with its libraries, and Debian's
# Vulkan loader and glvnd packages (NVIDIA's Vulkan driver loads through glvnd).
# Copy the checkout with .offline-gpu/ to that machine, then run scripts/offline-gpu/run.sh there.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
kit=.offline-gpu
rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/lib" "$kit/debs"
command -v strace >/dev/null || apt-get install -y strace
command -v redis-server >/dev/null || apt-get install -y redis-server

echo "tracing the files a short run opens…"
trace=$(mktemp)
strace -f -qq -e trace=openat,open,stat,statx,newfstatat,readlink -o "$trace" \
  npm run bench:pipeline -- --quick --backend wasm --processes 1 --ingest-clients 1 --ingest-batches 100 >/dev/null
# WebGPU loads only where an adapter exists, the pipeline runs one of the built-in models, and tsx
# starts esbuild only when its cache misses, so those files are named rather than traced.
node --input-type=module - "$trace" "$kit/files.txt" <<'JS'
import { existsSync, lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
const [trace, out] = process.argv.slice(2);
const root = process.cwd();
const keep = new Set([
  'node_modules/webgpu/index.js',
  'node_modules/webgpu/dist/linux-x64/dawn.node',
  'node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js',
  'node_modules/@esbuild/linux-x64/bin/esbuild',
]);
for (const [, path] of readFileSync(trace, 'utf8').matchAll(/"([^"]*\/node_modules\/[^"]*)"/g)) {
  const file = relative(root, path);
  if (file.startsWith('node_modules/') && !file.endsWith('.map') && existsSync(file) && lstatSync(file).isFile()) keep.add(file);
}
// Every package.json (module resolution reads them) and every link (workspace packages, .bin).
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) keep.add(path);
    else if (entry.isDirectory()) walk(path);
    else if (entry.name === 'package.json') keep.add(path);
  }
};
walk('node_modules');
const graphModel = 'node_modules/nsfwjs/dist/models/mobilenet_v2_mid';
for (const file of readdirSync(graphModel)) keep.add(join(graphModel, file));
// Files seen through a workspace link travel with the repo, not in the archive.
const files = [...keep].filter((f) => !/^node_modules\/@gradcam\/[^/]+\//.test(f)).sort();
writeFileSync(out, `${files.join('\n')}\n`);
console.log(`${files.length} node_modules entries`);
JS
rm -f "$trace"
tar cf - -T "$kit/files.txt" | xz -T0 -6 > "$kit/node_modules.tar.xz"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$kit/node.xz"
server=$(readlink -f "$(command -v redis-server)")
cp "$server" "$kit/bin/redis-server"
# bench:pipeline --ingest-cpus pins ingest with taskset (util-linux; libc only).
cp "$(command -v taskset)" "$kit/bin/"
ldd "$server" | awk '/lib(lzf|jemalloc)/ { print $3 }' | xargs -r cp -L -t "$kit/lib"
(cd "$kit/debs" && apt-get download libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libgles2 libopengl0 >/dev/null)
du -sh "$kit"
