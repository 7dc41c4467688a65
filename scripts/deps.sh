#!/usr/bin/env bash
# Installs the Debian packages cgstat needs to build, run and test.
# As root it uses apt-get; otherwise it prints the exact command to run.
set -euo pipefail

# libcurl4-openssl-dev, libjansson-dev: the client library (HTTP, JSON); the tests read JSON with jansson too.
pkgs=(make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev libevent-dev
      libcmocka-dev libjansson-dev libcurl4-openssl-dev bpftool curl)
[ "${1:-}" = "--test" ] && pkgs+=(valgrind)
[ "${1:-}" = "--lint" ] && pkgs+=(cppcheck clang-tidy)
# exitsnoop, which bench_lifecycle runs beside cgstat for comparison.
[ "${1:-}" = "--bench" ] && pkgs+=(libbpf-tools)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "cgstat: missing packages: ${missing[*]}" >&2
	echo "run as root: apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "cgstat: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
	apt-get update -q >/dev/null
	apt-get install -y -q "${missing[@]}"
}
