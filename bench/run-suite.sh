#!/usr/bin/env bash
# The standard benchmark suite behind `./tmc bench`: disk and crypto baselines, the peers' echo,
# then tmc's scenarios, with the server under test pinned to one core and the load generator to
# the other. Raw results go to OUT_DIR/results.jsonl; bench/summarize.py turns them into the
# table of ratios and bench/results/latest.json.
#
# usage: bench/run-suite.sh BUILD_DIR PEERS_DIR OUT_DIR
# Environment (defaults in brackets): TMC_BENCH_REPEAT [1] runs of every measurement (the
# summary takes medians), TMC_BENCH_DURATION [4] seconds per measured phase, TMC_BENCH_PAIRS
# [50], TMC_BENCH_SESSIONS [20000] idle sessions, TMC_BENCH_UPLOAD_MIB [1024] single upload,
# TMC_BENCH_SLOW_SESSIONS [100] chat sessions of the slow-consumer run (1% of them stall).
set -euo pipefail

build_dir="$1"
peers_dir="$2"
out_dir="$3"
repeat="${TMC_BENCH_REPEAT:-1}"
duration="${TMC_BENCH_DURATION:-4}"
pairs="${TMC_BENCH_PAIRS:-50}"
sessions="${TMC_BENCH_SESSIONS:-20000}"
upload_mib="${TMC_BENCH_UPLOAD_MIB:-1024}"
slow_sessions="${TMC_BENCH_SLOW_SESSIONS:-100}"
# slow-consumer: a queue limit and 4 KiB messages that fill a stalled session's kernel buffers
# and outbound queue within a second; the stall outlasts that plus the server's 5 s close
# timeout, so the server's drop is seen while the client is still stalled. The stalled session
# is in every consultation, so about half of all the events are addressed to it (some 50 MB/s
# at 2026-11-30's rates), and even while it still reads the load generator falls behind on it:
# with a 2 MiB limit (until 2026-11-29) and then 4 MiB (until 2026-11-30, 09:40) the server
# closed it with 1013 before its stall in half and then all of the runs, which measures nothing.
# 16 MiB: counted in every trial run by hand, the RSS growth 12-14 MiB.
slow_queue_bytes=$((16 * 1024 * 1024))
slow_message_bytes=4096
slow_stall_seconds=8
echo_connections=100
window=8
message_bytes=256
# chat's closed loop is also measured with the smallest and largest messages of the issue's range
other_message_bytes="64 1024"
# the server's upload chunk (and encryption segment) size, which clients must use; the upload
# step measures its default, 256 KiB, beside the 1 MiB the other steps use
upload_chunk_bytes=$((1024 * 1024))
server_core=0
load_core=1
cert=certs/out/server.crt
key=certs/out/server.key
ca=certs/out/ca.crt
bench_bin="${build_dir}/bench/tmc-bench"
results="${out_dir}/results.jsonl"

((repeat >= 1)) || { echo "TMC_BENCH_REPEAT must be at least 1" >&2; exit 2; }
[[ "$(nproc)" -ge 2 ]] || echo "run-suite: fewer than 2 cores: server and load share one" >&2
for tool in taskset openssl dd curl; do
    command -v "${tool}" >/dev/null || { echo "run-suite: ${tool} not found" >&2; exit 2; }
done
mkdir -p "${out_dir}"
: >"${results}"
work="$(mktemp -d "${out_dir}/work.XXXXXX")"
peer_pid=""
server_pid=""
cleanup() {
    for pid in "${peer_pid}" "${server_pid}"; do
        [[ -n "${pid}" ]] && kill -TERM "${pid}" 2>/dev/null && wait "${pid}" 2>/dev/null
    done
    rm -rf "${work}"
}
trap cleanup EXIT

# Idle sessions need many descriptors on both sides; the hard limit caps the session count.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# Every uploaded file stays in the data directory until the suite ends. A full disk fails the
# uploads (the server answers UNAVAILABLE) and slows everything else, so say it up front.
free_mib() { df -Pm "${work}" | awk 'NR == 2 { print $4 }'; }
upload_need_mib=$(((upload_mib + 64 * 21 * 2) * repeat + 1024))
if (($(free_mib) < upload_need_mib)); then
    echo "run-suite: $(free_mib) MiB free in ${work}; the upload steps alone store about" \
        "${upload_need_mib} MiB, and the uploads beside chat more" >&2
