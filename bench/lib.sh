# Helpers shared by the side-by-side scripts (compare.sh, aot-vs-jit.sh); source it.
median_of() { # run a command printing "CASE\tmedian\tmin\treps"; echo the median column (nan if it failed)
  local line
  line=$("$@" | tail -1) || { echo "failed: $*" >&2; echo nan; return; }
  echo "$line" | cut -f2
}
best() { python3 -c 'import sys; v=[float(x) for x in sys.argv[1:] if x!="nan"]; print(f"{min(v):.3f}" if v else "nan")' "$@"; }
