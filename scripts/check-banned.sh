#!/usr/bin/env bash
# check-banned.sh -- fail if project C code calls a banned function.
# Banned (as in curl): strcpy, strcat, sprintf, vsprintf, gets, atoi, atol,
# atoll, strtok, strncpy (use snprintf/memcpy with explicit sizes, strtol
# with checks). Secrets are compared with sodium_memcmp, never memcmp: files
# under libsecmq/src that call memcmp must say why on the same line.
set -euo pipefail
cd "$(dirname "$0")/.."
dirs=(libsecmq certs tools examples tests broker-plugin)
existing=()
for d in "${dirs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|strncpy)[[:space:]]*\('
status=0
if grep -rnE --include='*.c' --include='*.h' "$pattern" "${existing[@]}" |
   grep -vE '^\S+:[0-9]+:\s*(\*|//)'; then
  echo "check-banned: banned function call(s) above" >&2
  status=1
fi
if grep -rnE --include='*.c' '\bmemcmp[[:space:]]*\(' libsecmq/src |
   grep -v 'not secret'; then
  echo "check-banned: memcmp in libsecmq/src without a 'not secret' note" >&2
  status=1
fi
if [ $status -eq 0 ]; then
  echo "check-banned: no banned calls"
fi
exit $status
