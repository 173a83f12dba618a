#!/usr/bin/env bash
# docs/results/house-before-after.txt: duplicates, lines and README size before (e22b517) and after (HEAD)
set -e
cd "$(dirname "$0")/../.."
rm -rf /tmp/hb && mkdir -p /tmp/hb && git archive e22b517 src README.md | tar -x -C /tmp/hb
H="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
{
echo "# The house issue, before (e22b517, the landed tree) and after (HEAD $(git rev-parse --short HEAD)); $H"
echo
echo "## duplicates src, before"
echo '$ git archive e22b517 src README.md | tar -x -C /tmp/hb && cd /tmp/hb/src && duplicates --most 60 --seconds 120'
(cd /tmp/hb/src && duplicates --most 60 --seconds 120)
echo
echo "## duplicates src, after"
echo '$ cd src && duplicates --most 60 --seconds 120'
(cd src && duplicates --most 60 --seconds 120)
echo
echo "## lines of C#"
for rev in e22b517 HEAD; do
  for d in src/Attend.Cli src/Attend tests; do
    n=$(git ls-tree -r --name-only $rev $d | grep '\.cs$' | while read f; do git show $rev:$f; done | wc -l)
    echo "$rev  $d  $n"
  done
done
echo
echo "## README"
echo "e22b517  $(git show e22b517:README.md | wc -c) bytes, $(git show e22b517:README.md | wc -l) lines"
echo "HEAD     $(wc -c < README.md) bytes, $(wc -l < README.md) lines"
} > docs/results/house-before-after.txt 2>&1
