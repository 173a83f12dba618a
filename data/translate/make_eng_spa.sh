#!/bin/sh
# Makes data/translate/eng-spa.tsv: short English sentences from the shipped King James Bible (public domain) and
# their Spanish translation by Apertium's rule-based eng-spa system, one "english<TAB>spanish" pair per line.
# The output is generated data from a GPL tool and is not committed (see .gitignore); run this script to make it.
# Usage: data/translate/make_eng_spa.sh [MIN_WORDS MAX_WORDS]   (default 4 16)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kjv="$here/../kjv/kjv.txt.gz"
out="$here/eng-spa.tsv"
min=${1:-4}; max=${2:-16}

if ! command -v apertium >/dev/null 2>&1 || ! apertium -l 2>/dev/null | grep -qw 'eng-spa'; then
    echo "error: Apertium's English→Spanish pair is not installed. Install it with:" >&2
    echo "  sudo apt-get install -y apertium-eng-spa" >&2
    exit 1
fi
[ -f "$kjv" ] || { echo "error: $kjv is missing" >&2; exit 1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# Verses → clauses: break after . ? ! ; : followed by a space; drop a trailing ; : or , ; keep clauses of
# min..max words that start with a capital letter; no duplicates (first one kept).
zcat "$kjv" | grep -v '^# ' | tr -d '\t\r' \
  | perl -pe 's/([.?!;:])\s+/$1\n/g' \
  | perl -ne 's/^\s+|\s+$//g; s/[;:,]$//; next unless /^[A-Z]/; my $n = () = /\S+/g; print "$_\n" if $n >= '"$min"' && $n <= '"$max"';' \
  | awk '!seen[$0]++' > "$tmp/eng.txt"
# One apertium call for all lines; -u drops the '*' it puts before unknown words. Lines stay aligned one to one.
apertium -u eng-spa < "$tmp/eng.txt" > "$tmp/spa.txt"
[ "$(wc -l < "$tmp/eng.txt")" -eq "$(wc -l < "$tmp/spa.txt")" ] || { echo "error: apertium changed the line count" >&2; exit 1; }
paste "$tmp/eng.txt" "$tmp/spa.txt" | awk -F '\t' 'NF == 2 && $2 != ""' > "$out"
echo "wrote $out: $(wc -l < "$out") sentence pairs"
