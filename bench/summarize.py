#!/usr/bin/env python3
"""Turns the raw results of bench/run-suite.sh into the table of ratios against the targets of
docs/performance.md and a JSON summary (medians over repeated runs of the same measurement).

usage: bench/summarize.py RESULTS_JSONL OUT_JSON
"""
import json
import platform
import statistics
import sys
import time


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def load(path):
    runs = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def phases(runs, scenario, label, name):
    """Every phase called `name` of the runs of (scenario, label)."""
    return [phase for run in runs if run.get("scenario") == scenario and run.get("label") == label
            for phase in run.get("phases", []) if phase.get("name") == name]


def figure(found, key, sub=None):
    values = []
    for phase in found:
        value = phase.get(sub, {}).get(key) if sub else phase.get(key)
        values.append(value)
    return median(values)


def thread_shares(found):
    """The median share of the server's CPU each thread name had in the phases, largest first
    (names under half a percent left out)."""
    shares = {}
    for phase in found:
        split = phase.get("server_thread_cpu_seconds") or {}
        total = sum(split.values())
        if total <= 0:
            continue
        for name, seconds in split.items():
            shares.setdefault(name, []).append(seconds / total)
    medians = {name: median(values) for name, values in shares.items()}
    return dict(sorted(((name, share) for name, share in medians.items() if share >= 0.005),
                       key=lambda item: -item[1]))


def shares_text(shares):
    return " ".join(f"{name} {share * 100:.0f}%" for name, share in shares.items()) or "n/a"


def baseline(runs, label):
    return median([run.get("mib_per_second") for run in runs
                   if run.get("scenario") == "baseline" and run.get("label") == label])


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def pairwise(found, references, key="operations_per_server_cpu_second"):
    """Each run's ratio against the reference measured just before it (the k-th phase of each,
    in the order they ran)."""
    return [ratio(run.get(key), reference.get(key))
            for run, reference in zip(found, references)]


