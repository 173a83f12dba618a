#!/usr/bin/env bash
# Packs every package into artifacts/ and uses them as a new user would (run by .ci/run; prints "package test: …, passed"):
#   1. the tool: dotnet tool install --tool-path TMP --add-source artifacts Attend.Cli, then `attend --help` and
#      `attend quickstart --preset tiny` from that tool path, in an empty folder;
#   2. the library: a new console project that references Attend and Attend.Interop from artifacts/ (nothing from
#      this repository's source) and runs the snippet of src/Attend/PACKAGE.md;
#   2b. the same for Attend.Interop (its snippet needs a model folder, so it is compiled, not run);
#   4. SourceLink: Attend's PDB maps its sources to raw.githubusercontent.com at the commit built;
#   3. each .nupkg's dependencies (from its .nuspec), its size, and that it holds README.md, LICENSE, the XML docs
#      and a .snupkg beside it; the core package must depend on System.Numerics.Tensors alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
fail() { echo "package test: $*, FAILED"; exit 1; }
rm -rf artifacts
# An official build (ContinuousIntegrationBuild: SourceLink on, paths normalized) needs a GitHub origin remote; a clone
# without one packs the same files without source links, and step 4 checks SourceLink in a clone that has one.
official=false
git remote get-url origin 2> /dev/null | grep -q '^https://github.com/' && official=true
dotnet pack -c Release -p:ContinuousIntegrationBuild=$official -o artifacts 2>&1 | grep -E "warning|error|Successfully created" || true
version=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' Directory.Build.props)
echo "== packages (version $version)"
for id in Attend Attend.Interop Attend.Distributed Attend.Cli; do
  pkg=artifacts/$id.$version.nupkg
  [ -f "$pkg" ] || fail "no $pkg"
  [ -f "artifacts/$id.$version.snupkg" ] || fail "no symbols package for $id"
  files=$(unzip -Z1 "$pkg")
  for need in README.md LICENSE; do grep -qx "$need" <<< "$files" || fail "$id has no $need"; done
  [ "$id" = Attend.Cli ] || grep -qx "lib/net10.0/$id.xml" <<< "$files" || fail "$id has no XML docs"
  deps=$(unzip -p "$pkg" "$id.nuspec" | grep -oE '<dependency id="[^"]+" version="[^"]+"' | sed -E 's/<dependency id="([^"]+)" version="([^"]+)"/\1 \2/' | paste -sd, - | sed 's/,/, /g' || true)
  printf '%-20s %8s KB  symbols %6s KB  depends on: %s\n' "$id" "$(( $(stat -c %s "$pkg") / 1024 ))" "$(( $(stat -c %s "artifacts/$id.$version.snupkg") / 1024 ))" "${deps:-nothing}"
  if [ "$id" = Attend ] && [ "$(sed -E 's/ [^,]+//g' <<< "$deps")" != "System.Numerics.Tensors" ]; then fail "Attend depends on $deps"; fi
done
echo "== dotnet tool install --tool-path TMP --add-source artifacts Attend.Cli"
tools=$(mktemp -d); work=$(mktemp -d); trap 'rm -rf "$tools" "$work"' EXIT
dotnet tool install --tool-path "$tools" --add-source "$root/artifacts" Attend.Cli --version "$version" || fail "tool install"
cd "$work"
"$tools/attend" --help | head -5 || fail "attend --help"
"$tools/attend" quickstart --preset tiny | tail -4 || fail "attend quickstart --preset tiny"
[ -f attend-out/model/config.json ] || [ -d attend-out/model ] || fail "quickstart saved no model"
consumer() { # consumer ID VERB: a new console project in $work/use-ID with PackageReference ID (from artifacts) whose
              # Program.cs is the csharp snippet of src/ID/PACKAGE.md, then dotnet VERB (run or build); echoes the output
  mkdir "$work/use-$1" && cd "$work/use-$1"             # not named like the package: NuGet refuses that cycle
  dotnet new console --framework net10.0 > /dev/null
  dotnet add package "$1" --version "$version" --source "$root/artifacts" > /dev/null || fail "dotnet add package $1"
  sed -n '/^```csharp/,/^```/p' "$root/src/$1/PACKAGE.md" | sed '1d;$d' > Program.cs
  dotnet "$2" -c Release 2>&1 || fail "the $1 snippet does not $2"
}
echo "== a new console project with PackageReference Attend $version (from artifacts) and the snippet of its package README"
out=$(consumer Attend run) || { echo "$out"; exit 1; }
echo "$out"
[ "$(tail -1 <<< "$out")" = "2x4x16x32" ] || fail "the snippet printed '$out', not 2x4x16x32"
echo "== a new console project with PackageReference Attend.Interop $version: the snippet of its package README compiles"
out=$(consumer Attend.Interop build) || { echo "$out"; exit 1; }
grep -E "Warn|Error" <<< "$out" | tail -2
echo "== SourceLink: Attend built in a clone whose origin is https://github.com/example/attend"
cd "$work" && git clone -q "$root" src && git -C src remote set-url origin https://github.com/example/attend
sha=$(git -C src rev-parse HEAD)
dotnet build src/src/Attend -c Release -p:ContinuousIntegrationBuild=true -o sl > /dev/null 2>&1 || fail "the SourceLink build"
map=$(grep -ao '{"documents":{[^}]*}}' sl/Attend.pdb) || fail "Attend.pdb has no SourceLink map"
echo "$map"
[ "$map" = "{\"documents\":{\"/_/*\":\"https://raw.githubusercontent.com/example/attend/$sha/*\"}}" ] || fail "unexpected SourceLink map"
echo "package test: 4 packages, tool and library installed from artifacts, passed"
