#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""series_used.py METRICS FILE... - every mailpulse_* series that the
Prometheus rules (YAML) and Grafana dashboards (JSON) in FILE... name must
exist in METRICS, a real daemon's /metrics output; so must every label
value they select with `label="value"`. Exit 0, or 1 listing each series or
label value that is missing and where it is used.
"""
import json
import re
import sys

import yaml

NAME = re.compile(r'(?<![A-Za-z0-9_:])(mailpulse_[a-z0-9_]+)(\{[^}]*\})?')
MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s')
LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def exposed(path):
    """name -> list of label dicts, from the sample lines only."""
    series = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            m = SAMPLE.match(line)
            if not m:
                continue
            labels = dict(LABEL.findall(m.group(3) or ""))
            series.setdefault(m.group(1), []).append(labels)
    return series


def strings(node, where):
    """Every PromQL string of a rules file or a dashboard, with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("expr", "query", "definition") and isinstance(v, str):
                yield v, f"{where}.{k}"
            else:
                yield from strings(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            label = v.get("alert") or v.get("record") or v.get("title") if isinstance(v, dict) else None
            yield from strings(v, f"{where}[{label or i}]")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: series_used.py METRICS FILE...")
    series = exposed(sys.argv[1])
    if not series:
        sys.exit(f"{sys.argv[1]}: no samples")
    bad, used = [], set()
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
        n = 0
        for expr, where in strings(doc, path):
            for m in NAME.finditer(expr):
                name, sel = m.group(1), m.group(2) or ""
                n += 1
                used.add(name)
                if name not in series:
                    bad.append(f"{where}: {name} is not in /metrics")
                    continue
                for label, op, value in MATCHER.findall(sel):
                    if op != "=" or "$" in value:
                        continue
                    if not any(s.get(label) == value for s in series[name]):
                        bad.append(f'{where}: no {name} has {label}="{value}" in /metrics')
        if n == 0:
            bad.append(f"{path}: names no mailpulse_* series at all")
        print(f"{path}: {n} uses of mailpulse series checked")
    for b in bad:
        print("MISSING:", b)
    print(f"{len(used)} distinct series used, all exposed" if not bad else f"{len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
