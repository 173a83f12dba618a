#!/usr/bin/env bash
# Builds kjv.txt.gz: the King James Bible (public domain), one verse per line, a line "# Book" before each book.
# Source: Debian's bible-kjv package (`apt-get install -y bible-kjv`), whose `bible` program prints verses as
#   "Genesis 1" (chapter heading), "  1 In the beginning ..." (verse, wrapped over several lines).
# We join wrapped lines, drop verse numbers and chapter headings, and mark each new book.
set -euo pipefail
cd "$(dirname "$0")"
command -v bible >/dev/null || { echo "bible not found: apt-get install -y bible-kjv" >&2; exit 1; }
COLUMNS=100000 bible -l100000 "gen1:1-rev22:21" | awk '
  /^$/ { next }
  /^[1-3]? ?[A-Z][A-Za-z ]* [0-9]+$/ {            # chapter heading "Book N"
      if (verse != "") { print verse; verse = "" }
      book = $0; sub(/ [0-9]+$/, "", book)
      if (book != last) { print "# " book; last = book }
      next }
  /^ +[0-9]+ / { if (verse != "") print verse
                 verse = $0; sub(/^ +[0-9]+ /, "", verse); next }
  { sub(/^ +/, ""); verse = verse " " $0 }
  END { if (verse != "") print verse }' > kjv.txt
gzip -9 -n -f kjv.txt
echo "wrote $(pwd)/kjv.txt.gz ($(stat -c %s kjv.txt.gz) bytes, $(zcat kjv.txt.gz | grep -c '^# ') books, $(zcat kjv.txt.gz | grep -vc '^# ') verses)"
