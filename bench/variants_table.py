#!/usr/bin/python3
"""Writes the tables and heatmap grids of docs/attention-variants.md (between its results markers) from the logs that
bench/variants.sh left in docs/attention-variants: one row per variant, figures copied from the runs' own output."""
import io, re, sys, pathlib, contextlib

out = pathlib.Path("docs/attention-variants")
doc = pathlib.Path("docs/attention-variants.md")
variants = "soft sparsemax entmax15 topk:3 hard gumbel:1 reinforce".split()

def grab(text, pattern, default="—"):
    m = re.search(pattern, text)
    return m.group(1) if m else default

def times(d):
    t = (d / "time.txt").read_text() if (d / "time.txt").exists() else ""
    wall = grab(t, r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")
    cpu = float(grab(t, r"User time \(seconds\): (\S+)", "0")) + float(grab(t, r"System time \(seconds\): (\S+)", "0"))
    if wall != "—":
        parts = [float(p) for p in wall.split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        return f"{wall:.0f} s / {cpu:.0f} s"
    return "—"

def row(task, v):
    d = out / f"{task}-{v.replace(':', '-')}"
    log = (d / "log.txt").read_text() if (d / "log.txt").exists() else ""
    zeros = grab(log, r"([\d.]+)% of the weights on real keys are exactly 0")
    ent = grab(log, r"mean row entropy ([\d.]+) nats")
    if task == "dates":
        score = grab(log, r"Exact match on [\d,]+ held-out dates: ([\d.]+)%") + " %"
        train = grab(log, r"Trained \d+ steps in ([\d.]+) s") + " s"
    else:
        score = grab(log, r"BLEU on the [\d,]+ held-out pairs: ([\d.]+)")
        m = grab(log, r"Done: \d+ steps in ([\d.]+) min")
        train = f"{float(m) * 60:.0f} s" if m != "—" else "—"
    return f"| `{v}` | {score} | {zeros} % | {ent} | {train} | {times(d)} |"

# Side-by-side heatmaps: the dates model's last decoder layer on "Saturday 28 Nov 2026" (head-averaged), and the
# translation model's on the first held-out sentence; paths relative to docs/.
def images(task, file, width):
    cells = []
    for v in variants:
        p = out / f"{task}-{v.replace(':', '-')}" / file
        rel = p.relative_to(out.parent) if p.exists() else None
        cells.append(f'<td align="center"><code>{v}</code><br>' + (f'<img src="{rel}" width="{width}">' if rel else "(not run)") + "</td>")
    rows = [cells[i:i + 4] for i in range(0, len(cells), 4)]
    return "<table>\n" + "\n".join("<tr>" + "".join(r) + "</tr>" for r in rows) + "\n</table>\n"


buf = io.StringIO()
with contextlib.redirect_stdout(buf):
  for task, title, metric in [("dates", "Date normalization (quickstart), 3,342 steps", "exact match (2,000 held-out)"),
                            ("translate", "English→Spanish translation, 1,000 steps", "BLEU (1,000 held-out)")]:
    print(f"### {title}\n")
    print(f"| variant | {metric} | exactly-zero weights | mean entropy (nats) | training time | process wall / CPU |")
    print("|---|---|---|---|---|---|")
    for v in variants:
        print(row(task, v))
    print()
  print("### Heatmaps: dates (last decoder layer, head-averaged, on a held-out date)\n")
  print(images("dates", "attention-1.png", 260))
  print("### Heatmaps: translation (last decoder layer, head-averaged, on the first held-out sentence)\n")
  print(images("translate", "attention.png", 230))

begin, end = "<!-- results:begin -->", "<!-- results:end -->"
text = doc.read_text()
if begin not in text: sys.exit(f"{doc}: no {begin} marker")
head, rest = text.split(begin, 1)
tail = rest.split(end, 1)[1]
doc.write_text(head + begin + "\n" + buf.getvalue() + end + tail)
print(buf.getvalue())

