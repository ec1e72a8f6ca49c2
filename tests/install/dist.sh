#!/bin/sh
# dist.sh: `make dist`, then build the tarball with `make` alone (issue 9).
#
#  - build/tiergate-VERSION.tar.gz holds everything under tiergate-VERSION/,
#    including the Makefile, the sources, rules, docs, packaging/ and
#    tests/, and nothing from build/, var/ or .git;
#  - unpacked in an empty directory, `make` builds tiergate there, and
#    that binary prints its version and lints the bundled rules.
#
# Not part of `make test`: it compiles the whole program a second time
# (about 20 s on two cores).  Needs no root.  Ends with "N passed, N
# failed"; exits 1 if any test failed.
set -u

cd "$(dirname "$0")/../.." || exit 2

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
TGZ=build/tiergate-$VERSION.tar.gz
rm -f "$TGZ"
env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory -s dist \
    >"$T/err" 2>&1
check "make dist writes $TGZ" test -f "$TGZ"
[ -f "$TGZ" ] || { echo "$pass passed, $fail failed"; exit 1; }

tar -tzf "$TGZ" >"$T/list"
: >"$T/err"
grep -v "^tiergate-$VERSION/" "$T/list" >"$T/err"
check "every path is under tiergate-$VERSION/" test ! -s "$T/err"
for f in Makefile README.md daemon/cli/main.c rules/ai-diffusion-2025.yaml \
    docs/tiergate.1 docs/tiergate-rules.5 packaging/deps.sh \
    packaging/tiergate.yaml packaging/systemd/tiergate.service \
    packaging/debian/control packaging/debian/rules tests/run_all.sh; do
	check "the tarball has $f" grep -qxF "tiergate-$VERSION/$f" "$T/list"
done
grep -E "^tiergate-$VERSION/(build|var|\.git)/" "$T/list" >"$T/err"
check "nothing from build/, var/ or .git/" test ! -s "$T/err"

mkdir "$T/src"
tar -xzf "$TGZ" -C "$T/src"
S=$T/src/tiergate-$VERSION
(cd "$S" && env -u MAKEFLAGS -u MAKELEVEL make) >"$T/make.log" 2>&1
rc=$?
tail -n 20 "$T/make.log" >"$T/err"
check "make alone builds the unpacked tarball (status $rc)" \
    test "$rc" -eq 0 -a -x "$S/build/tiergate"
out=$(cd "$S" && ./build/tiergate --version 2>"$T/err")
check "its tiergate prints 'tiergate $VERSION'" \
    test "$out" = "tiergate $VERSION"
out=$(cd "$S" && ./build/tiergate rules lint 2>"$T/err")
check "its tiergate lints the bundled rules: '$out'" test "$out" = "rules OK"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
