#!/usr/bin/env bash
# Shows the guide's check failing on purpose: (1) a figure in lesson 3's quoted output changed (1020.6 → 1002.6), (2) a
# link in lesson 1 naming a function that does not exist (a rename the page missed). Runs the real lesson tests on
# the edited pages, then restores them from git. Usage: tools/learn/stale-quote-demo.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 TERM=dumb
pages="docs/learn/03-scaling.md docs/learn/01-core.md"
if ! git diff --quiet -- $pages; then echo "refusing: $pages have uncommitted changes that the restore would discard"; exit 2; fi
trap 'git checkout -q -- $pages' EXIT
sed -i 's/ 1024    1020.6 / 1024    1002.6 /' docs/learn/03-scaling.md
sed -i 's/\[`Functional.ScaledDotProductAttention`\]/[`Functional.ScaledDotProductAttentionV2`]/' docs/learn/01-core.md
echo "\$ git diff"
git --no-pager diff docs/learn
echo
echo "\$ dotnet test -c Release tests/Attend.Cli.Tests --filter 'DisplayName~01-core|DisplayName~03-scaling'"
dotnet test -c Release tests/Attend.Cli.Tests --filter 'DisplayName~01-core|DisplayName~03-scaling' 2>&1 \
  | grep -vE '^\s+at |^Test run for|^A total of|^Build started|^\s*$|Determining projects|Restored|-> /|^Results File'
echo
echo "(pages restored: git checkout docs/learn/03-scaling.md docs/learn/01-core.md)"