def main():
    runs = load(sys.argv[1])
    peers = ["beast-stock", "beast-tuned", "wspp-tuned"]
    peer = {}
    for name in peers:
        echo = phases(runs, "echo", name, "closed loop")
        shake = phases(runs, "echo", name, "full TLS + ws handshakes")
        peer[name] = {
            "echoes_per_second": figure(echo, "rate"),
            "echoes_per_server_cpu_second": figure(echo, "operations_per_server_cpu_second"),
            "echo_p99_us": figure(echo, "p99", "latency_us"),
            "handshakes_per_server_cpu_second": figure(shake, "operations_per_server_cpu_second"),
        }
    best_peer = max((n for n in peers if peer[n]["echoes_per_server_cpu_second"]),
                    key=lambda n: peer[n]["echoes_per_server_cpu_second"], default=None)
    # The best peer's echoes measured again just before each chat run (the host's speed moves
    # within minutes); runs without them fall back to the peers' own step.
    beside_chat = phases(runs, "echo", f"{best_peer}-beside-chat", "closed loop")
    peer_beside_chat = {
        "echoes_per_second": figure(beside_chat, "rate"),
        "echoes_per_server_cpu_second": figure(beside_chat, "operations_per_server_cpu_second"),
        "runs": len(beside_chat)}
    best_echo = (peer_beside_chat["echoes_per_server_cpu_second"]
                 or (peer[best_peer]["echoes_per_server_cpu_second"] if best_peer else None))
    best_echo_rate = (peer_beside_chat["echoes_per_second"]
                      or (peer[best_peer]["echoes_per_second"] if best_peer else None))

    chat_closed = phases(runs, "chat", "tmc", "closed loop")
    chat = {"messages_per_second": figure(chat_closed, "rate"),
            "messages_per_server_cpu_second": figure(chat_closed, "operations_per_server_cpu_second"),
            "closed_loop_p99_us": figure(chat_closed, "p99", "latency_us")}
    for percent in (25, 50, 75, 90):
        found = phases(runs, "chat", "tmc", f"open {percent}% of max")
        chat[f"open_{percent}"] = {key: figure(found, key, "latency_us")
                                   for key in ("p50", "p99", "p99_9", "max")}
        chat[f"open_{percent}"]["rate"] = figure(found, "rate")
    chat["thread_shares"] = {
        "closed_loop": thread_shares(chat_closed),
        "open_50": thread_shares(phases(runs, "chat", "tmc", "open 50% of max"))}
    # The closed loop with the smallest and largest messages of the 64 B - 1 KiB range.
    chat["by_message_bytes"] = {}
    for size in (64, 256, 1024):
        found = phases(runs, "chat", "tmc" if size == 256 else f"tmc-{size}b", "closed loop")
        chat["by_message_bytes"][str(size)] = {
            "messages_per_server_cpu_second": figure(found, "operations_per_server_cpu_second"),
            "messages_per_second": figure(found, "rate")}

    full = phases(runs, "connections", "tmc", "full TLS + ws + resume")
    idle = phases(runs, "connections", "tmc", "idle sessions held")
    resumed = phases(runs, "connections", "tmc", "resumed TLS + ws + resume")
    sessions = {"full_per_server_cpu_second": figure(full, "operations_per_server_cpu_second"),
                "full_per_second": figure(full, "rate"),
                "resumed_per_server_cpu_second": figure(resumed, "operations_per_server_cpu_second"),
                "tls_sessions_resumed": figure(resumed, "tls_sessions_resumed"),
                "idle_sessions": figure(idle, "sessions_open"),
                "idle_server_cpu_percent": figure(idle, "server_cpu_percent"),
                "rss_kib_per_session": figure(idle, "server_rss_kib_per_session"),
                "full_thread_shares": thread_shares(full)}
    # The tuned Beast example's handshakes measured just before each sessions run (the host's
    # speed moves within minutes); runs without them fall back to the peers' own step.
    beside = phases(runs, "echo", "beast-tuned-beside-sessions", "full TLS + ws handshakes")
    sessions["beast_tuned_handshakes_per_server_cpu_second_beside"] = figure(
        beside, "operations_per_server_cpu_second")
    sessions["ratios_run_by_run"] = pairwise(full, beside)
    chat["ratios_run_by_run"] = pairwise(chat_closed, beside_chat)

    single = [p for run in runs if run.get("scenario") == "upload" and run.get("label") == "tmc-single"
              for p in run.get("phases", [])]
    # 1, 4 and 16 concurrent 64 MiB files with 256 KiB and 1 MiB chunks.
    matrix = {}
    for chunk_kib in (256, 1024):
        for uploads in (1, 4, 16):
            found = phases(runs, "upload", f"tmc-64mib-{chunk_kib}k", f"{uploads} x 64 MiB")
            matrix[f"{uploads}x64MiB_{chunk_kib}KiB"] = {
                "mib_per_second": figure(found, "mib_per_second"),
                "server_cpu_seconds_per_mib": figure(found, "server_cpu_seconds_per_mib")}
    upload = {"single_mib_per_second": figure(single, "mib_per_second"),
              "single_server_cpu_seconds_per_mib": figure(single, "server_cpu_seconds_per_mib"),
              "single_thread_shares": thread_shares(single),
              "concurrent_mib_per_second": matrix["4x64MiB_1024KiB"]["mib_per_second"],
              "by_files_and_chunk": matrix}
    # Chat beside uploads counts only where the uploads outlasted the chat's measurement: the
    # k-th chat run with the k-th upload run beside it, which began a second before the chat
    # (conservatively: the upload phase's clock starts after its set-up, so it ends later still).
    beside_chats = [run for run in runs if run.get("scenario") == "chat"
                    and run.get("label") == "tmc-beside-uploads"]
    beside_uploads = [run for run in runs if run.get("scenario") == "upload"
                      and run.get("label") == "tmc-beside-chat"]
    beside_all, beside, beside_overlapping = [], [], 0
    for index, run in enumerate(beside_chats):
        settings = run.get("settings", {})
        needed = 1.0 + float(settings.get("warmup_seconds", 0)) + float(
            settings.get("duration_seconds", 0))
        upload_phases = (beside_uploads[index].get("phases", [])
                         if index < len(beside_uploads) else [])
        beside_all += run.get("phases", [])
        if upload_phases and upload_phases[0].get("seconds", 0) >= needed:
            beside += run.get("phases", [])
            beside_overlapping += 1
    beside = beside or beside_all
    chat["beside_uploads"] = {key: figure(beside, key, "latency_us") for key in ("p50", "p99", "max")}
    chat["beside_uploads"]["rate"] = figure(beside, "rate")
    chat["beside_uploads"]["runs"] = len(beside_chats)
    chat["beside_uploads"]["runs_with_uploads_throughout"] = beside_overlapping
    fanout = {}
    for size in (2, 10, 50):
        found = phases(runs, "fanout", "tmc", f"{size} participants, closed loop")
        fanout[str(size)] = {
            "messages_per_second": figure(found, "rate"),
            "deliveries_per_second": figure(found, "deliveries_per_second"),
            "deliveries_per_server_cpu_second": figure(found, "deliveries_per_server_cpu_second"),
            "last_recipient_p50_us": figure(found, "p50", "latency_us"),
            "last_recipient_p99_us": figure(found, "p99", "latency_us"),
        }
    slow_all = [p for run in runs if run.get("scenario") == "slow-consumer"
                and run.get("label") == "tmc" for p in run.get("phases", [])]
    # A run whose session to stall was closed before it stopped reading (the server's queue
    # limit caught its client falling behind during the load) measures no stall: its socket was
    # never seen established with data queued. The figures come from the runs that stalled.
    slow = [p for p in slow_all if (p.get("server_kernel_send_queue_peak_kib") or 0) > 0]
    slow = slow or slow_all
    slow_consumer = {key: figure(slow, key) for key in (
        "stalled_sessions", "rss_start_kib", "rss_middle_kib", "rss_end_kib", "rss_peak_kib",
        "rss_growth_kib", "rss_queue_bound_kib", "rss_growth_over_queue_bound",
        "offered_kib_per_stalled_session", "server_kernel_send_queue_peak_kib",
        "stalled_dropped_by_server_while_stalled", "stalled_dropped_after_seconds",
        "stalled_closed_1013", "stalled_dropped_without_close_frame", "stalled_still_open")}
    slow_consumer["others_messages_per_second"] = figure(slow, "rate")
    slow_consumer["others_p99_us"] = figure(slow, "p99", "latency_us")
    slow_consumer["others_errors"] = figure(slow, "errors")
    slow_consumer["runs"] = len(slow_all)
    slow_consumer["runs_closed_before_the_stall"] = len(slow_all) - len(
        [p for p in slow_all if (p.get("server_kernel_send_queue_peak_kib") or 0) > 0])

    disk = baseline(runs, "disk")
    disk_sync = {key: figure(phases(runs, "disk-sync", "disk", "append + fdatasync"), key,
                             "latency_us") for key in ("p50", "p99", "p99_9")}
    aes = baseline(runs, "aes-256-gcm")
    sha = baseline(runs, "sha256")
    crypto_floor = (1 / aes + 1 / sha) if aes and sha else None  # CPU s per MiB: encrypt + hash

    beast_shakes = (sessions["beast_tuned_handshakes_per_server_cpu_second_beside"]
                    or peer["beast-tuned"]["handshakes_per_server_cpu_second"])
    p50 = chat["open_50"]
    rows = [
        ("chat msgs per server CPU-s / best peer echoes per server CPU-s",
         chat["messages_per_server_cpu_second"], best_echo,
         ratio(chat["messages_per_server_cpu_second"], best_echo), ">= 1.0", 1.0, True),
        ("chat msgs/s / best peer echoes/s (informational)", chat["messages_per_second"],
         best_echo_rate, ratio(chat["messages_per_second"], best_echo_rate), "-", None, True),
        ("chat p99 at 50% of max (ms)", ms(p50["p99"]), 2.0, ratio(ms(p50["p99"]), 2.0),
         "<= 2 ms", 1.0, False),
        ("chat p99.9 at 50% of max (ms)", ms(p50["p99_9"]), 10.0,
         ratio(ms(p50["p99_9"]), 10.0), "<= 10 ms", 1.0, False),
        ("chat p99 at 50% of max / disk append + fdatasync p99 (ms, informational)",
         ms(p50["p99"]), ms(disk_sync["p99"]), ratio(p50["p99"], disk_sync["p99"]), "-", None,
         False),
        ("server RSS per idle session (KiB)", sessions["rss_kib_per_session"], 32.0,
         ratio(sessions["rss_kib_per_session"], 32.0), "<= 32 KiB", 1.0, False),
        ("server CPU while holding the idle sessions (% of a core, informational)",
         sessions["idle_server_cpu_percent"], None, None, "-", None, False),
        ("new sessions per server CPU-s / tuned Beast handshakes per server CPU-s",
         sessions["full_per_server_cpu_second"], beast_shakes,
         ratio(sessions["full_per_server_cpu_second"], beast_shakes), ">= 1.0", 1.0, True),
        ("upload MiB/s (1 file) / disk baseline MiB/s", upload["single_mib_per_second"], disk,
         ratio(upload["single_mib_per_second"], disk), ">= 0.75", 0.75, True),
        ("upload server CPU per MiB / AES-GCM + SHA-256 floor", upload["single_server_cpu_seconds_per_mib"],
         crypto_floor, ratio(upload["single_server_cpu_seconds_per_mib"], crypto_floor), "-", None, True),
        ("chat p99 at 50% of max while 4 uploads run (ms)", ms(chat["beside_uploads"]["p99"]), 5.0,
         ratio(ms(chat["beside_uploads"]["p99"]), 5.0), "<= 5 ms", 1.0, False),
        ("slow consumers: server RSS growth while stalled / their queue limits (KiB)",
         slow_consumer["rss_growth_kib"], slow_consumer["rss_queue_bound_kib"],
         slow_consumer["rss_growth_over_queue_bound"], "<= 1.0", 1.0, False),
        ("fanout 50: deliveries per server CPU-s / chat msgs per server CPU-s",
         fanout["50"]["deliveries_per_server_cpu_second"], chat["messages_per_server_cpu_second"],
         ratio(fanout["50"]["deliveries_per_server_cpu_second"],
               chat["messages_per_server_cpu_second"]), "-", None, True),
        ("fanout 50: p99 to the last recipient (ms)", ms(fanout["50"]["last_recipient_p99_us"]),
         None, None, "-", None, False),
    ]

    print()
    print(f"{'figure':<72} {'tmc':>10} {'reference':>10} {'ratio':>7}  target      met")
    table = []
    for name, value, reference, r, target, threshold, higher_is_better in rows:
        met = None
        if r is not None and threshold is not None:
            met = r >= threshold if higher_is_better else r <= threshold
        print(f"{name:<72} {fmt(value):>10} {fmt(reference):>10} {fmt(r, 2):>7}  {target:<11} "
              f"{'-' if met is None else ('yes' if met else 'NO')}")
        table.append({"figure": name, "tmc": value, "reference": reference, "ratio": r,
                      "target": target, "met": met})
    print()
    print("peers: " + ", ".join(
        f"{n} {fmt(peer[n]['echoes_per_server_cpu_second'])} echoes/CPU-s, "
        f"{fmt(peer[n]['handshakes_per_server_cpu_second'])} handshakes/CPU-s" for n in peers))
    print(f"{best_peer} echoes per server CPU-s just before each chat run: "
          f"{fmt(peer_beside_chat['echoes_per_server_cpu_second'])} "
          "(the chat ratio's reference; the peers' step above when missing); run by run: "
          + (" / ".join(fmt(r, 3) for r in chat["ratios_run_by_run"]) or "n/a"))
    print("tuned Beast handshakes per server CPU-s just before each new-sessions run: "
          f"{fmt(sessions['beast_tuned_handshakes_per_server_cpu_second_beside'])} "
          "(the new-sessions ratio's reference; the peers' step above when missing); run by run: "
          + (" / ".join(fmt(r, 2) for r in sessions["ratios_run_by_run"]) or "n/a"))
    print(f"chat open loop p99 (ms) at 25/50/75/90%: " + " / ".join(
        fmt(ms(chat[f'open_{p}']['p99']), 2) for p in (25, 50, 75, 90)))
    print("chat closed loop, msgs per server CPU-s with 64 / 256 / 1024 B messages: " + " / ".join(
        fmt(chat["by_message_bytes"][n]["messages_per_server_cpu_second"])
        for n in ("64", "256", "1024")))
    print("uploads of 64 MiB files, MiB/s (server CPU ms per MiB), 1 / 4 / 16 at once: " + "; ".join(
        f"{chunk} KiB chunks " + " / ".join(
            f"{fmt(matrix[f'{n}x64MiB_{chunk}KiB']['mib_per_second'])} "
            f"({fmt(seconds_to_ms(matrix[f'{n}x64MiB_{chunk}KiB']['server_cpu_seconds_per_mib']), 2)})"
            for n in (1, 4, 16)) for chunk in (256, 1024)))
    print("fanout deliveries per server CPU-s at 2/10/50 participants: " + " / ".join(
        fmt(fanout[n]["deliveries_per_server_cpu_second"]) for n in ("2", "10", "50")) +
          "; p99 to the last recipient (ms): " + " / ".join(
        fmt(ms(fanout[n]["last_recipient_p99_us"]), 1) for n in ("2", "10", "50")))
    print(f"slow consumers: RSS start/middle/end {fmt(slow_consumer['rss_start_kib'])}/"
          f"{fmt(slow_consumer['rss_middle_kib'])}/{fmt(slow_consumer['rss_end_kib'])} KiB; "
          f"dropped by the server while stalled {fmt(slow_consumer['stalled_dropped_by_server_while_stalled'])} "
          f"of {fmt(slow_consumer['stalled_sessions'])} after {fmt(slow_consumer['stalled_dropped_after_seconds'], 1)} s; "
          f"others' p99 {fmt(ms(slow_consumer['others_p99_us']), 1)} ms; "
          f"runs whose session was closed before its stall (not counted): "
          f"{slow_consumer['runs_closed_before_the_stall']} of {slow_consumer['runs']}")
    print("server CPU by thread (median shares): chat closed loop "
          f"{shares_text(chat['thread_shares']['closed_loop'])}; chat at 50% of max "
          f"{shares_text(chat['thread_shares']['open_50'])}; new sessions "
          f"{shares_text(sessions['full_thread_shares'])}; one upload "
          f"{shares_text(upload['single_thread_shares'])}")
    print(f"chat beside uploads: runs in which the uploads lasted throughout the chat's "
          f"measurement: {chat['beside_uploads']['runs_with_uploads_throughout']} of "
          f"{chat['beside_uploads']['runs']} (the figure is theirs when there are any)")
    print(f"baselines: disk {fmt(disk)} MiB/s, AES-256-GCM {fmt(aes)} MiB/s, SHA-256 {fmt(sha)} MiB/s; "
          f"disk append + fdatasync p50 / p99 / p99.9 {fmt(ms(disk_sync['p50']), 2)} / "
          f"{fmt(ms(disk_sync['p99']), 2)} / {fmt(ms(disk_sync['p99_9']), 2)} ms")

    summary = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"node": platform.node(), "processor": platform.processor() or platform.machine()},
        "runs_per_measurement": max(1, len(chat_closed)),
        "baselines": {"disk_mib_per_second": disk, "aes_256_gcm_mib_per_second": aes,
                      "sha256_mib_per_second": sha, "disk_sync_latency_us": disk_sync},
        "peers": peer, "best_peer": best_peer, "best_peer_beside_chat": peer_beside_chat,
        "chat": chat, "sessions": sessions,
        "upload": upload, "fanout": fanout, "slow_consumer": slow_consumer, "table": table,
    }
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        json.dump(summary, out, indent=2, sort_keys=True)
        out.write("\n")


def seconds_to_ms(seconds):
    return seconds * 1000.0 if seconds is not None else None


def ms(us):
    return us / 1000.0 if us is not None else None


def fmt(value, digits=None):
    if value is None:
        return "n/a"
    if digits is not None:
        return f"{value:.{digits}f}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


if __name__ == "__main__":
    main()
