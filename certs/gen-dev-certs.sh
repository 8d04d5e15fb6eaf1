#!/usr/bin/env bash
# Generates the development PKI (dev CA, localhost server certificate, per-hospital client
# certificates) with the openssl CLI. Idempotent: valid files are kept, only what is missing,
# expiring or not signed by the current CA is (re)generated. Development only: see README.md.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly script_dir

# Organisation ids of the demo network: county hospitals, then partner hospitals.
readonly demo_orgs=(bachu yecheng yengisar wensu hotan shanghai jining jinhua beijing)

readonly ca_days=3650
readonly leaf_days=825
readonly min_remaining_seconds=$((30 * 24 * 3600))
readonly ca_subject="/O=tmc development/CN=tmc development CA"
readonly server_subject="/O=tmc development/CN=localhost"
readonly server_san="DNS:localhost,IP:127.0.0.1,IP:::1"

usage() {
    cat <<EOF
usage: $(basename "$0") [--out DIR] [--force] [--help]

Writes a development CA, a server certificate for localhost and one client certificate per
demo organisation into DIR (default: ${script_dir}/out). Existing valid files are kept.

  --out DIR   output directory (created with mode 0700)
  --force     regenerate everything, including the CA
  --help      show this help
EOF
}

out_dir="${script_dir}/out"
force=0
while (($# > 0)); do
    case "$1" in
        --out)
            [[ $# -ge 2 && -n "$2" ]] || { echo "error: --out needs a directory" >&2; exit 2; }
            out_dir="$2"
            shift 2
            ;;
        --out=*) out_dir="${1#--out=}"; shift ;;
        --force) force=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

command -v openssl >/dev/null || { echo "error: openssl not found (run ./tmc deps)" >&2; exit 1; }

umask 077
mkdir -p "${out_dir}/clients"
chmod 700 "${out_dir}" "${out_dir}/clients"
out_dir="$(cd "${out_dir}" && pwd)"

# Serialise concurrent runs (e.g. `./tmc test` and `./tmc demo` started together).
if command -v flock >/dev/null; then
    exec 9>"${out_dir}/.lock"
    flock 9
fi

work_dir="$(mktemp -d "${out_dir}/.tmp.XXXXXX")"
trap 'rm -rf "${work_dir}"' EXIT

readonly ca_crt="${out_dir}/ca.crt"
readonly ca_key="${out_dir}/ca.key"

# Minimal openssl config: no distro defaults leak extra extensions into the certificates.
cat >"${work_dir}/openssl.cnf" <<EOF
[req]
distinguished_name = req_dn
prompt = no
[req_dn]

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${server_san}

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# True when the private key belongs to the certificate.
key_matches_cert() {
    local crt="$1" key="$2" cert_pub key_pub
    cert_pub="$(openssl x509 -in "${crt}" -noout -pubkey 2>/dev/null)" || return 1
    key_pub="$(openssl pkey -in "${key}" -pubout 2>/dev/null)" || return 1
    [[ "${cert_pub}" == "${key_pub}" ]]
}

# True when the certificate's subject equals the expected one (given in -subj form).
subject_is() {
    local crt="$1" expected="$2" actual
    actual="$(openssl x509 -in "${crt}" -noout -subject -nameopt compat 2>/dev/null)" || return 1
    [[ "${actual#subject=}" == "${expected}" ]]
}

# True when cert and key exist, belong together, and the cert lives for another 30 days.
pair_usable() {
    local crt="$1" key="$2"
    [[ -s "${crt}" && -s "${key}" ]] || return 1
    openssl x509 -in "${crt}" -noout -checkend "${min_remaining_seconds}" >/dev/null 2>&1 ||
        return 1
    key_matches_cert "${crt}" "${key}"
}

# True when a leaf pair is usable, signed by the current CA, for the given purpose and subject.
leaf_valid() {
    local crt="$1" key="$2" purpose="$3" subject="$4"
    pair_usable "${crt}" "${key}" || return 1
    openssl verify -CAfile "${ca_crt}" -purpose "${purpose}" "${crt}" >/dev/null 2>&1 || return 1
    subject_is "${crt}" "${subject}"
}

new_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    chmod 600 "$1"
}

