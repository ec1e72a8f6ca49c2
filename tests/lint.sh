#!/bin/sh
# lint.sh: refuse the C library calls that house-style.md bans (after
# curl's checksrc): sprintf strcpy strcat strncpy strtok atoi gets.  Their
# safe replacements are snprintf, memcpy with a checked length, strtok_r
# or a hand-written scanner, and strtoll with every result checked.
#
# A call is the name at a word boundary followed by "(", so snprintf,
# fgets and strtok_r pass.  Run from anywhere; exits 1 on any finding.
set -u
cd "$(dirname "$0")/.." || exit 2

files=$(find daemon tests -type f \( -name '*.c' -o -name '*.h' \) | sort)
[ -n "$files" ] || { echo "lint: no C files found" >&2; exit 2; }

# shellcheck disable=SC2086
hits=$(grep -nE '\<(sprintf|strcpy|strcat|strncpy|strtok|atoi|gets)[[:space:]]*\(' \
    $files)
if [ -n "$hits" ]; then
	echo "$hits" | sed 's/^/lint: banned call: /' >&2
	echo "lint: FAILED ($(echo "$hits" | wc -l) lines with banned calls)" >&2
	exit 1
fi
echo "lint: OK ($(echo "$files" | wc -l) files)"
