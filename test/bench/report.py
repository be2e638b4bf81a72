#!/usr/bin/env python3
"""Turns the raw output of test/bench/run.sh into results-<scale>.csv, summary.md and bench.png.

    python3 test/bench/report.py LOGS_DIR RESULTS_DIR

LOGS_DIR holds machine.txt and, per scale, runs.tsv (one pgbench run a line), timings.tsv (timed
queries, memory, load) and one directory per pgbench run with its per-transaction logs (tx.*).
"""
import csv
import glob
import math
import os
import subprocess
import sys

LOGS, RES = sys.argv[1], sys.argv[2]
os.makedirs(RES, exist_ok=True)

# what each pgbench run is, in the order of the tables
WORKLOADS = [
    # name, label, who, kind
    ("read_task", "read_task(id)", "admin", "read"),
    ("read_floor", "floor: SELECT resource by id (plain copy)", "admin", "read"),
    ("worklist_rls", "worklist, RLS on", "practitioner", "read"),
    ("worklist_norls", "worklist, RLS off (owner_id = filter)", "superuser", "read"),
    ("search_rls", "search_tasks(status, priority)", "practitioner", "read"),
    ("search_admin", "search_tasks(owner, status, priority)", "admin", "read"),
    ("search_floor", "floor: same 50 rows by hand-written SELECT, no Bundle", "admin", "read"),
    ("workload_view", "SELECT * FROM workload", "admin", "read"),
    ("workload_floor", "floor: same query on plain copy", "admin", "read"),
    ("task_counts", "SELECT * FROM task_counts", "admin", "read"),
    ("task_counts_floor", "floor: same query on plain copy", "admin", "read"),
    ("create_omni", "create_task(doc)", "admin", "write"),
    ("create_floor", "floor: INSERT + history row", "admin", "write"),
    ("create_bare", "bare floor: INSERT only", "admin", "write"),
    ("create_plpgsql", "PL/pgSQL trigger: create_task(doc)", "admin", "write"),
    ("create_omni_nonotify", "create_task(doc), omnitask.notify = off", "admin", "write"),
    ("status_omni", "set_task_status(id, s)", "admin", "write"),
    ("status_floor", "floor: UPDATE + history row", "admin", "write"),
    ("status_bare", "bare floor: UPDATE jsonb_set only", "admin", "write"),
    ("status_plpgsql", "PL/pgSQL trigger: set_task_status(id, s)", "admin", "write"),
    ("status_omni_nonotify", "set_task_status(id, s), omnitask.notify = off", "admin", "write"),
]
LABEL = {w[0]: w[1] for w in WORKLOADS}
WHO = {w[0]: w[2] for w in WORKLOADS}


def read_kv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    f, c = math.floor(k), math.ceil(k)
    if f == c:
        return sorted_vals[int(k)]
    return sorted_vals[f] + (sorted_vals[c] - sorted_vals[f]) * (k - f)


