# syntax=docker/dockerfile:1
# The GPU worker: services/worker on @tensorflow/tfjs-node-gpu (CUDA).
# Build from the repository root:  docker build -f infra/docker/worker-gpu.Dockerfile -t gradcam-worker-gpu .
# Run with an NVIDIA GPU and the NVIDIA Container Toolkit on the host (see infra/README.md).
#
# @tensorflow/tfjs-node-gpu 4.22 binds libtensorflow 2.9.1, which is built against CUDA 11.2 and
# cuDNN 8.1: the base image must carry exactly those runtime libraries (the host driver only
# needs to support CUDA 11.2, i.e. driver >= 460; newer drivers are backward compatible).
# Override CUDA_IMAGE only with another 11.2 + cuDNN 8 runtime (e.g. a private mirror).

# Node 20, not the app image's 24: tfjs-node-gpu 4.22's binding (N-API, prebuilt for napi-v8)
# has only been run here on Node 20; move to 24 once a build on a GPU host loads it (the build's
# require() below fails otherwise) and a worker explains on it.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

FROM ${NODE_IMAGE} AS node

# Only the package manifests, so the slow `npm ci` + libtensorflow download layer is rebuilt when
# dependencies change, not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /manifests \
 && cp package.json package-lock.json /manifests/ \
 && find packages services -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

# The CUDA base with the Node (and npm) of NODE_IMAGE: official Node 20 binaries need
# glibc >= 2.28, Ubuntu 20.04 has 2.31.
FROM ${CUDA_IMAGE} AS cuda-node
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version

FROM cuda-node AS deps
# python3/make/g++: node-pre-gyp falls back to compiling the binding when the prebuilt addon
# cannot be fetched; ca-certificates for the HTTPS downloads.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=manifests /manifests/ ./
# Dependency install scripts are skipped on purpose, then exactly one is run by hand:
#  - npm 11 blocks dependency install scripts that package.json's allowScripts does not approve
#    (and refuses --allow-scripts on `npm ci`), npm 10 runs them all; `npm run` inside the
#    package's own folder runs its install script on either version.
#  - tfjs-node-gpu is an optional dependency: had its script failed inside `npm ci`, npm would
#    drop the package and still succeed, leaving an image that silently falls back to wasm.
#    Here a failed download fails the build.
# Mirrors: --build-arg TFJS_NODE_CDN_STORAGE=https://mirror.example/ (see the tfjs-node README).
ARG TFJS_NODE_CDN_STORAGE
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund
RUN cd node_modules/@tensorflow/tfjs-node-gpu \
 && if [ -n "${TFJS_NODE_CDN_STORAGE:-}" ]; then export TFJS_NODE_CDN_STORAGE; else unset TFJS_NODE_CDN_STORAGE; fi \
 && npm run install --foreground-scripts \
 && ls -l deps/lib/libtensorflow.so* lib/napi-v*/tfjs_binding.node
# The CPU-only tfjs-node package has no binding in this image; removing it keeps `auto` from
# even trying it.
RUN rm -rf node_modules/@tensorflow/tfjs-node \
 && node --import tsx -e "console.log('tsx loads')"

FROM cuda-node AS runtime
# NVIDIA_VISIBLE_DEVICES / NVIDIA_DRIVER_CAPABILITIES come from the CUDA base image.
# UV_THREADPOOL_SIZE: libuv's pool, shared by sharp and the uploads; a process cannot size its
# own, and libuv's default 4 queues uploads behind decoding with batches in flight.
ENV NODE_ENV=production \
    GRADCAM_BACKEND=tensorflow-gpu \
    TF_CPP_MIN_LOG_LEVEL=1 \
    UV_THREADPOOL_SIZE=16
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin gradcam
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# Loads libtensorflow (CPU only during the build: the driver's libcuda is mounted at run time);
# a missing shared library or an ABI mismatch fails here instead of on the GPU host.
RUN node -e "require('@tensorflow/tfjs-node-gpu'); console.log('tfjs-node-gpu loads')"
USER gradcam
CMD ["node", "--import", "tsx", "services/worker/src/main.ts"]
