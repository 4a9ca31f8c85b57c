# shellcheck shell=bash
# Tools of the self-service portal (server/portal): its npm packages for
# make portal and the test that rebuilds the committed assets, and the
# browser of its end-to-end tests. Sourced by scripts/testenv.sh (set -euo
# pipefail, cwd = repo root); appends its export lines to "$tmp".
# Idempotent: npm ci runs again only when the committed lock file changed.
#
#   npm packages  preact, @xterm/xterm, @novnc/novnc, esbuild, typescript,
#                 openapi-typescript, axe-core at
#                 the versions of server/portal/web/package-lock.json, installed
#                 with npm ci into /var/tmp/ovm-testenv/portal (outside the work
#                 tree: no node_modules under the Go module; the build links it)
#   browser       Debian's chromium, and fonts-noto-cjk for Chinese
#
# Writes OVM_TEST_PORTAL_NODE_MODULES and OVM_TEST_CHROMIUM.

portal_src=server/portal/web
portal_dir=/var/tmp/ovm-testenv/portal

portal_apt=()
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || portal_apt+=(nodejs npm)
[ -x /usr/bin/chromium ] || portal_apt+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || portal_apt+=(fonts-noto-cjk)
if [ "${#portal_apt[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${portal_apt[@]}" ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${portal_apt[@]}"; }
fi
mkdir -p "$portal_dir"
if ! cmp -s "$portal_src/package-lock.json" "$portal_dir/package-lock.json" ||
  [ ! -x "$portal_dir/node_modules/.bin/esbuild" ] ||
  [ ! -x "$portal_dir/node_modules/.bin/tsc" ] ||
  [ ! -f "$portal_dir/node_modules/axe-core/axe.min.js" ]; then
  rm -f "$portal_dir/package-lock.json"
  cp "$portal_src/package.json" "$portal_src/package-lock.json" "$portal_dir/"
  (cd "$portal_dir" && npm ci --no-audit --no-fund)
fi
echo "export OVM_TEST_PORTAL_NODE_MODULES='$portal_dir/node_modules'" >>"$tmp"
echo "export OVM_TEST_CHROMIUM='/usr/bin/chromium'" >>"$tmp"
# The build resolves its packages through this link (ignored by git; go
# does not follow it).
ln -sfn "$portal_dir/node_modules" "$portal_src/node_modules"