def fnum(v, digits=None):
    """A number for a table: 3 significant digits, thousands separators for big ones."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if digits is not None:
        return f"{v:,.{digits}f}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.1:
        return f"{v:.3f}"
    return f"{v:.4f}"


def scale_label(s):
    s = int(s)
    if s >= 1000000 and s % 1000000 == 0:
        return f"{s // 1000000}M"
    if s >= 1000 and s % 1000 == 0:
        return f"{s // 1000}k"
    return str(s)


machine = read_kv(os.path.join(LOGS, "machine.txt"))
scales = sorted(int(os.path.basename(d)) for d in glob.glob(os.path.join(LOGS, "*")) if os.path.basename(d).isdigit()
                and os.path.exists(os.path.join(d, "runs.tsv")))

runs = {}      # (scale, name) -> dict
timings = {}   # (scale, key) -> float/str
for s in scales:
    rounds = {}
    for line in open(os.path.join(LOGS, str(s), "runs.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) < 8:
            continue
        f += [""] * (10 - len(f))
        scale, name, rnd, user, clients, secs, tps, exec_ms, wal_sync, wal_bytes = f[:10]
        rounds.setdefault(name, []).append({
            "round": int(rnd), "user": user, "clients": int(clients), "secs": int(secs), "tps": float(tps or 0),
            "error": exec_ms == "ERROR", "exec_ms": None if exec_ms in ("", "ERROR") else float(exec_ms),
            "wal_sync": float(wal_sync) if wal_sync else None, "wal_bytes": float(wal_bytes) if wal_bytes else None})
    for name, rs in rounds.items():
        ok = [x for x in rs if not x["error"]]
        r = {"user": rs[0]["user"], "clients": rs[0]["clients"], "secs": sum(x["secs"] for x in rs),
             "rounds": len(rs), "error": not ok or len(ok) < len(rs)}
        med = lambda vals: None if not vals else sorted(vals)[(len(vals) - 1) // 2] if len(vals) % 2 else \
            (sorted(vals)[len(vals) // 2 - 1] + sorted(vals)[len(vals) // 2]) / 2
        r["tps"] = med([x["tps"] for x in ok])
        r["round_tps"] = {x["round"]: x["tps"] for x in ok}
        r["tps_min"] = min((x["tps"] for x in ok), default=None)
        r["tps_max"] = max((x["tps"] for x in ok), default=None)
        r["exec_ms"] = med([x["exec_ms"] for x in ok if x["exec_ms"] is not None])
        r["wal_sync"] = med([x["wal_sync"] for x in ok if x["wal_sync"] is not None])
        r["wal_bytes"] = med([x["wal_bytes"] for x in ok if x["wal_bytes"] is not None])
        lats = []
        for fn in glob.glob(os.path.join(LOGS, str(s), name, "r*", "tx.*")):
            for l in open(fn):
                p = l.split()
                if len(p) >= 3 and p[2].isdigit():
                    lats.append(int(p[2]) / 1000.0)   # us -> ms
        lats.sort()
        r["n"] = len(lats)
        r["avg"] = sum(lats) / len(lats) if lats else None
        r["p50"], r["p95"], r["p99"] = pct(lats, 50), pct(lats, 95), pct(lats, 99)
        if r["error"]:
            r["tps"] = None
        runs[(s, name)] = r
    tpath = os.path.join(LOGS, str(s), "timings.tsv")
    if os.path.exists(tpath):
        for line in open(tpath):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 3:
                try:
                    timings[(s, f[1])] = float(f[2])
                except ValueError:
                    timings[(s, f[1])] = f[2]


def run(s, name, key="tps"):
    r = runs.get((s, name))
    return None if r is None or r.get("error") else r.get(key)


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    m = len(vals) // 2
    return vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2


def time_ratio(s, num, den):
    """(time per op of num) / (time per op of den), from throughput in the same run: for workloads run in
    rounds, the median of the per-round ratios (each round runs the pair back to back)."""
    a, b = runs.get((s, num)), runs.get((s, den))
    if a and b and not a["error"] and not b["error"] and a["rounds"] > 1 and b["rounds"] > 1:
        paired = [b["round_tps"][k] / a["round_tps"][k] for k in a["round_tps"] if k in b["round_tps"] and a["round_tps"][k]]
        if paired:
            return median(paired)
    return ratio(run(s, den), run(s, num))


def val_rate(s, which):
    n, ms = timings.get((s, "valgen_n" if which.startswith("valgen") else "val_n")), timings.get((s, which))
    return n / (ms / 1000.0) if n and ms else None


def val_us(s, which):
    n, ms = timings.get((s, "valgen_n" if which.startswith("valgen") else "val_n")), timings.get((s, which))
    return ms * 1000.0 / n if n and ms else None


# ---------------------------------------------------------------------------------------------
# results-<scale>.csv
# ---------------------------------------------------------------------------------------------
CSV_COLS = ["scale", "workload", "description", "role", "kind", "clients", "seconds", "ops", "ops_per_s",
            "lat_avg_ms", "lat_p50_ms", "lat_p95_ms", "lat_p99_ms", "server_ms_per_op", "peak_mb",
            "rounds", "ops_per_s_min", "ops_per_s_max", "wal_flushes_per_op", "wal_bytes_per_op", "note"]
for s in scales:
    with open(os.path.join(RES, f"results-{s}.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLS)
        for name, label, who, kind in WORKLOADS:
            r = runs.get((s, name))
            if r is None:
                continue
            rd = lambda v, d=4: "" if v is None else round(v, d)
            w.writerow([s, name, label, who, "pgbench", r["clients"], r["secs"], r["n"], rd(r["tps"], 1),
                        rd(r["avg"]), rd(r["p50"]), rd(r["p95"]), rd(r["p99"]), rd(r["exec_ms"]), "",
                        r["rounds"], rd(r["tps_min"], 1), rd(r["tps_max"], 1), rd(r["wal_sync"], 3), rd(r["wal_bytes"], 0),
                        "ERROR: see test/tmp/bench/logs" if r["error"] else
                        ("ops_per_s = median of the rounds" if r["rounds"] > 1 else "")])
        for key, label in (("val_omnitask", "omnitask.validate_task(resource), Task-example5-like docs"),
                           ("val_plpgsql", "bench_plpgsql.validate_task(resource), Task-example5-like docs"),
                           ("val_detoast", "count(jsonb_typeof(resource)): scan + detoast, Task-example5-like docs"),
                           ("val_scan", "count(resource): scan only, Task-example5-like docs"),
                           ("valgen_omnitask", "omnitask.validate_task(resource), generated Tasks"),
                           ("valgen_detoast", "count(jsonb_typeof(resource)): scan + detoast, generated Tasks")):
            ms = timings.get((s, key))
            gen = key.startswith("valgen")
            n = timings.get((s, "valgen_n" if gen else "val_n"))
            if ms is None or not n:
                continue
            w.writerow([s, key, label, "superuser", "query, 1 core", 1, round(ms / 1000.0, 3), int(n), round(n / (ms / 1000.0), 1),
                        round(ms / n, 6), "", "", "", round(ms, 1), "", "", "", "", "", "",
                        f"{int(n)} docs of {int(timings.get((s, 'valgen_avg_bytes' if gen else 'val_avg_bytes'), 0))} bytes on average; "
                        "best of 3 runs (validate_task: 5, PL/pgSQL: 1); lat_avg_ms = ms per document"])
        for op, label in (("floor", "floor create of the largest Task"), ("validate", "validate_task(largest Task)"),
                          ("create", "create_task(largest Task)"), ("plpgsql", "PL/pgSQL create of the largest Task")):
            pk, ms = timings.get((s, f"mem_{op}_peak_mb")), timings.get((s, f"mem_{op}_ms"))
            if pk is None:
                continue
            w.writerow([s, f"mem_{op}", label, "superuser", "memory", 1, "", 1, "", ms, "", "", "", "", pk, "", "", "", "", "",
                        "peak_mb = VmHWM growth of the backend over a warm-up on a small Task; lat_avg_ms = time of the op"])
        for key in ("ctx_growth_in_tx_1000_creates_bytes", "ctx_growth_after_1200_creates_bytes"):
            v = timings.get((s, "mem_" + key))
            if v is not None:
                w.writerow([s, key, "memory-context bytes held, growth", "superuser", "memory", 1, "", "", "", "", "", "",
                            "", "", round(v / 1048576.0, 3), "", "", "", "", "", "leak check: pg_backend_memory_contexts total, MB"])
        w.writerow([s, "load", "test/sample/generate.sql", "superuser", "load", 1, timings.get((s, "load_generate_s"), ""),
                    s, round(s / timings[(s, "load_generate_s")], 1) if timings.get((s, "load_generate_s")) else "",
                    "", "", "", "", "", "", "", "", "", "", "", "import_task() of every generated Task"])

# ---------------------------------------------------------------------------------------------
# ratios and targets
# ---------------------------------------------------------------------------------------------
RATIOS = [
    # key, label, function(scale) -> value, target (max) or None
    ("create_vs_floor", "create: omnitask / floor", lambda s: time_ratio(s, "create_omni", "create_floor"), 1.3),
    ("status_vs_floor", "status change: omnitask / floor", lambda s: time_ratio(s, "status_omni", "status_floor"), 1.3),
    ("create_vs_bare", "create: omnitask / bare floor (no history)", lambda s: time_ratio(s, "create_omni", "create_bare"), None),
    ("status_vs_bare", "status change: omnitask / bare floor (no history)", lambda s: time_ratio(s, "status_omni", "status_bare"), None),
    ("create_nn_vs_floor", "create with omnitask.notify = off: omnitask / floor",
     lambda s: time_ratio(s, "create_omni_nonotify", "create_floor"), None),
    ("status_nn_vs_floor", "status change with omnitask.notify = off: omnitask / floor",
     lambda s: time_ratio(s, "status_omni_nonotify", "status_floor"), None),
    ("create_srv_vs_floor", "create, server time: omnitask / floor",
     lambda s: ratio(run(s, "create_omni", "exec_ms"), run(s, "create_floor", "exec_ms")), None),
    ("status_srv_vs_floor", "status change, server time: omnitask / floor",
     lambda s: ratio(run(s, "status_omni", "exec_ms"), run(s, "status_floor", "exec_ms")), None),
    ("create_plpgsql", "create: PL/pgSQL / omnitask", lambda s: time_ratio(s, "create_plpgsql", "create_omni"), None),
    ("status_plpgsql", "status change: PL/pgSQL / omnitask", lambda s: time_ratio(s, "status_plpgsql", "status_omni"), None),
    ("create_srv_plpgsql", "create, server time: PL/pgSQL / omnitask",
     lambda s: ratio(run(s, "create_plpgsql", "exec_ms"), run(s, "create_omni", "exec_ms")), None),
    ("status_srv_plpgsql", "status change, server time: PL/pgSQL / omnitask",
     lambda s: ratio(run(s, "status_plpgsql", "exec_ms"), run(s, "status_omni", "exec_ms")), None),
    ("val_plpgsql", "validation: PL/pgSQL / omnitask", lambda s: ratio(timings.get((s, "val_plpgsql")), timings.get((s, "val_omnitask"))), None),
    ("worklist_rls", "worklist: RLS on / off", lambda s: time_ratio(s, "worklist_rls", "worklist_norls"), 1.1),
    ("search_rls", "search_tasks: practitioner (RLS) / admin (owner=)", lambda s: time_ratio(s, "search_rls", "search_admin"), None),
    ("search_vs_floor", "search_tasks (admin, owner=) / hand-written SELECT of the same rows",
     lambda s: time_ratio(s, "search_admin", "search_floor"), None),
    ("read_vs_floor", "read_task / plain SELECT", lambda s: time_ratio(s, "read_task", "read_floor"), None),
    ("workload_vs_floor", "workload view / same query on plain copy", lambda s: time_ratio(s, "workload_view", "workload_floor"), None),
    ("counts_vs_floor", "task_counts view / same query on plain copy", lambda s: time_ratio(s, "task_counts", "task_counts_floor"), None),
]

biggest = scales[-1] if scales else None
smallest = scales[0] if scales else None
at_1m = 1000000 if 1000000 in scales else None


def verdict(ok):
    return "–" if ok is None else ("PASS" if ok else "**MISS**")


def all_ok(vals, pred):
    vals = [v for v in vals if v is not None]
    return None if not vals else all(pred(v) for v in vals)


def per_scale(fn, fmt=lambda v: fnum(v)):
    return ", ".join(f"{scale_label(s)} {fmt(fn(s))}" for s in scales)


targets = []
vr = [val_rate(s, "val_omnitask") for s in scales]
def net_rate(s, which, floor):
    n, ms, f = timings.get((s, "valgen_n" if which.startswith("valgen") else "val_n")), timings.get((s, which)), timings.get((s, floor))
    return n / ((ms - f) / 1000.0) if n and ms and f and ms > f else None


targets.append(("validation >= 100,000 Tasks/s on one core (Task-example5-like, incl. scan and detoast)",
                per_scale(lambda s: val_rate(s, "val_omnitask"), lambda v: fnum(v) + "/s")
                + "; net of scan + detoast: " + per_scale(lambda s: net_rate(s, "val_omnitask", "val_detoast"), lambda v: fnum(v) + "/s")
                + "; generated Tasks: " + per_scale(lambda s: val_rate(s, "valgen_omnitask"), lambda v: fnum(v) + "/s"),
                verdict(all_ok(vr, lambda v: v >= 100000))))
vp = [ratio(timings.get((s, "val_plpgsql")), timings.get((s, "val_omnitask"))) for s in scales]
targets.append(("validation >= 10x the PL/pgSQL baseline",
                per_scale(lambda s: ratio(timings.get((s, "val_plpgsql")), timings.get((s, "val_omnitask"))), lambda v: fnum(v) + "x"),
                verdict(all_ok(vp, lambda v: v >= 10))))
EXTRA = {"create_vs_floor": ("create_srv_vs_floor", "create_nn_vs_floor"),
         "status_vs_floor": ("status_srv_vs_floor", "status_nn_vs_floor")}
fns_all = {k: f for k, l, f, t in RATIOS}
for key, label, fn, tgt in RATIOS:
    if tgt is not None:
        m = per_scale(fn, lambda v: fnum(v) + "x")
        if key in EXTRA:
            srv, nn = EXTRA[key]
            m += ("; server time: " + per_scale(fns_all[srv], lambda v: fnum(v) + "x")
                  + "; with omnitask.notify = off: " + per_scale(fns_all[nn], lambda v: fnum(v) + "x"))
        targets.append((f"{label} <= {tgt}x (time per op)", m, verdict(all_ok([fn(s) for s in scales], lambda v: v <= tgt))))
targets.append(("worklist with RLS: median < 1 ms", per_scale(lambda s: run(s, "worklist_rls", "p50"), lambda v: fnum(v) + " ms"),
                verdict(all_ok([run(s, "worklist_rls", "p50") for s in scales], lambda v: v < 1.0))))
ref = at_1m or biggest
suffix = "" if at_1m else f" (1M not run: shown at {scale_label(ref)})" if ref else ""
if ref:
    v = run(ref, "search_rls", "p50")
    v2 = run(ref, "search_admin", "p50")
    targets.append((f"search_tasks median < 2 ms at 1M{suffix}", f"practitioner {fnum(v)} ms, admin {fnum(v2)} ms",
                    verdict(all_ok([v, v2], lambda x: x < 2.0))))
    v, v2 = run(ref, "workload_view", "p50"), run(ref, "task_counts", "p50")
    targets.append((f"workload and task_counts median < 500 ms at 1M{suffix}", f"workload {fnum(v)} ms, task_counts {fnum(v2)} ms",
                    verdict(all_ok([v, v2], lambda x: x < 500.0))))
targets.append(("read_task median < 0.2 ms", per_scale(lambda s: run(s, "read_task", "p50"), lambda v: fnum(v) + " ms"),
                verdict(all_ok([run(s, "read_task", "p50") for s in scales], lambda v: v < 0.2))))
FLAT = ["read_task", "worklist_rls", "search_rls", "search_admin", "create_omni", "status_omni"]
if len(scales) >= 2:
    growth = {w: ratio(run(biggest, w, "p50"), run(smallest, w, "p50")) for w in FLAT}
    targets.append((f"per-request cost flat within 1.5x from {scale_label(smallest)} to {scale_label(biggest)} (median latency)",
                    ", ".join(f"{w} {fnum(v)}x" for w, v in growth.items()),
                    verdict(all_ok(list(growth.values()), lambda v: v <= 1.5))))

# ---------------------------------------------------------------------------------------------
# summary.md
# ---------------------------------------------------------------------------------------------
L = []
L.append("# omnitask benchmark results")
L.append("")
L.append(f"`{machine.get('command', 'bash test/bench/run.sh')}` on {machine.get('date', '?')} "
         f"(omnitask {machine.get('commit', '?')}).")
L.append("")
L.append(f"- Machine: {machine.get('nproc', '?')} cores ({machine.get('cpu', '?')}), {machine.get('ram', '?')} RAM; "
         f"PostgreSQL {machine.get('pg', '?')}")
L.append(f"- Settings: {machine.get('settings', '?')}")
L.append(f"- Load average at the start {machine.get('loadavg_start', '?')}, at the end {machine.get('loadavg_end', '?')} "
         f"({machine.get('other_postgres', '?')}: the machine is shared, so single runs carry noise); "
         f"total run time {int(machine.get('total_s', 0)) // 60} min {int(machine.get('total_s', 0)) % 60} s.")
L.append(f"- pgbench `-n -M prepared -j 2`: reads {machine.get('read_clients', '?')} clients, {machine.get('read_rounds', '1')} rounds of "
         f"{machine.get('read_t', '?')} s (the RLS worklist pair: {machine.get('rounds', '1')} rounds); writes {machine.get('write_clients', '?')} clients, {machine.get('rounds', '1')} rounds of "
         f"{machine.get('write_t', '?')} s with a CHECKPOINT before each run; in each round every omnitask run is followed by its "
         "baselines, on the same data and indexes, after every table and index was read into the OS cache.")
L.append("- `synchronous_commit = on`: every write waits for its WAL flush (the disk's fdatasync takes ~2 ms here), "
         "so write throughput is bounded by the flush for omnitask and the baselines alike; "
         "*server ms/op* (pg_stat_statements execution time per call, without the commit) shows the CPU cost that the flush hides. "
         "With `omnitask.notify = on` (the default) every write is announced with NOTIFY. PostgreSQL serialises the commits of "
         "transactions that send a NOTIFY (a cluster-wide lock held through the commit's WAL flush, `PreCommit_Notify` in async.c), "
         "so they could not share a flush; here omnitask is in `shared_preload_libraries`, so writers hand their notifications to "
         "omnitask's relay after commit (a background worker that sends them in batches) and keep sharing flushes. The *notify = off* "
         "rows show what the announcement still costs; the PL/pgSQL baseline sends `pg_notify` from its trigger, as a DBA would, and "
         "pays the serialised flush (1.00 WAL flushes per write).")
L.append("- Data: `test/sample/generate.sql` (2000 practitioners and 100,000 patients at 1M, proportionally fewer below, at least 20); "
         "each practitioner owns ~500 tasks at every scale. Floor = `bench.task_plain` (LIKE omnitask.task INCLUDING ALL: same rows and "
         "indexes, no triggers, no RLS) with its history row written by the same statement; bare floor = the single INSERT/UPDATE. "
         "PL/pgSQL = `test/bench/plpgsql_baseline.sql`.")
L.append("")

hdr = "| workload | role | " + " | ".join(scale_label(s) for s in scales) + " |"
sep = "|---|---|" + "---|" * len(scales)
L.append("## Throughput and latency")
L.append("")
L.append("Each cell: throughput (ops/s; median of the rounds, with the range) · median / p95 / p99 latency in ms · "
         "server ms per op (pg_stat_statements) · for writes, WAL flushes per op.")
L.append("")
L.append(hdr)
L.append(sep)
for name, label, who, kind in WORKLOADS:
    if not any((s, name) in runs for s in scales):
        continue
    cells = []
    for s in scales:
        r = runs.get((s, name))
        if r is None:
            cells.append("–")
        elif r["error"]:
            cells.append("ERROR")
        else:
            c = f"{fnum(r['tps'])}/s"
            if r["rounds"] > 1:
                c += f" ({fnum(r['tps_min'])}–{fnum(r['tps_max'])})"
            c += f" · {fnum(r['p50'])} / {fnum(r['p95'])} / {fnum(r['p99'])} · {fnum(r['exec_ms'])}"
            if kind == "write" and r["wal_sync"] is not None:
                c += f" · {r['wal_sync']:.2f}"
            cells.append(c)
    L.append(f"| {label} | {who} | " + " | ".join(cells) + " |")
vb = timings.get((biggest, "val_avg_bytes"), 0) / 1024.0 if scales else 0
gb = timings.get((biggest, "valgen_avg_bytes"), 0) / 1024.0 if scales else 0
for key, label in (("val_omnitask", f"validate_task, 1 core: Task-example5-like docs ({vb:.1f} KB, with narrative)"),
                   ("val_plpgsql", "PL/pgSQL validate, 1 core, same docs"),
                   ("val_detoast", "same docs: scan + detoast only"), ("val_scan", "same docs: scan only (count(resource))"),
                   ("valgen_omnitask", f"validate_task, 1 core: generated Tasks ({gb:.1f} KB on average, no narrative)"),
                   ("valgen_detoast", "generated Tasks: scan + detoast only")):
    if any((s, key) in timings for s in scales):
        L.append(f"| {label} | superuser | " + " | ".join(
            f"{fnum(val_rate(s, key))}/s · {fnum(val_us(s, key))} µs/Task" if (s, key) in timings else "–" for s in scales) + " |")
L.append("")
L.append("## Ratios measured in the same run")
L.append("")
L.append("Time per op = 1 / throughput at the same concurrency: the median over the rounds of the ratio within each round "
         "(the two runs of a pair are back to back); *server time* = pg_stat_statements execution time per call (median of the rounds).")
L.append("")
L.append("| ratio | " + " | ".join(scale_label(s) for s in scales) + " | target |")
L.append("|---|" + "---|" * len(scales) + "---|")
for key, label, fn, tgt in RATIOS:
    L.append(f"| {label} | " + " | ".join(fnum(fn(s)) + "x" if fn(s) is not None else "–" for s in scales)
             + f" | {'<= ' + str(tgt) + 'x' if tgt else ''} |")
L.append("")
L.append("## Targets")
L.append("")
L.append("| target | measured | result |")
L.append("|---|---|---|")
for t, m, v in targets:
    L.append(f"| {t} | {m} | {v} |")
L.append("")
L.append("## Memory: the largest Task")
L.append("")
if biggest is not None:
    bb, bn = timings.get((biggest, "big_doc_bytes")), timings.get((biggest, "big_doc_notes"))
    L.append(f"A generated Task with {fnum(bn) if bn else '?'} notes ({fnum(bb / 1048576.0) if bb else '?'} MB of JSON text). Peak = growth of the backend's VmHWM over a warm-up on a "
             "small Task, in a fresh session per operation (includes the few shared-buffer and WAL pages the write touches "
             "first; the floor shows that share).")
    L.append("")
    L.append("| operation | " + " | ".join(scale_label(s) for s in scales) + " |")
    L.append("|---|" + "---|" * len(scales))
    for op, label in (("floor", "floor: INSERT + history row"), ("validate", "validate_task"), ("create", "create_task"),
                      ("plpgsql", "PL/pgSQL trigger create")):
        L.append(f"| {label} | " + " | ".join(
            f"{fnum(timings.get((s, f'mem_{op}_peak_mb')))} MB peak, {fnum(timings.get((s, f'mem_{op}_ms')))} ms"
            if (s, f"mem_{op}_peak_mb") in timings else "–" for s in scales) + " |")
    for key, label in (("ctx_growth_in_tx_1000_creates_bytes", "memory contexts: growth within a transaction of 1000 creates + 1000 validations"),
                       ("ctx_growth_after_1200_creates_bytes", "memory contexts: growth of the session after 1200 creates (leak check)")):
        L.append(f"| {label} | " + " | ".join(
            f"{fnum(timings[(s, 'mem_' + key)] / 1024.0)} kB" if (s, "mem_" + key) in timings else "–" for s in scales) + " |")
L.append("")
L.append("## Load")
L.append("")
L.append("| scale | generate.sql (import_task per Task) | tasks/s | setup of the baselines |")
L.append("|---|---|---|---|")
for s in scales:
    g = timings.get((s, "load_generate_s"))
    L.append(f"| {scale_label(s)} | {fnum(g)} s | {fnum(s / g) if g else '–'} | {fnum(timings.get((s, 'setup_s')))} s |")
L.append("")
L.append("![throughput, latency and ratios vs scale](bench.png)")
L.append("")
L.append("Raw data: `results-<scale>.csv`; per-transaction pgbench logs in `test/tmp/bench/logs` (not kept).")
open(os.path.join(RES, "summary.md"), "w").write("\n".join(L) + "\n")

# ---------------------------------------------------------------------------------------------
# bench.png
# ---------------------------------------------------------------------------------------------
SERIES_T = [("read_task", "read_task"), ("worklist_rls", "worklist (RLS)"), ("search_rls", "search_tasks (RLS)"),
            ("create_omni", "create_task"), ("status_omni", "set_task_status"), ("workload_view", "workload view"),
            ("task_counts", "task_counts view")]
SERIES_R = [("create_vs_floor", "create / floor"), ("status_vs_floor", "status / floor"),
            ("create_srv_vs_floor", "create / floor, server"), ("status_srv_vs_floor", "status / floor, server"),
            ("create_plpgsql", "PL/pgSQL / omni: create"), ("status_plpgsql", "PL/pgSQL / omni: status"),
            ("val_plpgsql", "PL/pgSQL / omni: validate"), ("worklist_rls", "worklist RLS / no RLS"),
            ("search_rls", "search RLS / admin"), ("read_vs_floor", "read_task / SELECT")]
dat = os.path.join(RES, ".bench.dat")
fns = {k: f for k, l, f, t in RATIOS}
with open(dat, "w") as fh:
    cols = (["scale"] + [k + "_tps" for k, _ in SERIES_T] + ["validate_rate"] + [k + "_p50" for k, _ in SERIES_T]
            + [k for k, _ in SERIES_R])
    fh.write("\t".join(cols) + "\n")
    for s in scales:
        row = [str(s)]
        row += [str(run(s, k)) if run(s, k) else "?" for k, _ in SERIES_T]
        row += [str(val_rate(s, "val_omnitask")) if val_rate(s, "val_omnitask") else "?"]
        row += [str(run(s, k, "p50")) if run(s, k, "p50") else "?" for k, _ in SERIES_T]
        row += [str(fns[k](s)) if fns[k](s) else "?" for k, _ in SERIES_R]
        fh.write("\t".join(row) + "\n")

nT = len(SERIES_T)
gp = []
gp.append("set terminal pngcairo size 1800,860 font 'DejaVu Sans,11' noenhanced")
gp.append(f"set output '{os.path.join(RES, 'bench.png')}'")
gp.append("set datafile separator '\\t'")
gp.append("set datafile missing '?'")
gp.append("set logscale x 10")
gp.append(f"set xrange [{min(scales) / 2 if scales else 1000}:{max(scales) * 2 if scales else 2000000}]")
gp.append("set xtics ('10k' 10000, '100k' 100000, '1M' 1000000)")
gp.append("set xlabel 'tasks in the table'")
gp.append("set grid")
gp.append("set key below left Left reverse vertical maxrows 4 samplen 2 spacing 1.1 font ',11'")
gp.append("set multiplot layout 1,3 margins 0.05,0.985,0.25,0.91 spacing 0.065,0 title 'omnitask benchmark: "
          f"{machine.get('nproc', '?')} cores, PostgreSQL {machine.get('pg', '?').split(' ')[0]}, {machine.get('date', '')[:10]}"
          "; lines = omnitask, ratios from the same run' font ',13'")
# 1: throughput
gp.append("set title 'throughput (ops/s, log scale)'")
gp.append("set logscale y 10")
gp.append("set format y '%.0s%c'")
plots = [f"'{dat}' using 1:{i + 2} with linespoints lw 2 pt 7 title '{l}'" for i, (k, l) in enumerate(SERIES_T)]
plots.append(f"'{dat}' using 1:{nT + 2} with linespoints lw 2 pt 5 dt 2 lc rgb 'black' title 'validate_task (Tasks/s, 1 core)'")
gp.append("plot " + ", \\\n     ".join(plots))
# 2: median latency
gp.append("set title 'median latency (ms, log scale)'")
gp.append("set format y '%g'")
plots = [f"'{dat}' using 1:{nT + 3 + i} with linespoints lw 2 pt 7 notitle" for i, (k, l) in enumerate(SERIES_T)]
plots.append("NaN with lines lc rgb 'white' title '(same lines as on the left)'")
gp.append("plot " + ", \\\n     ".join(plots))
# 3: ratios
gp.append("set title 'ratios (time per op; log scale)'")
gp.append("set key maxrows 7 font ',10'")
gp.append("set yrange [0.5:*]")
base = 2 * nT + 3
COLORS = ["#9400d3", "#009e73", "#56b4e9", "#e69f00", "#c8b400", "#0072b2", "#e51e10", "#000000", "#ff69b4", "#8b4513"]
plots = [f"'{dat}' using 1:{base + i} with linespoints lw 2 pt {7 if i < 4 else 5 if i < 7 else 9} "
         f"lc rgb '{COLORS[i % len(COLORS)]}' title '{l}'" for i, (k, l) in enumerate(SERIES_R)]
plots.append("1.3 with lines lc rgb 'gray40' dt 3 lw 2 title 'target 1.3x'")
plots.append("1.1 with lines lc rgb 'gray60' dt 2 lw 2 title 'target 1.1x'")
plots.append("10 with lines lc rgb 'gray20' dt 4 lw 1 title 'target 10x'")
gp.append("plot " + ", \\\n     ".join(plots))
gp.append("unset multiplot")
gpfile = os.path.join(RES, ".bench.gp")
open(gpfile, "w").write("\n".join(gp) + "\n")
if scales:
    rc = subprocess.run(["gnuplot", gpfile], capture_output=True, text=True)
    if rc.returncode != 0:
        print("gnuplot failed:", rc.stderr, file=sys.stderr)

print("\n".join(L[L.index("## Targets"):L.index("## Memory: the largest Task")]))
print(f"wrote {RES}/results-*.csv, summary.md, bench.png")
