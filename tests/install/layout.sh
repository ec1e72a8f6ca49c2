#!/bin/sh
# layout.sh TIERGATE: `make install` into a temporary DESTDIR and check
# what lands where (issue 9).
#
#  - PREFIX=/usr installs exactly: /usr/bin/tiergate, the rules and catalog
#    under /usr/share/tiergate/rules, openapi.yaml (when docs/ has one),
#    /etc/tiergate/tiergate.yaml, tiergate(1), tiergate.yaml(5),
#    tiergate-rules(5), the systemd unit, sysusers.d and tmpfiles.d files,
#    each with its mode;
#  - the installed binary runs (--version) and lints the installed rules;
#    `serve` accepts the installed configuration and starts;
#  - the unit is the hardened one: `systemd-analyze verify` accepts it and
#    `systemd-analyze security --offline=yes` rates it 2.0 or better (both
#    skipped when systemd-analyze is missing); the man pages render
#    without warnings (skipped without man);
#  - a second install keeps an edited configuration; `make uninstall`
#    removes every file but that one;
#  - PREFIX=/usr/local puts the configuration under /usr/local/etc and
#    rewrites the paths in it and in the unit.
#
# TIERGATE is the binary under test (build/tiergate or build/san/tiergate):
# make is told not to rebuild it (-o), so exactly that binary is
# installed.  Needs no root and no network.  Ends with "N passed, N
# failed"; exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/install/layout.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
TOP=$(pwd)
[ -x "$TG" ] || { echo "layout: no binary '$TG'" >&2; exit 2; }

# The make target of the binary, and the build flavour that owns it.
case $TG in
"$TOP"/build/san/tiergate)
	BINT=build/san/tiergate
	set -- SANITIZE=address,undefined
	;;
"$TOP"/build/tiergate)
	BINT=build/tiergate
	set --
	;;
*)
	echo "layout: '$TG' is not this tree's build/tiergate or" \
	    "build/san/tiergate" >&2
	exit 2
	;;
esac

T=$(mktemp -d) || exit 2
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
	if [ -s "$T/err" ]; then
		sed 's/^/#   /' "$T/err" | head -n 15
	fi
}
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# mk ARGS...: this tree's make, without the MAKEFLAGS of a calling make
# (make test passes its own variables down), never rebuilding the binary.
mk() {
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
	    make --no-print-directory -s -o "$BINT" "$@" >"$T/err" 2>&1
}

# mode PATH: the octal mode, e.g. 644.
mode() {
	stat -c %a "$1"
}

VERSION=$(sed -n 's/^#define TIERGATE_VERSION "\(.*\)"$/\1/p' \
    daemon/cli/main.c)

# ---- PREFIX=/usr ------------------------------------------------------
D=$T/usr-root
if mk install PREFIX=/usr DESTDIR="$D" "$@"; then
	ok "make install PREFIX=/usr DESTDIR=..."
else
	not_ok "make install PREFIX=/usr DESTDIR=..."
fi

