#!/usr/bin/env bash
# Runs test programs: unit binaries, then integration binaries and scripts.
# usage: run.sh UNIT... -- INTEGRATION_BIN... -- INTEGRATION_SCRIPT...
# Exit status 77 means "skipped"; under CI=true a skip is a failure, because a
# privileged test that cannot load BPF there must fail loudly.
set -u
pass=0 fail=0 skip=0 failed=()
run_one() {
	local name=$1; shift
	local start=$SECONDS
	"$@"
	local rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name ($((SECONDS - start))s)"
	elif [ $rc -eq 77 ] && [ "${CI:-}" != "true" ]; then
		skip=$((skip + 1)); echo "SKIP $name (needs root and BPF)"
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (rc=$rc)"
	fi
}
phase=unit
for arg in "$@"; do
	if [ "$arg" = "--" ]; then
		case $phase in unit) phase=integ ;; integ) phase=script ;; esac
		continue
	fi
	case $phase in
	unit | integ) run_one "$(basename "$arg")" "$arg" ;;
	script) run_one "$(basename "$arg")" bash "$arg" ;;
	esac
done
echo "TESTS: $pass passed, $fail failed, $skip skipped${failed:+ (failed: ${failed[*]})}"
[ $fail -eq 0 ]
