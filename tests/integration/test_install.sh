#!/usr/bin/env bash
# Installed as a service: `make install DESTDIR=$tmp PREFIX=/usr` from this working tree, then
#  1. exactly the expected files, with their modes; a second install keeps a changed config;
#  2. systemd's own checks: `systemd-analyze verify` of the installed unit, its exposure
#     (`systemd-analyze security`, at most 2.0), and the sysusers.d and tmpfiles.d entries
#     applied to a copy of the tree (`--root`): user cgstat, its bpffs directory;
#  3. the man pages name every option and command of --help, and render without warnings;
#  4. the installed daemon, started with the installed unit's own ExecStart line (the
#     EnvironmentFile's variables expanded as systemd does: split at white space, nothing
#     else), in the unit's sandbox as far as it matters to the daemon: a stand-in for user
#     cgstat (nobody) holding exactly the unit's capabilities, bounding set and no_new_privs,
#     read-only / and cgroupfs, /sys/fs/bpf an empty read-only tmpfs with only the unit's
#     BindPaths= directory in it, /run/cgstat its own (RuntimeDirectory=). Those are bound, in
#     a private mount namespace, to unique directories of this test, so the paths on the
#     command line stay the unit's and nothing collides with another daemon. It must answer
#     /v1/health on its socket, let a member of its group use the installed CLI and refuse
#     anyone else, attach a cgroup made under an attach rule (the capability that needs), and
#     stop on SIGTERM, removing its socket;
#  5. a real `systemctl start`/`stop` of the unit, so that systemd's own sandbox and seccomp
#     filter are tested: by PID 1 where it is systemd, else by a systemd booted as PID 1 of
#     private namespaces (a named skip where neither can be had);
#  6. `make uninstall` leaves nothing but empty directories, and removes an unchanged config.
# Exit 0 pass, 77 skip (not root; a tool missing outside CI), anything else fail.
set -u
cd "$(dirname "$0")/../.." || exit 1
out=${OUTPUT:-build}
name=test_install

fail() { echo "$name: FAIL: $*" >&2; exit 1; }
note_skip() { [ -n "${TH_SKIP_FILE:-}" ] && echo "$1: $2" >>"$TH_SKIP_FILE"; echo "$name: skip $1: $2"; }

[ "$(id -u)" -eq 0 ] || { echo "$name: needs root"; exit 77; }
for t in make systemd-analyze systemd-sysusers systemd-tmpfiles curl setpriv unshare man; do
	command -v $t >/dev/null && continue
	[ "${CI:-}" = true ] && fail "$t is not installed (scripts/deps.sh --test installs it)"
	echo "$name: $t is not installed (scripts/deps.sh --test)"; exit 77
