#!/usr/bin/env bash
# Builds the peer WebSocket-over-TLS echo servers that tmc is measured against, from Debian's
# own example sources: Boost.Beast's websocket_server_async_ssl (stock and tuned) and
# websocketpp's echo_server_tls (tuned). The sources are copied from /usr/share/doc into the
# output directory and patched there (patches beside this script), never copied into the repo.
#
# usage: bench/peers/build-peers.sh [OUT_DIR]   (default build/peers)
# Results: OUT_DIR/beast-stock, OUT_DIR/beast-tuned  (ADDRESS PORT THREADS CERT KEY)
#          OUT_DIR/wspp-tuned                        (PORT CERT KEY)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-build/peers}"
beast_example=/usr/share/doc/libboost1.81-doc/examples/libs/beast/example/websocket/server/async-ssl
wspp_example=/usr/share/doc/libwebsocketpp-dev/examples/echo_server_tls

packages=(libboost1.81-doc libwebsocketpp-dev libwebsocketpp-doc)
missing=()
for pkg in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)" != \
        "install ok installed" ]]; then
        missing+=("${pkg}")
    fi
done
if ((${#missing[@]} > 0)); then
    sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    echo "build-peers: installing ${missing[*]}" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}" >&2
fi

mkdir -p "${out}/src"
cxx=(g++ -O2 -DNDEBUG -pthread)

# Rebuilds OUT only when a source or patch is newer (the peers never change between runs).
build() {
    local name="$1" std="$2" source="$3"
    shift 3
    local patches=("$@") copy="${out}/src/${name}.cpp"
    local newest="${source}" patch
    for patch in "${patches[@]}"; do
        [[ "${here}/${patch}" -nt "${newest}" ]] && newest="${here}/${patch}"
    done
    if [[ -x "${out}/${name}" && "${out}/${name}" -nt "${newest}" ]]; then
        return 0
    fi
    cp "${source}" "${copy}"
    for patch in "${patches[@]}"; do
        patch --quiet "${copy}" "${here}/${patch}"
    done
    echo "build-peers: compiling ${name}" >&2
    "${cxx[@]}" "-std=${std}" -o "${out}/${name}" "${copy}" -lssl -lcrypto
}

build beast-stock c++20 "${beast_example}/websocket_server_async_ssl.cpp" beast-common.patch
build beast-tuned c++20 "${beast_example}/websocket_server_async_ssl.cpp" \
    beast-common.patch beast-tuned.patch
# websocketpp 0.8 predates C++20 (template-id constructors); C++17 is what it supports.
build wspp-tuned c++17 "${wspp_example}/echo_server_tls.cpp" wspp-tuned.patch
echo "${out}"
