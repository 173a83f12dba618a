#!/usr/bin/env bash
# Where data/digits/digits.csv.gz came from: scikit-learn's copy of the UCI "optical recognition of handwritten digits"
# test set, as packaged by Debian 12 (python3-sklearn 1.2.1+dfsg-1). Re-running it overwrites the committed file with the
# same bytes (sha256 below).
set -euo pipefail
cd "$(dirname "$0")"
src=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
[ -f "$src" ] || apt-get install -y python3-sklearn
cp "$src" digits.csv.gz
sha256sum -c <<<"$(cat digits.csv.gz.sha256)"
