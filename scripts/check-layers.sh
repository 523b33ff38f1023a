#!/usr/bin/env bash
# Checks the module layering rules of DESIGN.md by reading the sources:
#   - a module includes only its own headers and those of the modules below it (its tests,
#     *_test.cc and their src/test_*.h fixtures, may also include the test-only testing/);
#   - server/ never includes the Signal Protocol module;
#   - only crypto/ calls libsodium or OpenSSL's crypto (common/ may use libsodium's memory
#     and codec utilities, which are not cryptographic primitives; transport code may use
#     OpenSSL's TLS through <openssl/ssl.h>).
# Exit status 0 when every rule holds, 1 with a list of violations otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

# Modules, each with the modules it may include (besides itself).
declare -A allowed=(
  [common]=""
  [crypto]="common"
  [signal]="common crypto"
  [tlog]="common crypto"
  [wire]="common"
  [keydir]="common crypto tlog"
  [legal]="common crypto tlog"
  [server]="common crypto tlog wire keydir legal"
  [client]="common crypto signal tlog wire keydir"
)

status=0
fail() { echo "layering: $*"; status=1; }

for module in "${!allowed[@]}"; do
  [ -d "$module" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    dep=$(sed -E 's|.*#include[[:space:]]*[<"]holdfast/([a-z_]+)/.*|\1|' <<<"$line")
    [ "$dep" = "$module" ] && continue
    [ "$module" != testing ] && [ "$dep" = testing ] &&
      [[ "$file" == *_test.cc || "$file" == */src/test_*.h ]] && continue
    case " ${allowed[$module]} " in
      *" $dep "*) ;;
      *) fail "$file includes holdfast/$dep/ but $module may only include: ${allowed[$module]:-nothing}" ;;
    esac
  done < <(grep -rnE '#include[[:space:]]*[<"]holdfast/[a-z_]+/' "$module" --include='*.h' --include='*.cc' || true)
done

if [ -d server ] && grep -rqE '#include[[:space:]]*[<"]holdfast/signal/' server; then
  fail "server/ includes the Signal Protocol module"
fi

# Crypto libraries outside crypto/ (tests and the test-only testing/ module excepted).
while IFS= read -r hit; do
  file=${hit%%:*}
  case "$file" in
    crypto/*|testing/*|*_test.cc|bench/*|fuzz/*) continue ;;
    common/src/secret.cc|common/src/encoding.cc)
      grep -qE 'sodium/utils\.h' <<<"$hit" && continue ;;
  esac
  grep -qE '<openssl/ssl\.h>' <<<"$hit" && continue
  fail "$hit: only crypto/ may use libsodium or OpenSSL crypto"
done < <(grep -rnE '#include[[:space:]]*<(sodium|openssl)[/.]' --include='*.h' --include='*.cc' \
           common signal tlog wire keydir legal server client apps 2>/dev/null || true)

[ $status -eq 0 ] && echo "layering: ok"
exit $status
