#!/usr/bin/env bash
# Runs test programs: unit binaries, then integration binaries and scripts.
# usage: run.sh UNIT... -- INTEGRATION_BIN... -- INTEGRATION_SCRIPT...
# Exit status 77 means "skipped"; under CI=true a skip is a failure, because a
# privileged test that cannot load BPF there must fail loudly.
#
# A program that passes may still have skipped some of its cases (one that
# cannot run on this machine): the integration harness appends "case: reason"
# lines to $TH_SKIP_FILE, cmocka prints "[  SKIPPED ] case". Every skipped
# case is counted as skipped in the TESTS: line and named, never as passed.
#
# The integration tests run the daemon and client built in $OUTPUT unless
# CGSTATD / CGSTAT name others.
set -u
out=${OUTPUT:-build}
export CGSTATD=${CGSTATD:-$out/cgstatd} CGSTAT=${CGSTAT:-$out/cgstat}
pass=0 fail=0 skip=0 failed=() skipped=()
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
run_one() {
	local name=$1 unit=$2; shift 2
	local start=$SECONDS rc cases=() line
	: >"$tmp/skips"
	if [ "$unit" = 1 ]; then
		# cmocka reports skips only on stdout: keep it to read them back.
		TH_SKIP_FILE="$tmp/skips" "$@" >"$tmp/out"
		rc=$?
		cat "$tmp/out"
		sed -n 's/^\[  SKIPPED \] \([^ ]*\)$/\1: skip() in the test/p' "$tmp/out" | sort -u >>"$tmp/skips"
	else
		TH_SKIP_FILE="$tmp/skips" "$@"
		rc=$?
	fi
	while IFS= read -r line; do
		cases+=("$name/$line")
	done <"$tmp/skips"
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "PASS $name ($((SECONDS - start))s${cases[0]:+, ${#cases[@]} case(s) skipped})"
	elif [ $rc -eq 77 ] && [ "${CI:-}" != "true" ]; then
		[ ${#cases[@]} -eq 0 ] && cases=("$name (needs root and BPF)")
		echo "SKIP $name"
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (rc=$rc)"
	fi
	if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
		skip=$((skip + ${#cases[@]}))
		skipped+=("${cases[@]}")
	fi
}
phase=unit
for arg in "$@"; do
	if [ "$arg" = "--" ]; then
		case $phase in unit) phase=integ ;; integ) phase=script ;; esac
		continue
	fi
	case $phase in
	unit) run_one "$(basename "$arg")" 1 "$arg" ;;
	integ) run_one "$(basename "$arg")" 0 "$arg" ;;
	script) run_one "$(basename "$arg")" 0 bash "$arg" ;;
	esac
done
summary="TESTS: $pass passed, $fail failed, $skip skipped"
[ ${#failed[@]} -gt 0 ] && summary+=" (failed: ${failed[*]})"
if [ ${#skipped[@]} -gt 0 ]; then
	list=$(printf '%s; ' "${skipped[@]}")
	summary+=" (skipped: ${list%; })"
fi
echo "$summary"
[ $fail -eq 0 ]