fi
fd_limit="$(ulimit -n)"
if [[ "${fd_limit}" != unlimited ]] && ((sessions + 1000 + 200 > fd_limit)); then
    sessions=$((fd_limit - 1000 - 200))
    echo "run-suite: open-file limit ${fd_limit}: measuring ${sessions} idle sessions" >&2
fi

# A step's heading, with the time since the suite started.
step() { printf '\n--> [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# Fails when something already accepts TCP connections on 127.0.0.1:PORT: a server left over
# from an earlier run would answer in place of the one about to start (which cannot listen and
# exits), and its CPU would not be the one measured.
require_free_port() {
    local port="$1"
    if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
        echo "run-suite: port ${port} is already in use (a server from an earlier run?)" >&2
        return 1
    fi
}

# Waits until something accepts TCP connections on 127.0.0.1:PORT (10 s at most) while PID,
# the process started to listen there, still runs.
wait_for_port() {
    local port="$1" pid="$2" attempt
    for attempt in $(seq 100); do
        if ! kill -0 "${pid}" 2>/dev/null; then
            echo "run-suite: the process meant to listen on port ${port} exited" >&2
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "run-suite: nothing listens on port ${port}" >&2
    return 1
}

# Appends one JSON line to the results.
record() { printf '%s\n' "$1" >>"${results}"; }

load() { taskset -c "${load_core}" "${bench_bin}" --json "${results}" "$@"; }

# median SCENARIO LABEL PHASE KEY: the median of KEY over the recorded phases, as an integer
# (0 when none was recorded).
median() {
    python3 -c 'import json, sys
scenario, label, phase, key = sys.argv[2:6]
values = [p[key] for line in open(sys.argv[1]) if line.strip()
          for r in [json.loads(line)] if r.get("scenario") == scenario and r.get("label") == label
          for p in r.get("phases", []) if p["name"] == phase and p.get(key) is not None]
print(int(sorted(values)[len(values) // 2]) if values else 0)' "${results}" "$@"
}

# ---- baselines ------------------------------------------------------------------------------
step "disk baseline: 1 GiB written with dd conv=fdatasync in the data directory's file system"
# The first such write in a new directory runs at a third of the rate of the next ones
# (measured: 393 against 1,207 and 1,295 MiB/s), so with one repetition the baseline was the
# outlier. One unrecorded write first.
dd if=/dev/zero of="${work}/dd.bin" bs=1M count=1024 conv=fdatasync status=none
rm -f "${work}/dd.bin"
for run in $(seq "${repeat}"); do
    start=$(date +%s.%N)
    dd if=/dev/zero of="${work}/dd.bin" bs=1M count=1024 conv=fdatasync status=none
    end=$(date +%s.%N)
    rm -f "${work}/dd.bin"
    mib_s=$(awk -v s="${start}" -v e="${end}" 'BEGIN { printf "%.1f", 1024 / (e - s) }')
    echo "dd: ${mib_s} MiB/s"
    record "{\"scenario\":\"baseline\",\"label\":\"disk\",\"mib_per_second\":${mib_s}}"
done

step "disk sync baseline: 8 KiB appends, each followed by fdatasync, in the data directory"
# The floor under each durably stored chat message: every batch's commit ends in one of these.
for run in $(seq "${repeat}"); do
    load disk-sync --label disk --dir "${work}" --warmup 1 --duration 3 | tail -n 1
done

step "crypto baseline: openssl speed (AES-256-GCM, SHA-256; 16 KiB blocks, one core)"
for run in $(seq "${repeat}"); do
    for algorithm in aes-256-gcm sha256; do
        # The last line reads "<name> <rate per block size>k ..."; the last column is 16 KiB.
        kbytes=$(taskset -c "${server_core}" openssl speed -seconds 1 -bytes 16384 \
            -evp "${algorithm}" 2>/dev/null | tail -1 | awk '{ sub(/k$/, "", $NF); print $NF }')
        mib_s=$(awk -v k="${kbytes}" 'BEGIN { printf "%.1f", k * 1000 / 1048576 }')
        echo "${algorithm}: ${mib_s} MiB/s"
        record "{\"scenario\":\"baseline\",\"label\":\"${algorithm}\",\"mib_per_second\":${mib_s}}"
    done
done

# ---- peers ----------------------------------------------------------------------------------
echo_args=(echo --subprotocol "" --path / --connections "${echo_connections}"
    --window "${window}" --size "${message_bytes}" --warmup 1 --duration "${duration}"
    --ca "${ca}")
# start_peer NAME PORT: the peer's echo server on the server core (its pid in peer_pid).
start_peer() {
    local peer="$1" port="$2"
    require_free_port "${port}" || exit 1
    if [[ "${peer}" == wspp-* ]]; then
        taskset -c "${server_core}" "${peers_dir}/${peer}" "${port}" "${cert}" "${key}" \
            >/dev/null 2>&1 &
    else
        taskset -c "${server_core}" "${peers_dir}/${peer}" 127.0.0.1 "${port}" 1 "${cert}" \
            "${key}" >/dev/null 2>&1 &
    fi
    peer_pid=$!
    wait_for_port "${port}" "${peer_pid}" || exit 1
}
stop_peer() {
    kill -TERM "${peer_pid}" 2>/dev/null || true
    wait "${peer_pid}" 2>/dev/null || true
    peer_pid=""
}
port=9101
for peer in beast-stock beast-tuned wspp-tuned; do
    if [[ ! -x "${peers_dir}/${peer}" ]]; then
        echo "run-suite: ${peers_dir}/${peer} missing (bench/peers/build-peers.sh): skipped" >&2
        continue
    fi
    for run in $(seq "${repeat}"); do
        step "peer ${peer} (run ${run}): echo, ${echo_connections} connections, ${window} in flight"
        start_peer "${peer}" "${port}"
        load "${echo_args[@]}" --resumed 2000 --target "127.0.0.1:${port}" \
            --server-pid "${peer_pid}" --label "${peer}" || echo "run-suite: ${peer} echo failed" >&2
        stop_peer
    done
    port=$((port + 1))
done
# The peer with the most echoes per server CPU-second is chat's reference; its echoes are
# measured once more just before each of tmc's chat runs (below).
chat_peer="" chat_peer_echoes=0
for peer in beast-stock beast-tuned wspp-tuned; do
    echoes=$(median echo "${peer}" "closed loop" operations_per_server_cpu_second)
    if ((echoes > chat_peer_echoes)); then chat_peer="${peer}" chat_peer_echoes="${echoes}"; fi
done

# ---- tmc ------------------------------------------------------------------------------------
# slow-consumer needs (sessions - stalled) / 2 pairs plus one more specialist per stalled session.
slow_stalled=$(((slow_sessions + 50) / 100))
((slow_stalled >= 1)) || slow_stalled=1
seed=$(((slow_sessions - slow_stalled) / 2 + slow_stalled))
((seed > pairs)) || seed="${pairs}"
step "seeding a data directory: demo network + ${seed} bench clinicians and specialists"
data="${work}/data"
admin=("${build_dir}/server/admin/tmc-admin" --data-dir "${data}" --scrypt-log2n 10)
"${admin[@]}" init >/dev/null
"${admin[@]}" demo >/dev/null 2>&1
users="${work}/users.txt"
: >"${users}"
password="bench-password-$$-${RANDOM}"
for i in $(seq -w 1 "${seed}"); do
    printf '%s\n' "${password}" | "${admin[@]}" user add --username "bench.clinician.${i}" \
        --role clinician --org bachu --password-stdin >/dev/null
    printf '%s\n' "${password}" | "${admin[@]}" user add --username "bench.specialist.${i}" \
        --role specialist --org shanghai --specialty cardiology --password-stdin >/dev/null
    printf 'clinician bench.clinician.%s %s\nspecialist bench.specialist.%s %s\n' \
        "${i}" "${password}" "${i}" "${password}" >>"${users}"
done

tmc_port=9443
# start_server [EXTRA SERVER OPTIONS]
# The server hashes passwords at the cost the bench users were seeded with: at its default cost
# (2^17) it would re-hash each password on its first sign-in, and with four password checks at
# a time the 100 sign-ins of a chat run's set-up then outlast the 10 s a sign-in waits for its
# turn (RESOURCE_EXHAUSTED). The scenarios measure sessions, not password hashing.
start_server() {
    require_free_port "${tmc_port}" || exit 1
    taskset -c "${server_core}" "${build_dir}/server/tmc-server" --data-dir "${data}" \
        --listen "127.0.0.1:${tmc_port}" --tls-cert "${cert}" --tls-key "${key}" \
        --io-threads 1 --log-level warn --idle-timeout-s 300 --scrypt-log2n 10 \
        --max-sessions-per-user 0 --max-connections-per-address 0 \
        --new-connections-per-second-per-address 0 --requests-per-second 0 \
        --max-frame-bytes $((2 * 1024 * 1024)) --upload-chunk-bytes "${upload_chunk_bytes}" "$@" \
        >"${work}/server.log" 2>&1 &
    server_pid=$!
    wait_for_port "${tmc_port}" "${server_pid}" || { cat "${work}/server.log" >&2; exit 1; }
}
stop_server() {
    kill -TERM "${server_pid}" 2>/dev/null || true
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
}
tmc_args=(--target "127.0.0.1:${tmc_port}" --ca "${ca}" --users "${users}")

start_server
# On the freshly seeded database the keys one commit touches (each consultation's log, each
# sender's and patient's audit entries) share a few index leaves; some 30,000 messages later
# each has leaves of its own, a message costs 35-55% more WAL writes and every later run
# measures that steady state. So the first measured run starts there too: an unrecorded warm-up.
step "tmc chat warm-up: 8 s closed loop on the fresh database, not recorded"
taskset -c "${load_core}" "${bench_bin}" chat "${tmc_args[@]}" --server-pid "${server_pid}" \
    --pairs "${pairs}" --window "${window}" --size "${message_bytes}" --warmup 1 --duration 8 \
    --label tmc-warm-up >/dev/null || echo "run-suite: chat warm-up failed" >&2
for run in $(seq "${repeat}"); do
    # The best peer's echoes once more, just before tmc's chat: the host's speed moves by tens of
    # percent within minutes. The summary sets tmc's chat against these (docs/performance.md,
    # "Method"). The tmc server stays up, idle, on the same core.
    if [[ -n "${chat_peer}" ]]; then
        step "peer ${chat_peer} (run ${run}): echo beside tmc's chat"
        start_peer "${chat_peer}" 9104
        load "${echo_args[@]}" --resumed 0 --target 127.0.0.1:9104 --server-pid "${peer_pid}" \
            --label "${chat_peer}-beside-chat" || echo "run-suite: ${chat_peer} echo failed" >&2
        stop_peer
    fi
    step "tmc chat (run ${run}): ${pairs} pairs, ${window} in flight, then 25/50/75/90% open loop"
    load chat "${tmc_args[@]}" --server-pid "${server_pid}" --pairs "${pairs}" \
        --window "${window}" --size "${message_bytes}" --warmup 1 --duration "${duration}" \
        --open-loop-fractions 0.25,0.5,0.75,0.9 --label tmc || echo "run-suite: chat failed" >&2
    for size in ${other_message_bytes}; do
        step "tmc chat (run ${run}): closed loop with ${size} B messages"
        load chat "${tmc_args[@]}" --server-pid "${server_pid}" --pairs "${pairs}" \
            --window "${window}" --size "${size}" --warmup 1 --duration "${duration}" \
            --label "tmc-${size}b" || echo "run-suite: chat failed" >&2
    done
done

for run in $(seq "${repeat}"); do
    step "tmc fanout (run ${run}): one sender, consultations of 2, 10 and 50 participants"
    load fanout "${tmc_args[@]}" --server-pid "${server_pid}" --participants 2,10,50 \
        --window "${window}" --size "${message_bytes}" --warmup 1 --duration "${duration}" \
        --label tmc || echo "run-suite: fanout failed" >&2
done

for run in $(seq "${repeat}"); do
    step "tmc slow-consumer (run ${run}): ${slow_sessions} chat sessions, 1% stop reading"
    stop_server  # a fresh server with a small outbound queue limit, RSS not blurred by earlier runs
    start_server --outbound-queue-bytes "${slow_queue_bytes}"
    load slow-consumer "${tmc_args[@]}" --server-pid "${server_pid}" \
        --sessions "${slow_sessions}" --slow-percent 1 --server-queue-bytes "${slow_queue_bytes}" \
        --window "${window}" --size "${slow_message_bytes}" --warmup 1 \
        --duration "${slow_stall_seconds}" --label tmc || echo "run-suite: slow-consumer failed" >&2
done

for run in $(seq "${repeat}"); do
    stop_server  # a fresh server, so RSS per session is not blurred by earlier runs
    # The tuned Beast example's handshakes once more, just before tmc's: the host's speed moves by
    # tens of percent within minutes, and the peers' own step is several minutes earlier. The
    # summary sets tmc's new sessions against these (docs/performance.md, "Method").
    if [[ -x "${peers_dir}/beast-tuned" ]]; then
        step "peer beast-tuned (run ${run}): full handshakes beside tmc's new sessions"
        start_peer beast-tuned 9102
        load "${echo_args[@]}" --resumed 2000 --no-closed-loop --target 127.0.0.1:9102 \
            --server-pid "${peer_pid}" --label beast-tuned-beside-sessions \
            || echo "run-suite: beast-tuned handshakes failed" >&2
        stop_peer
    fi
    step "tmc connections (run ${run}): ${sessions} idle sessions, then 1000 resumed"
    start_server
    load connections "${tmc_args[@]}" --server-pid "${server_pid}" \
        --connections "${sessions}" --resumed 1000 --handshake-concurrency 64 --label tmc \
        || echo "run-suite: connections failed" >&2
done

# 1, 4 and 16 concurrent 64 MiB files with both chunk sizes, the 1 MiB ones on the server the
# other steps use, then the 256 KiB ones on a server with that chunk size.
upload_set() {
    local run="$1" chunk_kib="$2" uploads
    step "tmc upload (run ${run}): 1, 4 and 16 x 64 MiB (${chunk_kib} KiB chunks)"
    for uploads in 1 4 16; do
        load upload "${tmc_args[@]}" --server-pid "${server_pid}" --uploads "${uploads}" \
            --upload-mib 64 --chunk-kib "${chunk_kib}" --label "tmc-64mib-${chunk_kib}k" \
            || echo "run-suite: upload failed" >&2
    done
}
for run in $(seq "${repeat}"); do
    step "tmc upload (run ${run}): 1 x ${upload_mib} MiB (1 MiB chunks)"
    load upload "${tmc_args[@]}" --server-pid "${server_pid}" --uploads 1 \
        --upload-mib "${upload_mib}" --chunk-kib 1024 --label tmc-single \
        || echo "run-suite: upload failed" >&2
    upload_set "${run}" 1024
done
stop_server
upload_chunk_bytes=$((256 * 1024))
start_server
for run in $(seq "${repeat}"); do upload_set "${run}" 256; done
stop_server
upload_chunk_bytes=$((1024 * 1024))
start_server
# The uploads beside chat must outlast the chat's warm-up and measurement, which starts a second
# after them: each file is sized for 2 s more than that at the 4-upload rate measured above, and
# they run longer still while chat takes its share of the core. bench/summarize.py checks that
# they did.
concurrent_mib_s=$(median upload tmc-64mib-1024k "4 x 64 MiB" mib_per_second)
beside_file_mib=$(((concurrent_mib_s * (duration + 4) + 3) / 4))
((beside_file_mib >= 64)) || beside_file_mib=64
((beside_file_mib <= 4096)) || beside_file_mib=4096
beside_need_mib=$((4 * beside_file_mib * repeat + 1024))
if (($(free_mib) < beside_need_mib)); then
    echo "run-suite: $(free_mib) MiB free in ${work}; the uploads beside chat store about" \
        "${beside_need_mib} MiB" >&2
fi
for run in $(seq "${repeat}"); do
    # Half the closed-loop chat rate measured above, while 4 uploads run.
    chat_max=$(median chat tmc "closed loop" rate)
    if ((chat_max < 2)); then
        echo "run-suite: no chat rate measured; chat beside uploads skipped" >&2
        break
    fi
    step "tmc chat at $((chat_max / 2))/s beside 4 x ${beside_file_mib} MiB uploads (run ${run})"
    load upload "${tmc_args[@]}" --server-pid "${server_pid}" --uploads 4 \
        --upload-mib "${beside_file_mib}" --chunk-kib 1024 --label tmc-beside-chat >/dev/null &
    upload_pid=$!
    sleep 1
    load chat "${tmc_args[@]}" --server-pid "${server_pid}" --pairs "${pairs}" \
        --size "${message_bytes}" --warmup 1 --duration "${duration}" --no-closed-loop \
        --open-loop-rates "$((chat_max / 2))" --label tmc-beside-uploads \
        || echo "run-suite: chat beside uploads failed" >&2
    wait "${upload_pid}" || echo "run-suite: uploads beside chat failed" >&2
done
stop_server
echo "${results}"
