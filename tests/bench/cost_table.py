#!/usr/bin/env python3
"""The cost table from the JSON the benches wrote (bench_sched.json,
bench_scale.json, bench_serve.json, bench_http.json, bench_lifecycle.json in DIR, the BENCH_OUT of `make bench`),
as Markdown: printed, and with --readme FILE put into FILE between the
lines "<!-- cost-table:begin -->" and "<!-- cost-table:end -->" together
with the machine it ran on.

    python3 tests/bench/cost_table.py build [--readme README.md]
"""
import json
import os
import platform
import sys

BEGIN = "<!-- cost-table:begin -->"
END = "<!-- cost-table:end -->"


def load(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def slower(ratio):
    """A rate ratio as the slowdown it is (or the noise that read as a speed-up)."""
    d = (1 - ratio) * 100
    return f"{d:.1f} % slower" if d >= 0 else f"{-d:.1f} % faster: noise"


def n(v, digits=1):
    return f"{v:,.{digits}f}"


def sched_rows(s):
    rows = []
    if not s:
        return [("hot path (bench_sched)", "not run", "")]
    w = s["workloads"]
    for wl, label in (("pingpong", "pinned pipe ping-pong"), ("mixed", "mixed load"),
                      ("spread", "one cgroup switching on every CPU")):
        if "cgstat" not in w.get(wl, {}).get("modes", {}):
            continue  # not run (BENCH_ONLY=<another workload>)
        c = w[wl]["modes"]["cgstat"]
        ld = w[wl]["modes"].get("loads")
        floor = (f"; a program that only loads what cgstat reads: {ld['switch_over_empty']:.2f}"
                 if ld else "")
        rows.append((f"`sched_switch` ns/event ÷ an empty `tp_btf/sched_switch`, {label}",
                     f"{c['switch_over_empty']:.2f} ({n(c['switch_ns'])} ÷ {n(c['empty_ns'])} ns)"
                     + floor, "≤ 2.0"))
    for wl, label in (("pingpong", "ping-pong"), ("mixed", "mixed load"),
                      ("spread", "one cgroup on every CPU")):
        if "cgstat" not in w.get(wl, {}).get("modes", {}):
            continue
        m = w[wl]["modes"]
        c = m["cgstat"]
        parts = [f"cgstat {n(c['ns_per_switch'])} ns"]
        for mode in ("runqlat", "runqlat-c"):
            if mode in m:
                r = m[mode]
                parts.append(f"`{mode.replace('-c', ' -c')}` {n(r['ns_per_switch'])} ns "
                             f"({r['over_cgstat']:.1f}×)")
        rows.append((f"BPF time per switch, all programs (runqlat: switch + wakeup), {label}",
                     "; ".join(parts) if len(parts) > 1 else parts[0] + " (runqlat skipped: "
                     + s.get("runqlat_skipped", "?") + ")",
                     "runqlat ≥ 4× cgstat"))
    for wl, label in (("pingpong", "ping-pong round trips/s"), ("mixed", "mixed load rounds/s")):
        c = w.get(wl, {}).get("modes", {}).get("cgstat")
        if not c:
            continue
        e = w[wl].get("empty_rate_ratio")
        floor = f"; an empty `sched_switch` program alone {e:.3f} ({slower(e)})" if e else ""
        ld = w[wl]["modes"].get("loads")
        if ld:
            floor += f"; the loads-only program alone {ld['rate_ratio']:.3f} ({slower(ld['rate_ratio'])})"
        rows.append((f"{label}, cgstat attached ÷ nothing attached",
                     f"{c['rate_ratio']:.3f} ({slower(c['rate_ratio'])}){floor}",
                     "≥ 0.97" if wl == "pingpong" else ""))
    return rows


def snapshot_rows(b):
    """bench_bpf: loader_snapshot in process beside cpu.stat reads, warm and after an idle TTL."""
    if not b:
        return []
    parts = []
    for z in b["snapshot"]:
        warm = z["cpustat_ms"] / z["snapshot_ms"] if z["snapshot_ms"] else 0
        cold = z["cold_cpustat_ms"] / z["cold_snapshot_ms"] if z["cold_snapshot_ms"] else 0
        parts.append(f"{z['cgroups']:,}: {n(z['snapshot_ms'] * 1e3)} µs ({warm:.0f}×), after "
                     f"idle {n(z['cold_snapshot_ms'] * 1e3)} µs ({cold:.0f}×)")
    return [(f"the snapshot alone (`loader_snapshot`, whole tree) and cpu.stat ÷ it, back to "
             f"back and both after {b['cold_idle_ms']} ms idle", "; ".join(parts),
             "cpu.stat ÷ fill ≥ 50×")]


def scale_rows(s):
    if not s:
        return [("snapshots and memory (bench_scale)", "not run", "")]
    rows = []
    for z in s["sizes"]:
        if "fill_cpu_ns" in z:
            got = (f"{n(z['scan_ns'], 0)} · {n(z['cpustat_ns'], 0)} · {n(z['fill_cpu_ns'], 0)} ns "
                   f"of the daemon's CPU ({n(z['fill_ns'], 0)} ns wall) (cpu.stat ÷ fill "
                   f"{z['cpustat_over_fill']:.1f}×, scan ÷ fill {z['scan_over_fill']:.1f}×)")
        else:
            got = (f"{n(z['scan_ns'], 0)} · {n(z['cpustat_ns'], 0)} · {n(z['fill_ns'], 0)} ns "
                   f"(cpu.stat ÷ fill {z['cpustat_over_fill']:.1f}×, scan ÷ fill "
                   f"{z['scan_over_fill']:.1f}×)")
        rows.append((f"per cgroup at {z['cgroups']:,} cgroups (the fill reads all {z['tree']:,} "
                     "of the host): /proc scan · cpu.stat · cgstat fill", got,
                     "cpu.stat ÷ fill ≥ 50×" + ("; fill ≤ 250 ns" if z["cgroups"] >= 10000 else "")))
    if "fill_cpu_slope_ns" in s:
        rows.append(("fill, each cgroup added from 1,000 to 10,000 (linear when close to the "
                     "per-cgroup figure)", f"{n(s['fill_cpu_slope_ns'], 0)} ns of CPU "
                     f"({n(s['fill_slope_ns'], 0)} ns wall)", "≤ 250 ns"))
    elif "fill_slope_ns" in s:
        rows.append(("fill, each cgroup added from 1,000 to 10,000 (linear when close to the "
                     "per-cgroup figure)", f"{n(s['fill_slope_ns'], 0)} ns", "≤ 250 ns"))
    for a in s["attached"]:
        got = f"{a['attached']:,} attached" + (
            f" (refused past that: {a['refused_status']})" if a["refused_status"] else "")
        rows.append((f"`/metrics` with {a['want']:,} attached",
                     f"{n(a['metrics_ms'])} ms ({n(a['metrics_cached_ms'])} ms cached), "
                     f"{a['metrics_bytes'] / 1e6:.2f} MB; {got}", ""))
    last = s["attached"][-1]
    after = (f"; {last['rss_kib_after_scrape'] / 1024:.1f} MiB after a scrape"
             if "rss_kib_after_scrape" in last else "")
    if "rss_kib_peak" in last:
        after += f", {last['rss_kib_peak'] / 1024:.1f} MiB at most"
    rows.append((f"daemon RSS and BPF map memlock, {s['cgroups']:,} cgroups",
                 f"RSS {s['rss_kib_before'] / 1024:.1f} MiB, maps {s['memlock_before'] / 2**20:.1f} MiB "
                 f"with 1 attached; RSS {last['rss_kib'] / 1024:.1f} MiB, maps "
                 f"{last['memlock'] / 2**20:.1f} MiB with {last['attached']:,} attached{after}",
                 "≤ 32 MiB at 10,000 attached"))
    rows.append(("daemon RSS per attached cgroup (and BPF map memlock per attached cgroup)",
                 " · ".join(f"{a['rss_bytes_per_attached'] / 1024:.2f} KiB"
                            + (f" ({a['memlock_bytes_per_attached'] / 1024:.2f} KiB)"
                               if "memlock_bytes_per_attached" in a else "")
                            + f" at {a['attached']:,}" for a in s["attached"]), "≤ 2 KiB"))
    return rows


def serve_rows(s):
    if not s:
        return [("requests and streams (bench_serve)", "not run", "")]
    r = s["requests"]
    rows = [("server CPU per cached `GET`: cgstatd ÷ bare evhttp, same body",
             f"{r['cpu_over_floor']:.2f}× ({r['daemon_cpu_us']:.1f} ÷ {r['floor_cpu_us']:.1f} µs)",
             "≤ 10 µs")]
    for st in s["streams"]:
        acc = "" if st["accepted"] == st["streams"] else f", {st['accepted']:,} accepted"
        rng = (f" ({st['daemon_cpu_pct_min']:.2f}-{st['daemon_cpu_pct_max']:.2f} % over the windows)"
               if "daemon_cpu_pct_min" in st else "")
        rows.append((f"{st['streams']:,} concurrent 1 s streams: daemon CPU, RSS, fills/s",
                     f"{st['daemon_cpu_pct']:.2f} % of a core{rng}, {st['rss_kib'] / 1024:.1f} MiB, "
                     f"{st['fills_per_s']:.2f}/s{acc}",
                     "≤ 0.5 %" if st["streams"] <= 1000 else "≤ 5 %"))
    return rows


def http_rows(s):
    if not s or "floors" not in s:
        return [("cached `GET` latency ÷ a raw unix-socket round trip; daemon CPU per request",
                 "not run (bench_http)", "≤ 2.0×; ≤ 10 µs")]

    def placed(f):
        c = f["cgstatd"]
        others = [f"{label}: {f[k]['median_over_ping']:.2f}×, {f[k]['server_cpu_us']:.1f} µs"
                  for k, label in (("baseline", "CGSTATD_BASELINE"), ("evhttp", "bare evhttp"))
                  if k in f]
        return (f"{c['median_over_ping']:.2f}× ({c['median_us']:.1f} ÷ {f['ping']['median_us']:.1f} µs "
                f"median); {c['server_cpu_us']:.1f} µs ({'; '.join(others)})")

    rows = [("cached `GET` latency ÷ a raw unix-socket round trip; daemon CPU per request "
             "(client and servers on one CPU)", placed(s["floors"]), "≤ 2.0×; ≤ 10 µs")]
    if "floors_two_cpus" in s:
        rows.append(("the same, the servers on another CPU than the client (each round trip "
                     "wakes it)", placed(s["floors_two_cpus"]), ""))
    return rows


def lifecycle_rows(s):
    if not s or "modes" not in s:
        return [("fork+exit+wait loop with cgstatd ÷ without", "not run (bench_lifecycle)", "")]
    m = s["modes"]
    rows = []
    for mode, label in (("daemon", "cgstatd running, nothing reading exits"),
                        ("events", "cgstatd with one `/v1/events` client"),
                        ("stream", "cgstatd attached to the loop's cgroup, a stream open")):
        if mode not in m:
            continue
        e = m[mode]
        p = e["progs"]
        sw = p.get("switch", {}).get("ns_per_event", 0)
        empty = p.get("switch_empty", {}).get("ns_per_event", 0)
        rows.append((f"fork+exit+wait loop, {label}: time ÷ without; programs "
                     "ns/event (fork · exit · switch ÷ empty switch); daemon CPU per exit",
                     f"{e['ratio_to_none']:.3f}; {n(p.get('fork', {}).get('ns_per_event', 0))} · "
                     f"{n(p.get('exit', {}).get('ns_per_event', 0))} · "
                     f"{sw / empty if empty else 0:.2f} ({n(sw)} ÷ {n(empty)}); "
                     f"{e['daemon_cpu_us_per_exit']:.2f} µs",
                     "≤ 1.03; ≤ 500 · ≤ 500 ns · ≤ 2.0; ≤ 5 µs"))
    if "loads" in m:
        p = m["loads"]["progs"]
        ld = p.get("loads", {}).get("ns_per_event", 0)
        empty = p.get("switch_empty", {}).get("ns_per_event", 0)
        rows.append(("fork+exit+wait loop, no cgstat: a `sched_switch` program that only loads "
                     "what cgstat's reads ÷ the empty one (the floor of the row's switch figure)",
                     f"{ld / empty if empty else 0:.2f} ({n(ld)} ÷ {n(empty)})", ""))
    x = s.get("exitsnoop_over_cgstat")
    rows.append(("libbpf-tools `exitsnoop` ÷ cgstat per exit (programs; with user space)",
                 f"{x['exit_program']:.1f}× ({n(m['exitsnoop']['progs']['exitsnoop']['ns_per_event'])} ns); "
                 f"{x['with_user_space']:.1f}×" if x and "exitsnoop" in m else
                 "not run (" + s.get("exitsnoop_skipped", "exitsnoop or tracefs missing") + ")",
                 "≥ 25×"))
    if "daemon_idle_wakeups_per_s" in s:
        rows.append(("daemon wakeups while idle, clients connected (from a second after the "
                     "last run)",
                     f"{s['daemon_idle_wakeups_per_s']:.2f}/s "
                     f"({s.get('daemon_wakeups_after_end', 0)} in the second the cgroup ended"
                     + (f"; {s['host_forks_while_idle']} processes started on the host meanwhile"
                        if "host_forks_while_idle" in s else "") + ")",
                     "0/s"))
    return rows


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"Linux {platform.release()}, {os.cpu_count()} CPUs, {model}"


def table(d):
    rows = sched_rows(load(d, "bench_sched.json")) + scale_rows(load(d, "bench_scale.json")) \
        + snapshot_rows(load(d, "bench_bpf.json")) \
        + serve_rows(load(d, "bench_serve.json")) + http_rows(load(d, "bench_http.json")) \
        + lifecycle_rows(load(d, "bench_lifecycle.json"))
    out = ["| figure | measured | target |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    readme = None
    if "--readme" in args:
        i = args.index("--readme")
        readme = args[i + 1]
        del args[i:i + 2]
    d = args[0] if args else "build"
    t = table(d)
    print(t)
    if readme:
        with open(readme) as f:
            text = f.read()
        if BEGIN not in text or END not in text:
            sys.exit(f"{readme}: no {BEGIN} ... {END} block")
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        block = f"{BEGIN}\nMeasured on: {machine()}.\n\n{t}\n{END}"
        with open(readme, "w") as f:
            f.write(head + block + tail)


if __name__ == "__main__":
    main()
