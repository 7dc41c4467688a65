#!/usr/bin/env bash
# Checks that the daemon's objects call and include only downwards.
# usage: check-layers.sh LAYERS_FILE OBJECT.o...
#
# LAYERS_FILE has one line per layer, lowest first: "name: obj obj ..." (basenames without .o
# or .h; shell globs allowed; '#' starts a comment). The special layer "none" lists objects
# that are not checked. For every given object:
#  - each symbol it references (nm -u) that another given object defines (nm -g
#    --defined-only) must be defined in the same layer or a lower one; an upward one prints
#      file.o -> symbol (defined in other.o, higher layer)
#  - each header of the project it includes (from its .d file, written by -MMD next to it)
#    whose basename is in a layer must be in the same layer or a lower one; an upward one prints
#      file.o -> #include "other.h" (higher layer)
# An object in no layer is an error too (a new file must be placed). Exit status 1 on any.
set -euo pipefail -f # -f: the globs of LAYERS_FILE match object names, not files

[ $# -ge 2 ] || { echo "usage: $0 LAYERS_FILE OBJECT.o..." >&2; exit 2; }
layers=$1; shift
command -v nm >/dev/null || { echo "check-layers: nm is not installed (binutils)" >&2; exit 2; }

# Patterns and their layer's rank (0 = lowest, -1 = "none"), in file order.
pats=() ranks=()
i=0
while IFS= read -r line; do
	line=${line%%#*}
	[[ $line == *:* ]] || continue
	lname=${line%%:*}; lname=${lname//[[:space:]]/}
	if [ "$lname" = none ]; then r=-1; else r=$i; i=$((i + 1)); fi
	for pat in ${line#*:}; do
		pats+=("$pat"); ranks+=("$r")
	done
done <"$layers"

# The rank of a basename, or nothing if no layer lists it.
rank_of() {
	local k
	for k in "${!pats[@]}"; do
		# shellcheck disable=SC2053 # the pattern is a glob on purpose
		if [[ $1 == ${pats[$k]} ]]; then echo "${ranks[$k]}"; return; fi
	done
}

declare -A rank
bad=0 n=0
for o in "$@"; do
	b=$(basename "$o" .o)
	[ -z "${rank[$b]+x}" ] || { echo "check-layers: two objects named $b.o" >&2; exit 2; }
	r=$(rank_of "$b")
	if [ -z "$r" ]; then
		echo "$b.o: in no layer of $layers" >&2
		bad=$((bad + 1))
	else
		rank[$b]=$r
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
	while read -r sym; do
		d=${def[$sym]:-}
		if [ -z "$d" ] || [ -z "${rank[$d]+x}" ]; then continue; fi
		if [ "${rank[$d]}" -gt "${rank[$b]}" ]; then
			echo "$b.o -> $sym (defined in $d.o, higher layer)"
			bad=$((bad + 1))
		elif [ "${rank[$d]}" -lt 0 ]; then
			echo "$b.o -> $sym (defined in $d.o, which is in no daemon layer)"
			bad=$((bad + 1))
		fi
	done < <(nm -u "$o" | awk '$1 == "U" { print $2 }' | sort -u)

	# Headers: the prerequisites of the .d file's first rule, those ending in .h.
	dep=${o%.o}.d
	[ -f "$dep" ] || continue
	while read -r h; do
		hb=$(basename "$h" .h)
		hr=$(rank_of "$hb")
		if [ -n "$hr" ] && [ "$hr" -gt "${rank[$b]}" ]; then
			echo "$b.o -> #include \"$hb.h\" (higher layer)"
			bad=$((bad + 1))
		fi
	done < <(sed -e '/^$/,$d' -e 's/\\$//' "$dep" | tr ' ' '\n' | grep '\.h$' | sort -u)
done

if [ "$bad" -gt 0 ]; then
	echo "layers: $bad violation(s) in $n objects (order: $layers)" >&2
	exit 1
fi
echo "layers: $n objects, every call and include goes to the same or a lower layer"