# Moves freshly generated files into place (key first, so a crash never pairs a new cert with
# an old key that the validity check would accept).
install_pair() {
    local tmp_crt="$1" tmp_key="$2" crt="$3" key="$4"
    mv -f "${tmp_key}" "${key}"
    mv -f "${tmp_crt}" "${crt}"
    chmod 600 "${key}"
    chmod 644 "${crt}"
}

generate_ca() {
    new_key "${work_dir}/ca.key"
    openssl req -new -x509 -config "${work_dir}/openssl.cnf" -key "${work_dir}/ca.key" \
        -subj "${ca_subject}" -sha256 -days "${ca_days}" -set_serial "0x$(openssl rand -hex 16)" \
        -extensions ca_ext -out "${work_dir}/ca.crt"
    install_pair "${work_dir}/ca.crt" "${work_dir}/ca.key" "${ca_crt}" "${ca_key}"
}

# generate_leaf <crt> <key> <subject> <extensions section>
generate_leaf() {
    local crt="$1" key="$2" subject="$3" section="$4"
    local name
    name="$(basename "${crt}" .crt)"
    new_key "${work_dir}/${name}.key"
    openssl req -new -config "${work_dir}/openssl.cnf" -key "${work_dir}/${name}.key" \
        -subj "${subject}" -out "${work_dir}/${name}.csr"
    openssl x509 -req -in "${work_dir}/${name}.csr" \
        -CA "${ca_crt}" -CAkey "${ca_key}" -set_serial "0x$(openssl rand -hex 16)" \
        -sha256 -days "${leaf_days}" -extfile "${work_dir}/openssl.cnf" -extensions "${section}" \
        -out "${work_dir}/${name}.crt" 2>/dev/null
    install_pair "${work_dir}/${name}.crt" "${work_dir}/${name}.key" "${crt}" "${key}"
}

# True when the server certificate carries exactly the expected SANs.
server_san_ok() {
    local text
    text="$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null)" || return 1
    text="$(tail -n +2 <<<"${text}" | tr -d ' ')"
    [[ "${text}" == "DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1" ]]
}

generated=()
kept=()

record() { # record <generated|kept> <path>
    if [[ "$1" == generated ]]; then generated+=("$2"); else kept+=("$2"); fi
}

if ((force == 0)) && pair_usable "${ca_crt}" "${ca_key}" && subject_is "${ca_crt}" "${ca_subject}"
then
    record kept "${ca_crt}"
else
    generate_ca
    record generated "${ca_crt}"
fi

server_crt="${out_dir}/server.crt"
server_key="${out_dir}/server.key"
if ((force == 0)) && leaf_valid "${server_crt}" "${server_key}" sslserver "${server_subject}" &&
    server_san_ok "${server_crt}"; then
    record kept "${server_crt}"
else
    generate_leaf "${server_crt}" "${server_key}" "${server_subject}" server_ext
    record generated "${server_crt}"
fi

for org in "${demo_orgs[@]}"; do
    crt="${out_dir}/clients/${org}.crt"
    key="${out_dir}/clients/${org}.key"
    subject="/O=${org}/CN=${org} gateway"
    if ((force == 0)) && leaf_valid "${crt}" "${key}" sslclient "${subject}"; then
        record kept "${crt}"
    else
        generate_leaf "${crt}" "${key}" "${subject}" client_ext
        record generated "${crt}"
    fi
done

# Keys are secret whatever happened before this run.
chmod 600 "${ca_key}" "${server_key}" "${out_dir}"/clients/*.key

echo "dev certificates in ${out_dir} (development only; keys are mode 0600)"
echo "  generated: ${#generated[@]}, kept: ${#kept[@]}"
for path in "${generated[@]}"; do echo "  new   ${path#"${out_dir}"/}"; done
echo "  CA:      ${ca_crt}"
echo "  server:  ${server_crt} / ${server_key} (localhost, 127.0.0.1, ::1)"
echo "  clients: ${out_dir}/clients/<organisation>.crt / .key (${demo_orgs[*]})"
