#!/usr/bin/env bash
# Renders guide pages (Markdown → HTML with Debian's python3-markdown, GitHub-like style) and screenshots them with
# headless Chromium. Usage: tools/learn/screenshot.sh OUT_DIR PAGE.md [PAGE.md …]   (needs chromium, python3-markdown,
# fonts-noto-cjk for the Chinese pages)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1; shift
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for page in "$@"; do
  name=$(echo "${page#docs/learn/}" | sed 's|/|-|g; s|\.md$||')
  html="$tmp/$name.html"
  /usr/bin/python3 - "$page" "$html" <<'PY'
import sys, pathlib, markdown
page, html = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2]
body = markdown.markdown(page.read_text(encoding="utf-8"), extensions=["tables", "fenced_code"])
css = """body{font-family:-apple-system,'DejaVu Sans','Noto Sans CJK SC',sans-serif;max-width:900px;margin:24px auto;
padding:0 24px;color:#1f2328;line-height:1.5;font-size:15px}h1{border-bottom:1px solid #d0d7de;padding-bottom:.3em}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.4em}pre{background:#f6f8fa;padding:12px;
overflow:auto;font-size:12.5px;line-height:1.4;border-radius:6px}code{font-family:'DejaVu Sans Mono',monospace;
background:#eff1f3;padding:.1em .3em;border-radius:4px;font-size:90%}pre code{background:none;padding:0}
a{color:#0969da;text-decoration:none}img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 10px}"""
pathlib.Path(html).write_text(f'<!doctype html><html><head><meta charset="utf-8"><base href="{page.parent.as_uri()}/">'
    f'<style>{css}</style></head><body>{body}</body></html>', encoding="utf-8")
PY
  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,"${HEIGHT:-2600}" \
    --screenshot="$out/$name.png" "file://$html" > /dev/null 2>&1
  echo "$page → $out/$name.png"
done