# The expected file list, with modes.
: >"$T/want"
echo "755 usr/bin/tiergate" >>"$T/want"
for f in rules/*.yaml; do
	echo "644 usr/share/tiergate/$f" >>"$T/want"
done
[ -f docs/openapi.yaml ] &&
    echo "644 usr/share/tiergate/openapi.yaml" >>"$T/want"
{
	echo "644 etc/tiergate/tiergate.yaml"
	echo "644 usr/share/man/man1/tiergate.1"
	echo "644 usr/share/man/man5/tiergate.yaml.5"
	echo "644 usr/share/man/man5/tiergate-rules.5"
	echo "644 usr/lib/systemd/system/tiergate.service"
	echo "644 usr/lib/sysusers.d/tiergate.conf"
	echo "644 usr/lib/tmpfiles.d/tiergate.conf"
} >>"$T/want"
# Every .5 page in docs/ is installed, so a new one is expected too.
for m in docs/*.5; do
	[ -f "$m" ] && echo "644 usr/share/man/man5/${m#docs/}" >>"$T/want"
done
sort -u -k2 "$T/want" -o "$T/want"
(cd "$D" 2>/dev/null && find . -type f -printf '%m %P\n' | sort -k2) \
    >"$T/got"
if diff "$T/want" "$T/got" >"$T/err"; then
	ok "installed files and modes ($(wc -l <"$T/got") files)"
else
	not_ok "installed files and modes (- expected, + installed)"
fi
: >"$T/err"

check "/etc/tiergate/tiergate.yaml: data_dir /var/lib/tiergate" \
    grep -qx 'data_dir: /var/lib/tiergate' "$D/etc/tiergate/tiergate.yaml"
check "/etc/tiergate/tiergate.yaml: rules /usr/share/tiergate/rules" \
    grep -qx '  - /usr/share/tiergate/rules' "$D/etc/tiergate/tiergate.yaml"

U=$D/usr/lib/systemd/system/tiergate.service
check "unit: ExecStart runs /usr/bin/tiergate with /etc's config" \
    grep -qx 'ExecStart=/usr/bin/tiergate -c /etc/tiergate/tiergate.yaml serve' "$U"
missing=
for line in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' \
    User=tiergate StateDirectory=tiergate StateDirectoryMode=0700 \
    ConfigurationDirectory=tiergate NoNewPrivileges=yes \
    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    PrivateDevices=yes CapabilityBoundingSet= \
    SystemCallFilter=@system-service SystemCallArchitectures=native \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
    MemoryDenyWriteExecute=yes LockPersonality=yes RestrictRealtime=yes \
    RestrictNamespaces=yes RestrictSUIDSGID=yes \
    ProtectKernelTunables=yes ProtectKernelModules=yes \
    ProtectKernelLogs=yes ProtectControlGroups=yes ProtectClock=yes \
    ProtectHostname=yes ProtectProc=invisible ProcSubset=pid \
    UMask=0077 WantedBy=multi-user.target; do
	grep -qxF "$line" "$U" || missing="$missing '$line'"
done
: >"$T/err"
[ -n "$missing" ] && echo "missing:$missing" >"$T/err"
check "unit: the hardening set of issue 8" test -z "$missing"
check "sysusers.d: user tiergate, home /var/lib/tiergate" \
    grep -q '^u tiergate - .* /var/lib/tiergate ' \
    "$D/usr/lib/sysusers.d/tiergate.conf"
check "tmpfiles.d: /var/lib/tiergate 0700 tiergate" \
    grep -qx 'd /var/lib/tiergate 0700 tiergate tiergate -' \
    "$D/usr/lib/tmpfiles.d/tiergate.conf"

# ---- the installed binary ---------------------------------------------
# From an empty directory, so no source tree's ./rules is picked up.
mkdir "$T/cwd"
out=$(cd "$T/cwd" && "$D/usr/bin/tiergate" --version 2>"$T/err")
check "installed tiergate --version prints 'tiergate $VERSION'" \
    test "$out" = "tiergate $VERSION"
out=$(cd "$T/cwd" && "$D/usr/bin/tiergate" \
    --rules "$D/usr/share/tiergate/rules" rules lint 2>"$T/err")
check "installed tiergate lints the installed rules: '$out'" \
    test "$out" = "rules OK"
# Without --rules, the binary finds PREFIX/share/tiergate/rules next to
# itself -- unless a system-wide /usr/share/tiergate/rules (an installed
# package) comes first.
if [ ! -d /usr/share/tiergate/rules ]; then
	out=$(cd "$T/cwd" && "$D/usr/bin/tiergate" rules lint 2>"$T/err")
	check "installed tiergate finds its rules next to itself" \
	    test "$out" = "rules OK"
else
	ok "# SKIP rules next to the binary: /usr/share/tiergate/rules exists"
fi

# serve with the installed configuration: it must parse.  The rules and
# data dir are redirected (the configuration's are outside DESTDIR), and
# port 0 picks a free port.
mkdir -m 700 "$T/data"
(cd "$T/cwd" && exec env TIERGATE_DATA_DIR="$T/data" \
    "$D/usr/bin/tiergate" --rules "$D/usr/share/tiergate/rules" \
    -c "$D/etc/tiergate/tiergate.yaml" serve --listen 127.0.0.1:0) \
    >/dev/null 2>"$T/serve.err" &
pid=$!
i=0
while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null &&
    ! grep -q 'ready on port' "$T/serve.err"; do
	sleep 0.1
	i=$((i + 1))
done
cp "$T/serve.err" "$T/err"
check "serve starts with the installed tiergate.yaml" \
    grep -q 'ready on port' "$T/serve.err"
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
pid=
cp "$T/serve.err" "$T/err"
check "serve stops on SIGTERM with status 0 (got $rc)" test "$rc" -eq 0

# ---- systemd-analyze and man ------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify checks that ExecStart's binary exists: point it into DESTDIR.
	sed "s|^ExecStart=/usr/bin/tiergate |ExecStart=$D/usr/bin/tiergate |" \
	    "$U" >"$T/tiergate.service"
	systemd-analyze verify --man=no "$T/tiergate.service" >"$T/err" 2>&1
	rc=$?
	# verify exits 0 even for some warnings it prints: want silence.
	check "systemd-analyze verify accepts the unit (status $rc)" \
	    test "$rc" -eq 0 -a ! -s "$T/err"
	systemd-analyze security --offline=yes "$T/tiergate.service" \
	    >"$T/err" 2>&1
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
	    "$T/err")
	check "systemd-analyze security: exposure ${score:-?} <= 2.0" \
	    awk -v s="${score:-99}" 'BEGIN { exit !(s + 0 <= 2.0) }'
else
	ok "# SKIP systemd-analyze: not installed"
fi
if command -v man >/dev/null 2>&1; then
	for m in "$D"/usr/share/man/man*/*; do
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$m" \
		    2>"$T/err" >/dev/null
		# man prints groff's warnings on stderr and still exits 0.
		check "man page ${m##*/} renders without warnings" \
		    test ! -s "$T/err"
	done
