#!/bin/sh
# deb.sh: build the Debian package with `make deb` and check it (issue 9).
#
#  - build/tiergate_VERSION_ARCH.deb exists; dpkg-deb -I shows its name,
#    version and architecture, the maintainer scripts, and
#    /etc/tiergate/tiergate.yaml as its only conffile; dpkg-deb -c lists
#    every file the package must ship;
#  - lintian reports no errors (skipped when lintian is missing; warnings
#    are printed, not counted);
#  - dpkg --root installs it into a throwaway root, running the maintainer
#    scripts outside a chroot with DPKG_ROOT set: they create the tiergate
#    user and group in that root, the data dir (0700, tiergate), the
#    configuration's statoverride (0640, group tiergate) and enable the
#    unit; the packaged binary lints the packaged rules;
#  - remove keeps the data dir; purge deletes it and the statoverride;
#  - nothing of this touches the host's own users, dpkg database or units.
#
# Not part of `make test`: it needs root (dpkg --root, chown in the
# maintainer scripts), dpkg-dev and debhelper, and takes about
# 15 s.  Run it as root: sh tests/install/deb.sh.  Ends with "N passed,
# N failed"; exits 1 if any test failed.
set -u

cd "$(dirname "$0")/../.." || exit 2
[ "$(id -u)" -eq 0 ] || { echo "deb.sh: run as root (dpkg --root)" >&2; exit 2; }
for t in dpkg-deb dpkg-buildpackage dh; do
	command -v $t >/dev/null 2>&1 || { echo "deb.sh: '$t' missing;" \
	    "apt-get install dpkg-dev debhelper" >&2; exit 2; }
done

T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
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
		sed 's/^/#   /' "$T/err" | head -n 20
	fi
}
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

VERSION=$(sed -n 's/^#define TIERGATE_VERSION "\(.*\)"$/\1/p' \
    daemon/cli/main.c)
ARCH=$(dpkg --print-architecture)
DEB=build/tiergate_${VERSION}_${ARCH}.deb

rm -f "$DEB"
env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory deb \
    >"$T/build.log" 2>&1
rc=$?
tail -n 15 "$T/build.log" >"$T/err"
check "make deb builds $DEB (status $rc)" test "$rc" -eq 0 -a -f "$DEB"
[ -f "$DEB" ] || { echo "$pass passed, $fail failed"; exit 1; }
: >"$T/err"

# ---- dpkg-deb -I ------------------------------------------------------
dpkg-deb -I "$DEB" >"$T/info"
for f in "Package: tiergate" "Version: $VERSION" "Architecture: $ARCH"; do
	check "dpkg-deb -I: $f" grep -qx " $f" "$T/info"
done
for s in postinst postrm prerm; do
	check "dpkg-deb -I: has a $s script" grep -qE "^ +[0-9]+ bytes.* $s " \
	    "$T/info"
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles >"$T/conffiles"
check "the only conffile is /etc/tiergate/tiergate.yaml" \
    test "$(cat "$T/conffiles")" = "/etc/tiergate/tiergate.yaml"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./postinst >"$T/postinst"
check "postinst runs systemd-sysusers, else adduser --system" \
    grep -q 'systemd-sysusers.*tiergate.conf' "$T/postinst"
check "postinst enables tiergate.service (dh_installsystemd)" \
    grep -q "deb-systemd-helper enable 'tiergate.service'" "$T/postinst"

