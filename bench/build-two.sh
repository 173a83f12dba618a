# Sourced by compare-builds.sh and capture-overhead.sh. build_two ROOT BASE_REV builds the benchmark twice, Release:
# BASE_REV from `git archive` into a temporary folder (removed on exit) and the tree at ROOT as it is; it sets
# base_dir, base_dll and ours_dll. best prints the smallest of its arguments (each side's figure: best of the medians).
build_two() {
  base_dir=$(mktemp -d /tmp/attend-base.XXXXXX)
  trap 'rm -rf "$base_dir"' EXIT
  git -C "$1" archive "$2" | tar -x -C "$base_dir"
  for d in "$base_dir" "$1"; do
    dotnet build -c Release "$d/bench/Attend.Bench/Attend.Bench.csproj" -v q -nologo > "$base_dir/build.log" 2>&1 || { tail -20 "$base_dir/build.log" >&2; exit 1; }
  done
  base_dll="$base_dir/bench/Attend.Bench/bin/Release/net10.0/Attend.Bench.dll"
  ours_dll="$1/bench/Attend.Bench/bin/Release/net10.0/Attend.Bench.dll"
}
best() { python3 -c 'import sys; print(f"{min(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }
