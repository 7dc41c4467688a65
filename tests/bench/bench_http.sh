#!/bin/bash
# HTTP benchmark of cgstatd (tests/bench/bench_http.c): `make bench` runs it
# with the build directory as $1 (default build).
set -euo pipefail
out=${1:-build}
exec "$out/tests/bench_http"
