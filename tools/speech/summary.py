#!/usr/bin/env python3
"""The issue-22 table from the logs of tools/speech/ablation.sh: one row per run.
   tools/speech/summary.py docs/results/speech-real/*.txt"""
import re, sys

print("| run | voices | augment | seed | steps | minutes | espeak held-out WER | alignment (DTW) | flite/festival held-out WER | real WER |")
print("|---|---|---|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    cmd = re.search(r"--seed (\d+) --voices (\S+) --augment (\S+)", text)
    done = re.search(r"Done: (\d+) steps in ([\d.]+) min.*?WER ([\d.]+)%, median alignment error (\d+) ms", text)
    ext = re.search(r"Held-out flite/festival voices .*?WER ([\d.]+)% over (\d+) words", text)
    real = re.search(r"Real recordings .*?: (\d+) errors in (\d+) words, WER ([\d.]+)%", text)
    if not (cmd and done):
        continue
    name = path.rsplit("/", 1)[-1].removesuffix(".txt")
    seed, voices, augment = cmd.groups()
    print(f"| {name} | {voices} | {augment} | {seed} | {done[1]} | {done[2]} | {done[3]}% | {done[4]} ms | "
          f"{ext[1] + '%' if ext else '—'} | {f'{real[3]}% ({real[1]}/{real[2]})' if real else '—'} |")
