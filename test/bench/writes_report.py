#!/usr/bin/env python3
"""The write workloads of test/bench/run.sh --writes-only (or --ab REV) as one markdown file.

    python3 test/bench/writes_report.py LOGS_DIR OUT.md

Per scale and write workload: omnitask's time per op over its floor's (the median over the
rounds of the ratio within each round, as summary.md), the throughputs, and pg_stat_statements'
server time per op; with --ab, for this tree ("new") and the revision REV ("old", runs named
*_old), each side against its own floor (same schema as its omnitask).
"""
import os
import statistics
import sys

LOGS, OUT = sys.argv[1], sys.argv[2]
machine = {}
for line in open(os.path.join(LOGS, "machine.txt")):
    if "=" in line:
        k, v = line.rstrip("\n").split("=", 1)
        machine[k] = v

scales = sorted((int(d) for d in os.listdir(LOGS)
                 if d.isdigit() and os.path.exists(os.path.join(LOGS, d, "runs.tsv"))))
runs = {}  # (scale, name) -> {round: (tps, exec_ms)}
for s in scales:
    for line in open(os.path.join(LOGS, str(s), "runs.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) < 8 or f[7] == "ERROR":
            continue
        runs.setdefault((s, f[1]), {})[int(f[2])] = (float(f[6]), float(f[7]) if f[7] else None)
sides = ["new", "old"] if any(n.endswith("_old") for (_, n) in runs) else ["new"]
SFX = {"new": "", "old": "_old"}


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def tps(s, name):
    return med([t for t, _ in runs.get((s, name), {}).values()])


def server_ms(s, name):
    return med([m for _, m in runs.get((s, name), {}).values()])


def time_ratio(s, num, den):
    """Time per op of num over den: the median of the per-round ratios."""
    a, b = runs.get((s, num), {}), runs.get((s, den), {})
    return med([b[r][0] / a[r][0] for r in a if r in b and a[r][0] > 0])


def f(v, fmt="{:.2f}x"):
    return "–" if v is None else fmt.format(v)


WORK = [("create", "create_task(doc) vs INSERT + history row"),
        ("status", "set_task_status(id, s) vs UPDATE + history row")]
label = {"new": f"new ({machine.get('commit', '?')})", "old": f"old ({machine.get('ab_rev', '?')})"}
L = ["# omnitask write workloads, durable mode (synchronous_commit = on)", ""]
L.append(f"`{machine.get('command', '?')}` on {machine.get('date', '?')}; "
         f"{machine.get('nproc', '?')} cores, {machine.get('ram', '?')} RAM, PostgreSQL {machine.get('pg', '?').split(' ')[0]}.")
L.append("")
L.append(f"- Sides: {', '.join(label[x] for x in sides)}; each against its own floor (the same tables and indexes "
         "without triggers or RLS, its history row written by the same statement), loaded by its own "
         "test/sample/generate.sql and test/bench/setup.sql." if len(sides) == 2 else
         f"- Build: {label['new']}.")
L.append(f"- pgbench `-n -M prepared -j 2`, {machine.get('write_clients', '?')} clients, {machine.get('rounds', '?')} rounds of "
         f"{machine.get('write_t', '?')} s per workload with a CHECKPOINT before each run"
         + ("; in each round both sides run back to back (which goes first alternates)." if len(sides) == 2 else "."))
loads = [f"start {machine.get('loadavg_start', '?')}"] + \
        [f"after {s:,} {machine.get(f'loadavg_after_{s}', '?')}" for s in scales] + [f"end {machine.get('loadavg_end', '?')}"]
L.append(f"- Load average: {'; '.join(loads)} ({machine.get('other_postgres', '?')}).")
L.append(f"- Settings: {machine.get('settings', '?')}.")
L.append("- *Time ratio*: time per op of omnitask over its floor's at the same concurrency (1 / throughput), the median "
         "of the ratios within each round; *server*: pg_stat_statements' execution time per call (without the commit's "
         "WAL flush), median of the rounds.")
L.append("")
hdr = "| scale | workload |"
sep = "|---|---|"
for x in sides:
    hdr += f" {label[x]}: time ratio | ops/s omnitask / floor | notify = off: time ratio | server ms omnitask / floor |"
    sep += "---|---|---|---|"
L += [hdr, sep]
for s in scales:
    for g, text in WORK:
        row = f"| {s:,} | {text} |"
        for x in sides:
            o, fl, nn = f"{g}_omni{SFX[x]}", f"{g}_floor{SFX[x]}", f"{g}_omni_nonotify{SFX[x]}"
            row += (f" **{f(time_ratio(s, o, fl))}** | {f(tps(s, o), '{:,.0f}')} / {f(tps(s, fl), '{:,.0f}')} |"
                    f" {f(time_ratio(s, nn, fl))} | {f(server_ms(s, o), '{:.3f}')} / {f(server_ms(s, fl), '{:.3f}')} |")
        L.append(row)
L.append("")
with open(OUT, "w") as out:
    out.write("\n".join(L))
print("\n".join(L))