done
cgmount=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cgmount" ] || fail "no cgroup2 mount"
[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || fail "/sys/fs/bpf is not a bpf file system"

pid1_systemd=
[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ] && pid1_systemd=1
# The service's PrivateTmp= and ProtectHome= hide /tmp and /home: where the host's systemctl
# runs the installed daemon, the tree lives in /var/lib instead.
base=/tmp
[ -n "$pid1_systemd" ] && base=/var/lib
tmp=$(mktemp -d "$base/cgstat-test-install.XXXXXX") || fail "mktemp"
id=cgstat-test-install-$$
root=$tmp/root
hostbpf=/sys/fs/bpf/$id
cg=$cgmount/$id
pid='' unit='' sdpid='' upid='' sdcg=''
# Ends the namespaced systemd (its PID 1: the namespace goes with it) and removes its cgroups.
sd_stop() {
	local i
	[ -n "$sdpid" ] && kill -KILL "$sdpid" 2>/dev/null
	[ -n "$upid" ] && { kill -KILL "$upid" 2>/dev/null; wait "$upid" 2>/dev/null; }
	sdpid='' upid=''
	[ -n "$sdcg" ] && [ -d "$sdcg" ] || return 0
	for ((i = 0; i < 100; i++)); do
		find "$sdcg" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$sdcg" ] || break
		sleep 0.05
	done
	[ -d "$sdcg" ] && echo "$name: could not remove $sdcg" >&2
	sdcg=
}
cleanup() {
	sd_stop
	if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	if [ -n "$unit" ]; then
		systemctl stop "$unit" 2>/dev/null
		rm -f "/run/systemd/system/$unit"
		systemctl daemon-reload 2>/dev/null
	fi
	rm -rf "$hostbpf"
	[ -d "$cg" ] && { rmdir "$cg"/* 2>/dev/null; rmdir "$cg"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mk() { make -s --no-print-directory OUTPUT="$out" DESTDIR="$root" PREFIX=/usr "$@"; }

# --- 1. the files ----------------------------------------------------------------------------
mk install >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }
want="0644 etc/default/cgstatd
0755 usr/bin/cgstat
0644 usr/lib/systemd/system/cgstatd.service
0644 usr/lib/sysusers.d/cgstat.conf
0644 usr/lib/tmpfiles.d/cgstat.conf
0755 usr/sbin/cgstatd
0644 usr/share/man/man1/cgstat.1
0644 usr/share/man/man8/cgstatd.8"
got=$(cd "$root" && find . -type f -printf '%m %P\n' | sed 's/^\([0-7][0-7][0-7]\) /0\1 /' | sort -k2)
[ "$got" = "$want" ] || fail "installed files:
$got
expected:
$want"
unitfile=$root/usr/lib/systemd/system/cgstatd.service
grep -q '@[A-Z]*@' "$unitfile" && fail "placeholders left in the unit: $(grep '@[A-Z]*@' "$unitfile")"
echo '# changed by the operator' >>"$root/etc/default/cgstatd"
mk install >/dev/null 2>&1 || fail "second make install"
grep -q '^# changed by the operator' "$root/etc/default/cgstatd" || fail "a second install overwrote the config"
cp scripts/systemd/cgstatd.default "$root/etc/default/cgstatd"

# Values of KEY= lines of the installed unit, one per line.
unit_get() { sed -n "s/^$1=//p" "$unitfile"; }

# --- 2. systemd's checks ---------------------------------------------------------------------
# verify checks that ExecStart's program exists: it is under DESTDIR, not at the path the unit
# names, so a copy with only that path rewritten is verified (MANPATH: Documentation= finds the
# installed man pages). That the named path is the installed binary is checked here first.
exe=$(unit_get ExecStart | awk '{ print $1 }')
[ "$exe" = /usr/sbin/cgstatd ] || fail "ExecStart runs '$exe', not the installed /usr/sbin/cgstatd"
mkdir -p "$tmp/verify"
sed "s|^ExecStart=$exe |ExecStart=$root$exe |" "$unitfile" >"$tmp/verify/cgstatd.service"
vout=$(MANPATH=$root/usr/share/man systemd-analyze verify "$tmp/verify/cgstatd.service" 2>&1)
[ $? -eq 0 ] && [ -z "$vout" ] || fail "systemd-analyze verify: $vout"
sout=$(systemd-analyze security --offline=true --threshold=20 "$tmp/verify/cgstatd.service" 2>&1)
src=$?
score=$(printf '%s\n' "$sout" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "$name: systemd-analyze security: exposure $score"
[ $src -eq 0 ] || fail "exposure ${score:-?} is over 2.0:
$(printf '%s\n' "$sout" | grep '✗')"
cp -a "$root" "$tmp/sysroot"
systemd-sysusers --root="$tmp/sysroot" >/dev/null 2>&1 || fail "systemd-sysusers --root"
uid=$(awk -F: '$1 == "cgstat" { print $3 }' "$tmp/sysroot/etc/passwd")
gid=$(awk -F: '$1 == "cgstat" { print $3 }' "$tmp/sysroot/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || fail "sysusers.d made no user and group cgstat"
systemd-tmpfiles --root="$tmp/sysroot" --create >/dev/null 2>&1 || fail "systemd-tmpfiles --root --create"
bind=$(unit_get BindPaths)
[ "$(stat -c '%u:%g %a' "$tmp/sysroot$bind" 2>/dev/null)" = "$uid:$gid 700" ] ||
	fail "tmpfiles.d did not make $bind 0700 cgstat:cgstat for BindPaths="
rm -rf "$tmp/sysroot"

# --- 3. man pages ----------------------------------------------------------------------------
roff_has() { sed 's/\\-/-/g' "$1" | grep -qF -- "$2"; }
for f in $("$root/usr/sbin/cgstatd" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u) -h; do
	roff_has "$root/usr/share/man/man8/cgstatd.8" "$f" || fail "cgstatd(8) does not document $f"
done
cmds=$("$root/usr/bin/cgstat" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$cmds" ] || fail "no commands in cgstat --help"
for c in $cmds; do
	sed 's/\\-/-/g' "$root/usr/share/man/man1/cgstat.1" | grep -qE "^\.B[IR]? $c( |$)" ||
		fail "cgstat(1) does not document the command $c"
	for f in $("$root/usr/bin/cgstat" help "$c" | grep -oE -- '(^|[ [|])--?[a-z][a-z-]*' | grep -oE -- '--?[a-z-]+'); do
		roff_has "$root/usr/share/man/man1/cgstat.1" "$f" || fail "cgstat(1) does not document $f of $c"
	done
done
for f in $("$root/usr/bin/cgstat" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
	roff_has "$root/usr/share/man/man1/cgstat.1" "$f" || fail "cgstat(1) does not document $f"
done
for m in man8/cgstatd.8 man1/cgstat.1; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/$m" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "$m: $w"
done

# --- 4. the unit's command line, in its sandbox ----------------------------------------------
read -r -a words <<<"$(unit_get ExecStart)"
envfile=$(unit_get EnvironmentFile)
envfile=${envfile#-}
argv=("$root${words[0]}")
set -f
for w in "${words[@]:1}"; do
	if [[ $w =~ ^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$ ]]; then
		v=$(env -i bash -c 'set -a; . "$1" && printf %s "${!2:-}"' _ "$root$envfile" "${BASH_REMATCH[1]}") ||
			fail "cannot read $envfile"
		read -r -a split <<<"$v"
		argv+=("${split[@]}")
	else
		[[ $w == *'$'* ]] && fail "ExecStart word '$w': only whole-word \$VAR is handled here"
		argv+=("$w")
	fi
done
set +f
echo "$name: ExecStart: ${argv[*]#$root}"
sock='' pinpath=''
for ((i = 1; i < ${#argv[@]}; i++)); do
	case ${argv[i]} in --socket) sock=${argv[i + 1]} ;; --pin-path) pinpath=${argv[i + 1]} ;; esac
done
rundir=/run/$(unit_get RuntimeDirectory)
[ "${sock%/*}" = "$rundir" ] || fail "the socket $sock is not in RuntimeDirectory= ($rundir)"
[ "${pinpath%/*}" = "$bind" ] || fail "the pin path $pinpath is not in BindPaths= ($bind)"
tfs=$(unit_get TemporaryFileSystem)
[ "${tfs%%:*}" = "${bind%/*}" ] || fail "BindPaths= $bind is not in TemporaryFileSystem= $tfs"
caps=$(unit_get AmbientCapabilities | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd,)
bset=$(unit_get CapabilityBoundingSet | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd,)
[ -n "$caps" ] && [ -n "$bset" ] || fail "no AmbientCapabilities= or CapabilityBoundingSet="
nnp=
[ "$(unit_get NoNewPrivileges)" = yes ] && nnp=--no-new-privs
group=$(for ((i = 1; i < ${#argv[@]}; i++)); do [ "${argv[i]}" = --group ] && echo "${argv[i + 1]}"; done | tail -1)
# The stand-in user: nobody, and the socket's group named as in the unit, in a copy of
# /etc/group bound over it in the namespace.
suid=$(id -u nobody 2>/dev/null || echo 65534)
sgid=$(id -g nobody 2>/dev/null || echo 65534)
chmod 0755 "$tmp"
mkdir -m 0750 "$tmp/run" "$tmp/stage" && chown "$suid:$sgid" "$tmp/run" || fail "mkdir"
cp /etc/group "$tmp/group" && echo "${group:-cgstat}:x:$sgid:" >>"$tmp/group"
mkdir -m 0700 "$hostbpf" && chown "$suid:$sgid" "$hostbpf" || fail "mkdir $hostbpf"
mkdir "$cg" || fail "mkdir $cg"
# unshare without --fork: one PID from here to the daemon (each step execs the next).
unshare -m --propagation private bash -c '
	set -e
	tmp=$1 hostbpf=$2 tfs=$3 bind=$4 rundir=$5 cgmount=$6; shift 6
	mount --bind "$hostbpf" "$tmp/stage"
	mount -t tmpfs -o mode=0755 tmpfs "${tfs%%:*}"
	mkdir "$bind" && mount --move "$tmp/stage" "$bind"
	mount -o remount,ro "${tfs%%:*}"
	mount -t tmpfs -o mode=0755 tmpfs /run && mkdir "$rundir" && mount --bind "$tmp/run" "$rundir"
	mount --bind "$tmp/group" /etc/group
	for m in / "$cgmount"; do mount -o remount,bind,ro "$m"; done
	exec "$@"' _ "$tmp" "$hostbpf" "$tfs" "$bind" "$rundir" "$cgmount" \
	setpriv --reuid="$suid" --regid="$sgid" --clear-groups --inh-caps=-all,"$caps" \
	--ambient-caps=-all,"$caps" --bounding-set=-all,"$bset" $nnp \
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${argv[@]}" 2>"$tmp/daemon.log" &
pid=$!
hsock=$tmp/run/${sock##*/}
c() { curl -sS --max-time 10 --unix-socket "$hsock" "$@"; }
dead() { sed 's/^/    daemon log: /' "$tmp/daemon.log" >&2; fail "$@"; }
for ((i = 0; i < 200; i++)); do
	[ -S "$hsock" ] && c -o /dev/null http://localhost/v1/health 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { wait "$pid"; dead "the daemon exited (status $?) before answering"; }
	sleep 0.05
done
health=$(c http://localhost/v1/health) || dead "no answer on $hsock within 10 s"
[[ $health == *'"status":"ok"'* && $health == *'"collection":"enabled"'* ]] || dead "health: $health"
[ "$(stat -c '%a %u %g' "$hsock")" = "660 $suid $sgid" ] ||
	dead "socket: $(stat -c '%a %u %g' "$hsock"), expected 660 $suid $sgid"
cli() { setpriv --reuid=65533 --regid=65533 "$@" env CGSTAT_SOCKET="$hsock" "$root/usr/bin/cgstat" health; }
cli --groups="$sgid" >/dev/null 2>"$tmp/cli.err" || dead "a member of the socket's group: $(cat "$tmp/cli.err")"
cli --clear-groups >/dev/null 2>&1 && dead "a user outside the socket's group could use the CLI"
# Attach rules look a new cgroup's id up as a path (open_by_handle_at): the capability for it.
c -o /dev/null -f -X PUT "http://localhost/v1/attach-rules/$id/*" || dead "PUT attach rule"
mkdir "$cg/child" || dead "mkdir $cg/child"
for ((i = 0; i < 200; i++)); do
	rules=$(c http://localhost/v1/attach-rules) || dead "GET attach rules"
	[[ $rules == *'"attached":1'* ]] && break
	sleep 0.05
done
[[ $rules == *'"attached":1'* ]] || dead "a cgroup made under an attach rule was not attached in 10 s: $rules"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || dead "exit status $rc after SIGTERM"
[ -e "$hsock" ] && dead "the socket is still there after SIGTERM"
pins=$hostbpf/${pinpath##*/}
[ "$(find "$pins" -type f | wc -l)" -gt 0 ] || dead "nothing pinned in $pins"
[ -z "$(find "$pins" ! -uid "$suid")" ] || dead "pins not made by the unit's user: $(ls -ln "$pins")"
grep -q 'level=error' "$tmp/daemon.log" && dead "errors logged"
rm -rf "${hostbpf:?}"/*
echo "$name: the unit's ExecStart answered on its socket as the stand-in user with $caps"

# --- 5. systemctl ----------------------------------------------------------------------------
# The installed unit under another name, run by nobody, with the tree's binary, this test's bpffs
# directory and config; its sandbox untouched. Where PID 1 is systemd, by it; elsewhere by a
# systemd booted as PID 1 of private pid, mount, uts, net and cgroup namespaces (cgroup2 only, no
# default dependencies pulled in, /proc/sys and /sys read-only to it), so that the sandbox is
# systemd's own, seccomp filter included.
# test_unit BIN_DIR CONF: the unit, rewritten, on stdout.
# A daemon built with AddressSanitizer (make asan) has its leak check off there: that check stops
# the process with ptrace at exit, which the unit's seccomp filter and NoNewPrivileges refuse, so
# the daemon exits 1 after a clean stop.
sanitized_env=
grep -qa __asan_init "$root$exe" 2>/dev/null && sanitized_env='Environment=ASAN_OPTIONS=detect_leaks=0'
test_unit() {
	sed -e "s|^ExecStart=$exe |ExecStart=$1$exe |" -e "s|^EnvironmentFile=.*|EnvironmentFile=$2|" \
		-e "s|$bind|$hostbpf|g" -e 's|^User=.*|User=nobody|' -e "s|^Group=.*|Group=$(id -gn nobody)|" \
		-e "s|^\\[Service\\]|[Service]${sanitized_env:+\\n$sanitized_env}|" "$unitfile"
}
# health SOCKET [NSENTER...]: waits up to 10 s for /v1/health to answer.
health() {
	local s=$1 i
	shift
	for ((i = 0; i < 200; i++)); do
		"$@" curl -sS -f --max-time 10 --unix-socket "$s" -o /dev/null http://localhost/v1/health 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
cp "$root$envfile" "$tmp/default" && sed -i "s/--group [^ \"]*/--group $(id -gn nobody)/" "$tmp/default"
sdbin=$(for p in /lib/systemd/systemd /usr/lib/systemd/systemd; do [ -x $p ] && echo $p && break; done)
if [ -n "$pid1_systemd" ]; then
	unit=cgstatd-test-$$.service
	test_unit "$root" "$tmp/default" | sed -e "s|$rundir/|/run/$id/|g" -e "s|^RuntimeDirectory=.*|RuntimeDirectory=$id|" \
		>"/run/systemd/system/$unit"
	systemctl daemon-reload || fail "systemctl daemon-reload"
	systemctl start "$unit" || fail "systemctl start: $(systemctl status "$unit" 2>&1 | tail -20)"
	health "/run/$id/${sock##*/}" || fail "systemctl: no answer: $(journalctl -u "$unit" -n 20 --no-pager 2>&1)"
	systemctl stop "$unit" || fail "systemctl stop"
	st=$(systemctl show -p ActiveState -p ExecMainStatus "$unit" | sort | paste -sd' ')
	[ "$st" = "ActiveState=inactive ExecMainStatus=0" ] || fail "after systemctl stop: $st"
	rm -f "/run/systemd/system/$unit"
	systemctl daemon-reload
	unit=
	echo "$name: systemctl start/stop of the unit (systemd is PID 1)"
elif [ -z "$sdbin" ] || ! command -v nsenter >/dev/null; then
	note_skip "systemctl start/stop" "PID 1 is $(cat /proc/1/comm 2>/dev/null), not systemd, and no systemd to boot in namespaces"
else
	sdcg=$cgmount/$id-systemd
	mkdir "$sdcg" "$tmp/units" || fail "mkdir $sdcg"
	: >"$tmp/console"
	# In the namespaces /run is systemd's own tmpfs; the tree is bound to /run/cgstat-test
	# (the service's PrivateTmp= hides /tmp).
	test_unit /run/cgstat-test/root /run/cgstat-test/default |
		sed -e 's|^\[Unit\]|[Unit]\nDefaultDependencies=no|' \
		    -e 's|^\[Service\]|[Service]\nStandardError=append:/run/cgstat-test/daemon.err|' \
		>"$tmp/units/cgstatd-test.service"
	printf '[Unit]\nDescription=test_install\nDefaultDependencies=no\n' >"$tmp/units/cgstat-test.target"
	( echo "$BASHPID" >"$sdcg/cgroup.procs" &&
	exec unshare --pid --fork --mount --uts --net --cgroup --propagation private bash -c '
		set -e
		tmp=$1 sdbin=$2
		mount -t proc proc /proc
		mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
		mount -t tmpfs -o mode=0755 tmpfs /run
		mkdir -p /run/systemd/system /run/cgstat-test
		cp "$tmp"/units/* /run/systemd/system/
		mount --bind "$tmp" /run/cgstat-test
		mount --bind "$tmp/console" /dev/console
		umount -R -l /sys/fs/cgroup
		mount -t cgroup2 cgroup2 /sys/fs/cgroup
		mount -o remount,bind,ro /sys
		exec env -i container=cgstat-test SYSTEMD_PROC_CMDLINE=systemd.unified_cgroup_hierarchy=1 \
			"$sdbin" --unit=cgstat-test.target --log-target=console' _ "$tmp" "$sdbin" ) >"$tmp/boot.log" 2>&1 &
	upid=$!
	sdpid=
	for ((i = 0; i < 400; i++)); do
		[ -z "$sdpid" ] && sdpid=$(pgrep -P "$upid")
		[ -n "$sdpid" ] && nsenter -t "$sdpid" -m -p -u -n -C systemctl is-system-running >/dev/null 2>&1 && break
		kill -0 "$upid" 2>/dev/null || break
		sleep 0.05
	done
	ns() { nsenter -t "$sdpid" -m -p -u -n -C "$@"; }
	if [ -z "$sdpid" ] || ! ns systemctl is-system-running >/dev/null 2>&1; then
		note_skip "systemctl start/stop" "PID 1 is $(cat /proc/1/comm 2>/dev/null), not systemd, and systemd did not boot in namespaces: $(tail -3 "$tmp/boot.log" "$tmp/console" | tr '\n' ' ')"
	else
		ns systemctl start cgstatd-test.service ||
			fail "systemctl start: $(ns systemctl status cgstatd-test.service 2>&1 | tail -20)"
		health "$rundir/${sock##*/}" ns || {
			ns systemctl status cgstatd-test.service 2>&1 | tail -20 >&2
			fail "systemctl: no answer on $sock: $(grep -v level=debug "$tmp/daemon.err" | tail -5)"
		}
		perm=$(ns stat -c '%a %U' "$rundir" "$sock" | paste -sd' ')
		[ "$perm" = "750 nobody 660 nobody" ] || fail "systemctl: $rundir and $sock are $perm"
		ns systemctl stop cgstatd-test.service || fail "systemctl stop"
		st=$(ns systemctl show -p ActiveState -p ExecMainStatus cgstatd-test.service | sort | paste -sd' ')
		[ "$st" = "ActiveState=inactive ExecMainStatus=0" ] ||
			fail "after systemctl stop: $st: $(grep -v level=debug "$tmp/daemon.err" | tail -5)"
		[ "$(find "$hostbpf/${pinpath##*/}" -type f | wc -l)" -gt 0 ] || fail "systemctl: nothing pinned"
		echo "$name: systemctl start/stop of the unit (systemd $(ns systemctl --version | awk 'NR == 1 { print $2 }') as PID 1 of namespaces)"
	fi
	sd_stop
fi
rm -rf "${hostbpf:?}"/*

# --- 6. uninstall ----------------------------------------------------------------------------
mk uninstall >"$tmp/uninstall.log" 2>&1 || { cat "$tmp/uninstall.log"; fail "make uninstall"; }
left=$(find "$root" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
mk install >/dev/null 2>&1 && echo '# changed' >>"$root/etc/default/cgstatd" &&
	mk uninstall >/dev/null 2>&1 || fail "install, change the config, uninstall"
left=$(cd "$root" && find . ! -type d -printf '%P\n')
[ "$left" = etc/default/cgstatd ] || fail "uninstall after a config change left: '$left' (expected the config only)"
echo "$name: install, verify (exposure $score), run, uninstall: ok"
exit 0
