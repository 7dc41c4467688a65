#!/usr/bin/env bash
# Checks that the daemon's objects call only downwards.
# usage: check-layers.sh LAYERS_FILE OBJECT.o...
#
# LAYERS_FILE has one line per layer, lowest first: "name: obj obj ..." (object basenames
# without .o; shell globs allowed; '#' starts a comment). The special layer "none" lists objects
# that are not checked. Every reference an object makes (nm -u) to a symbol that another of the
# given objects defines (nm -g --defined-only) must go to the same layer or a lower one; each
# upward one is printed as
#   file.o -> symbol (defined in other.o, higher layer)
# An object in no layer is an error too (a new file must be placed). Exit status 1 on any.
set -euo pipefail -f  # -f: the globs of LAYERS_FILE match object names, not files

[ $# -ge 2 ] || { echo "usage: $0 LAYERS_FILE OBJECT.o..." >&2; exit 2; }
layers=$1; shift
command -v nm >/dev/null || { echo "check-layers: nm is not installed (binutils)" >&2; exit 2; }

# The layer of each object: its index in the file (0 = lowest), -1 for "none".
declare -A rank
bad=0 n=0
for o in "$@"; do
	b=$(basename "$o" .o)
	[ -z "${rank[$b]+x}" ] || { echo "check-layers: two objects named $b.o" >&2; exit 2; }
	i=0 found=
	while IFS= read -r line; do
		line=${line%%#*}
		[[ $line == *:* ]] || continue
		lname=${line%%:*}; lname=${lname//[[:space:]]/}
		r=$i
		if [ "$lname" = none ]; then r=-1; else i=$((i + 1)); fi
		for pat in ${line#*:}; do
			# shellcheck disable=SC2053 # $pat is a glob on purpose
			if [[ $b == $pat ]]; then found=1; rank[$b]=$r; break; fi
		done
		[ -n "$found" ] && break
	done <"$layers"
	if [ -z "$found" ]; then
		echo "$b.o: in no layer of $layers" >&2
		bad=$((bad + 1))
	fi
	n=$((n + 1))
done

# symbol -> defining object, over the given objects.
declare -A def
for o in "$@"; do
	b=$(basename "$o" .o)
	while read -r _ _ sym; do
		def[$sym]=$b
	done < <(nm -g --defined-only "$o" | awk 'NF == 3')
done

for o in "$@"; do
	b=$(basename "$o" .o)
	if [ -z "${rank[$b]+x}" ] || [ "${rank[$b]}" -lt 0 ]; then continue; fi
	while read -r _ sym; do
		d=${def[$sym]:-}
		if [ -z "$d" ] || [ -z "${rank[$d]+x}" ]; then continue; fi
		if [ "${rank[$d]}" -gt "${rank[$b]}" ]; then
			echo "$b.o -> $sym (defined in $d.o, higher layer)"
			bad=$((bad + 1))
		elif [ "${rank[$d]}" -lt 0 ]; then
			echo "$b.o -> $sym (defined in $d.o, which is in no daemon layer)"
			bad=$((bad + 1))
		fi
	done < <(nm -u "$o" | awk '$1 == "U" { print $1, $2 }' | sort -u)
done

if [ "$bad" -gt 0 ]; then
	echo "layers: $bad violation(s) in $n objects (order: $layers)" >&2
	exit 1
fi
echo "layers: $n objects, every reference goes to the same or a lower layer"
