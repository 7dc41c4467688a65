#!/usr/bin/env bash
# Installs the Debian packages cgstat needs to build, run and test.
# As root it uses apt-get; otherwise it prints the exact command to run.
set -euo pipefail

# libcurl4-openssl-dev, libjansson-dev: the client library (HTTP, JSON); the tests read JSON with jansson too.
# libhttp-parser-dev: the daemon's HTTP request parser (user/daemon/http_parse.c).
pkgs=(make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev libevent-dev libhttp-parser-dev
      libcmocka-dev libjansson-dev libcurl4-openssl-dev bpftool curl)
# prometheus: promtool and the server the scrape test runs on loopback (installed below, apart).
[ "${1:-}" = "--test" ] && pkgs+=(valgrind prometheus)
# systemd (systemd-analyze, -sysusers, -tmpfiles) and man-db: test_install.sh checks the installed unit and man pages.
[ "${1:-}" = "--test" ] && pkgs+=(systemd man-db)
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
# Prometheus is a test tool here, never a service. Debian's postinst starts it, through its
# init script (invoke-rc.d, also without systemd) and where systemd runs through
# deb-systemd-invoke: both obey policy-rc.d, so the install runs with one that forbids
# starting services (an existing one is the admin's and stays). No recommends (a node
# exporter, another service), and the service is left disabled at boot.
prom=() rest=()
for p in "${missing[@]}"; do
	if [ "$p" = prometheus ]; then prom+=("$p"); else rest+=("$p"); fi
done
apt_install() {
	apt-get install -y -q "$@" >/dev/null 2>&1 || {
		apt-get update -q >/dev/null
		apt-get install -y -q "$@"
	}
}
[ ${#rest[@]} -eq 0 ] || apt_install "${rest[@]}"
if [ ${#prom[@]} -gt 0 ]; then
	policy=/usr/sbin/policy-rc.d own_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
		trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT
	fi
	apt_install --no-install-recommends "${prom[@]}"
	if [ -n "$own_policy" ]; then
		rm -f "$policy"
		own_policy=
	elif [ -d /run/systemd/system ]; then
		# The admin's policy let it start: stop what this install started.
		systemctl stop prometheus.service >/dev/null 2>&1 || true
	else
		invoke-rc.d prometheus stop >/dev/null 2>&1 || true
	fi
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper disable prometheus.service >/dev/null 2>&1 || true
	fi
	update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
