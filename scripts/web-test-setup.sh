#!/bin/sh
# web-test-setup.sh prepares the browser tests in web/: Debian's Chromium and the npm
# devDependencies (playwright-core, uplot). Idempotent: it installs only what is missing.
# Downloads nothing but Debian packages and npm packages; playwright never fetches a browser.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x /usr/bin/chromium ]; then
	echo "web-test-setup: installing Debian chromium"
	if [ "$(id -u)" -eq 0 ]; then
		sudo=""
	else
		sudo="sudo"
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
else
	echo "web-test-setup: /usr/bin/chromium present"
fi

cd "$repo/web"
# npm ci when node_modules is missing or older than the lock file. npm touches
# node_modules/.package-lock.json on every install, so compare against that.
stamp=node_modules/.package-lock.json
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
	echo "web-test-setup: npm ci in web/"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch "$stamp"
else
	echo "web-test-setup: web/node_modules up to date"
fi