else
	ok "# SKIP man pages: man is not installed"
fi
: >"$T/err"

# ---- reinstall and uninstall ------------------------------------------
echo "# edited" >>"$D/etc/tiergate/tiergate.yaml"
mk install PREFIX=/usr DESTDIR="$D" "$@"
check "a second make install keeps the edited tiergate.yaml" \
    grep -qx '# edited' "$D/etc/tiergate/tiergate.yaml"
mk uninstall PREFIX=/usr DESTDIR="$D"
(cd "$D" && find . -type f -printf '%P\n') >"$T/err"
check "make uninstall leaves only the edited tiergate.yaml" \
    test "$(cat "$T/err")" = "etc/tiergate/tiergate.yaml"
: >"$T/err"

# ---- PREFIX=/usr/local --------------------------------------------------
L=$T/local-root
if mk install PREFIX=/usr/local DESTDIR="$L" "$@"; then
	ok "make install PREFIX=/usr/local DESTDIR=..."
else
	not_ok "make install PREFIX=/usr/local DESTDIR=..."
fi
check "PREFIX=/usr/local: tiergate.yaml under /usr/local/etc, its rules in /usr/local/share" \
    grep -qx '  - /usr/local/share/tiergate/rules' \
    "$L/usr/local/etc/tiergate/tiergate.yaml"
check "PREFIX=/usr/local: the unit runs /usr/local/bin/tiergate with /usr/local/etc's config" \
    grep -qx 'ExecStart=/usr/local/bin/tiergate -c /usr/local/etc/tiergate/tiergate.yaml serve' \
    "$L/usr/local/lib/systemd/system/tiergate.service"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