# ---- dpkg-deb -c ------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $1, $2, $NF }' >"$T/contents"
for f in "-rwxr-xr-x ./usr/bin/tiergate" \
    "-rw-r--r-- ./etc/tiergate/tiergate.yaml" \
    "-rw-r--r-- ./lib/systemd/system/tiergate.service" \
    "-rw-r--r-- ./usr/lib/sysusers.d/tiergate.conf" \
    "-rw-r--r-- ./usr/lib/tmpfiles.d/tiergate.conf" \
    "-rw-r--r-- ./usr/share/man/man1/tiergate.1.gz" \
    "-rw-r--r-- ./usr/share/man/man5/tiergate.yaml.5.gz" \
    "-rw-r--r-- ./usr/share/man/man5/tiergate-rules.5.gz" \
    "-rw-r--r-- ./usr/share/doc/tiergate/copyright"; do
	m=${f%% *}
	p=${f#* }
	check "dpkg-deb -c: $p ($m root/root)" grep -qxF -e "$m root/root $p" \
	    "$T/contents"
done
for r in rules/*.yaml; do
	check "dpkg-deb -c: ./usr/share/tiergate/$r" \
	    grep -qF " ./usr/share/tiergate/$r" "$T/contents"
done
if [ -f docs/openapi.yaml ]; then
	check "dpkg-deb -c: ./usr/share/tiergate/openapi.yaml" \
	    grep -qF " ./usr/share/tiergate/openapi.yaml" "$T/contents"
fi
check "the package ships nothing under /var (the data dir is made)" \
    test -z "$(grep ' \./var/' "$T/contents")"

# ---- lintian ------------------------------------------------------------
if command -v lintian >/dev/null 2>&1; then
	lintian --pedantic --display-info "$DEB" >"$T/lintian" 2>&1
	sed -n 's/^\([EWIP]\): /\1: /p' "$T/lintian" | sort -u |
	    sed 's/^/# lintian /'
	grep '^E: ' "$T/lintian" >"$T/err"
	check "lintian: no errors" test ! -s "$T/err"
else
	ok "# SKIP lintian: not installed"
fi
: >"$T/err"

# ---- install into a throwaway root ------------------------------------
# The host's state before, to show that nothing leaks out of the root.
host_before=$(cat /etc/passwd /etc/group /var/lib/dpkg/statoverride \
    2>/dev/null | cksum; find /etc/systemd /var/lib/systemd -printf '%p %l\n' 2>/dev/null | sort | cksum)
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
# --force-depends: the root has no libc; the scripts run on the host
# (--force-script-chrootless) with DPKG_ROOT=$R.
dpkg_root() {
	dpkg --root="$R" --log="$T/dpkg.log" --force-script-chrootless \
	    --force-depends "$@" >"$T/err" 2>&1
}
dpkg_root -i "$DEB"
check "dpkg --root -i installs it" test $? -eq 0
check "postinst made the tiergate user in the root" \
    grep -q '^tiergate:x:[0-9]*:[0-9]*:.*:/var/lib/tiergate:/usr/sbin/nologin$' \
    "$R/etc/passwd"
gid=$(sed -n 's/^tiergate:[^:]*:\([0-9]*\):.*/\1/p' "$R/etc/group")
uid=$(sed -n 's/^tiergate:[^:]*:\([0-9]*\):.*/\1/p' "$R/etc/passwd")
check "... and its group (gid ${gid:-none})" test -n "$gid"
check "the data dir /var/lib/tiergate is 0700, owned by tiergate" \
    test "$(stat -c '%a %u %g' "$R/var/lib/tiergate" 2>&1)" = \
    "700 $uid $gid"
check "tiergate.yaml is 0640 root:tiergate" \
    test "$(stat -c '%a %u %g' "$R/etc/tiergate/tiergate.yaml" 2>&1)" = \
    "640 0 $gid"
check "... through a statoverride" grep -qx \
    "root #\{0,1\}[a-z0-9-]* 640 /etc/tiergate/tiergate.yaml" \
    "$R/var/lib/dpkg/statoverride"
check "the unit is enabled (multi-user.target.wants)" test -L \
    "$R/etc/systemd/system/multi-user.target.wants/tiergate.service"
out=$(cd "$T" && "$R/usr/bin/tiergate" --version 2>"$T/err")
check "the packaged binary runs: '$out'" test "$out" = "tiergate $VERSION"
out=$(cd "$T" && "$R/usr/bin/tiergate" \
    --rules "$R/usr/share/tiergate/rules" rules lint 2>"$T/err")
check "the packaged binary lints the packaged rules: '$out'" \
    test "$out" = "rules OK"

# ---- remove and purge ---------------------------------------------------
echo "a decision" >"$R/var/lib/tiergate/tiergate.db"
dpkg_root -r tiergate
check "dpkg -r removes it" test $? -eq 0
check "remove keeps the data dir" test -f "$R/var/lib/tiergate/tiergate.db"
check "remove keeps the configuration" \
    test -f "$R/etc/tiergate/tiergate.yaml"
check "remove deletes the binary" test ! -e "$R/usr/bin/tiergate"
dpkg_root -P tiergate
check "dpkg -P purges it" test $? -eq 0
check "purge deletes the data dir" test ! -e "$R/var/lib/tiergate"
check "purge deletes the configuration" test ! -e "$R/etc/tiergate"
check "purge drops the statoverride" \
    test -z "$(grep tiergate "$R/var/lib/dpkg/statoverride" 2>/dev/null)"
check "purge drops the unit's enablement" test ! -e \
    "$R/etc/systemd/system/multi-user.target.wants/tiergate.service"

host_after=$(cat /etc/passwd /etc/group /var/lib/dpkg/statoverride \
    2>/dev/null | cksum; find /etc/systemd /var/lib/systemd -printf '%p %l\n' 2>/dev/null | sort | cksum)
: >"$T/err"
check "the host's users, statoverrides and units are untouched" \
    test "$host_before" = "$host_after"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
