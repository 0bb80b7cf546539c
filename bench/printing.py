"""The printed report of one run: a table per kind of load, then memory, profile, targets."""

from __future__ import annotations

from typing import Any


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _cores(point: dict[str, Any]) -> str:
    keys = ("server_cores", "database_cores", "client_cores", "other_cores")
    return " ".join(f"{point.get(k, 0.0):.2f}" for k in keys)


CORES = "cores: server db client other"


def _row(cells: list[str], widths: list[int]) -> str:
    return "  " + " ".join(
        c.ljust(w) if i < 2 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(_row(header, widths))
    for row in rows:
        print(_row(row, widths))


def _errors(document: dict[str, Any]) -> list[str]:
    lines = []
    for kind in ("unary", "peer"):
        for length, points in document[kind].items():
            if not isinstance(points, dict):
                continue
            for name, point in points.items():
                if point.get("errors"):
                    checks = point.get("status_checks")
                    lines.append(
                        f"ERRORS in {kind}.{length}.{name}: {point['errors']} "
                        f"(h2load failed {point['failed']}, of which errored {point['errored']}, "
                        f"non-2xx {point['non_2xx']}, rows stored {point['rows_stored']} "
                        f"for {point['succeeded']} answered, status checks {checks})"
                    )
    for kind in ("stream", "batch"):
        for workload, lengths in document[kind].items():
            for length, run in lengths.items():
                if run.get("timed_out"):
                    lines.append(
                        f"INCOMPLETE {kind}.{workload}.{length}: {run['completed']:,} of "
                        f"{run['texts']:,} texts done in {run['seconds']:.0f} s (the time limit); "
                        "the rate is that of the work done"
                    )
                if run.get("errors"):
                    detail = (
                        run.get("error_kinds") or run.get("cancel_errors") or run.get("statuses")
                    )
                    lines.append(
                        f"ERRORS in {kind}.{workload}.{length}: {run['errors']} ({detail}; "
                        f"stored {run['stored']})"
                    )
    return lines


def print_run(document: dict[str, Any], ceilings: dict[str, Any]) -> None:
    m, server = document["machine"], document["server"]
    load = " ".join(f"{x:.2f}" for x in m["load_average_start"])
    end = " ".join(f"{x:.2f}" for x in m["load_average_end"])
    print(f"\n== TextLens benchmark ({document['mode']}): {m['cores']} cores ({m['cpu']}), "
          f"PostgreSQL {m['postgresql']}, load average {load} at start, {end} at end")  # fmt: skip
    busy = m.get("cpu_busy_percent_before_start", 0.0)
    if busy > 10:
        print(f"   warning: the machine was {busy:.0f}% busy before the run began: noisy figures")
    if server:
        print(
            f"   server: TEXTLENS_WORKERS={server['workers_configured']}, "
            f"{server['processes_listening']} process(es) listening, "
            f"{server['processes']} in its tree; auth {'on' if server['auth'] else 'off'}"
        )
    for note in document["notes"]:
        print(f"   note: {note}")

    rows = [
        [k, "", _n(c.texts_per_second), " + ".join(_n(r) for r in c.per_process),
         _n(c.processes / c.texts_per_second * 1e6)]
        for k, c in ceilings.items()
    ]  # fmt: skip
    _table(
        "ceiling: SentimentAnalyzer in-process on every core (spawn), no gRPC, no storage",
        ["text", "", "texts/s", "per process", "CPU us/text"],
        rows,
    )
    for kind, title in (
        ("unary", "cached: one text repeated, so the result cache serves it"),
        ("unary_uncached", "uncached (TEXTLENS_RESULT_CACHE_SIZE=0), beside the peer"),
    ):
        rows = [
            [length, name[1:], _n(p["requests_per_second"]), _n(p["ratio_to_ceiling"], 2),
             _n(p.get("ratio_to_peer"), 2), _n(p["p50_ms"], 1), _n(p["p99_ms"], 1),
             str(p["errors"]), f"{p['connections']}x{p['streams_per_connection']}",
             _n(p["server_cpu_us_per_text"]), _cores(p)]
            for length, points in document.get(kind, {}).items()
            for name, p in points.items()
        ]  # fmt: skip
        if rows:
            _table(
                f"unary CreateAnalysis, stored, {title} (h2load; connections x streams each)",
                ["text", "conc", "req/s", "x ceiling", "x peer", "p50 ms", "p99 ms", "errors",
                 "c x m", "CPU us/text", CORES],
                rows,
            )  # fmt: skip
    overhead = document.get("overhead", {})
    echo = overhead.get("echo", {}).get("server_cpu_us_per_call")
    rows = [
        [what, _n(p.get("requests_per_second")), _n(p.get("p99_ms"), 1),
         _n(p["server_cpu_us_per_call"]), _n(p["server_cpu_us_per_call"] / echo, 2) if echo
         else "-"]
        for what, p in (
            ("bare grpc.aio echo", overhead.get("echo")),
            ("Health/Check, all interceptors", overhead.get("health_check")),
            ("CreateAnalysis, cached", _cached_c16(document)),
        )
        if p
    ]  # fmt: skip
    if rows:
        _table(
            "server CPU per call at c16 (h2load): the framework's own cost, and TextLens's",
            ["call", "req/s", "p99 ms", "CPU us/call", "x echo"],
            rows,
        )
    rows = [
        [workload, length, _n(r["texts_per_second"]), _n(r["ratio_to_ceiling"], 2),
         _n(r["stored"]), str(r["errors"]), _n(r["server_cpu_us_per_text"]), _cores(r)]
        for workload, lengths in document["stream"].items()
        for length, r in lengths.items()
    ]  # fmt: skip
    if rows:
        _table(
            "AnalyzeStream, stored (concurrent streams, 100 texts a message)",
            ["workload", "text", "texts/s", "x ceiling", "stored", "errors", "CPU us/text",
             CORES],
            rows,
        )  # fmt: skip
    rows = [
        [workload, length, _n(r["texts"]), str(r["batches"]), _n(r["submit_seconds"], 1),
         _n(r["seconds"], 1) + ("*" if r["timed_out"] else ""),
         _n(r["texts_per_second"]), _n(r["ratio_to_ceiling"], 2), str(r["errors"]),
         _n(r["server_cpu_us_per_text"]), _cores(r)]
        for workload, lengths in document["batch"].items()
        for length, r in lengths.items()
    ]  # fmt: skip
    if rows:
        _table(
            "CreateBatch, until every batch is COMPLETED (WatchBatch; * out of time)",
            ["workload", "text", "texts", "batches", "submit s", "seconds", "texts/s",
             "x ceiling", "errors", "CPU us/text", CORES],
            rows,
        )  # fmt: skip
    rows = [
        [length, name[1:], _n(p["requests_per_second"]), _n(p["ratio_to_ceiling"], 2),
         _n(p["p50_ms"], 1), _n(p["p99_ms"], 1), str(p["errors"]), _n(p["server_cpu_us_per_text"]),
         _cores(p)]
        for length, points in document["peer"].items()
        if isinstance(points, dict)
        for name, p in points.items()
    ]  # fmt: skip
    if rows:
        _table(
            f"FastAPI peer: uvicorn --workers {document['peer']['workers']}, SQLAlchemy async "
            "ORM, one session per request (h2load --h1)",
            ["text", "conc", "req/s", "x ceiling", "p50 ms", "p99 ms", "errors", "CPU us/text",
             CORES],
            rows,
        )  # fmt: skip

    memory, processes = document["memory"], server.get("processes", "?")
    print(f"\nmemory, peak over the run: server {_n(memory.get('server_peak_pss_mb'))} MB PSS, "
          f"{_n(memory.get('server_peak_rss_mb'))} MB RSS summed over its {processes} processes;"
          f" FastAPI peer {_n(memory.get('peer_peak_pss_mb'))} MB PSS, "
          f"{_n(memory.get('peer_peak_rss_mb'))} MB RSS")  # fmt: skip
    phases = memory.get("server_phase_peaks_mb", {})
    if phases:
        print("  server by phase (PSS/RSS MB): " + ", ".join(
            f"{k} {v['pss']:.0f}/{v['rss']:.0f}" for k, v in phases.items()))  # fmt: skip
    profile = document.get("profile")
    if profile and profile.get("samples"):
        print(f"\nprofile of the server (py-spy, unary short, {profile['samples']} samples): "
              f"{profile['file']}")  # fmt: skip
        for name, share in profile["buckets"].items():
            print(f"  {share:6.1%}  {name}")
        print("  innermost functions:")
        for name, share in list(profile["top_functions"].items())[:10]:
            print(f"  {share:6.1%}  {name}")
    print("\ntargets:")
    for target in document["targets"]:
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[target["met"]]
        print(f"  [{mark}] {target['target']}: {target['value']}")
    for line in _errors(document):
        print(line)
    for failure in document.get("failures", []):
        print(f"FAILED phase {failure}")


def _cached_c16(document: dict[str, Any]) -> dict[str, Any] | None:
    point = document.get("unary", {}).get("short", {}).get("c16")
    if not point:
        return None
    return {**point, "server_cpu_us_per_call": point["server_cpu_us_per_text"]}
