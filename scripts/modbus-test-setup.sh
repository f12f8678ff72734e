#!/bin/sh
# modbus-test-setup.sh installs the independent Modbus peers the interop tests of
# internal/metersim read the simulator with: Debian's mbpoll (libmodbus) and
# python3-pymodbus (for /usr/bin/python3, not a pyenv or venv python). Debian's pymodbus 3.0
# only recommends python3-serial-asyncio, yet its pymodbus.client package imports it even
# for TCP, so it is installed too. Idempotent: it runs apt-get only when something is missing.
set -eu

missing=""
if ! command -v mbpoll >/dev/null 2>&1; then
	missing="$missing mbpoll"
fi
if ! /usr/bin/python3 -c 'import pymodbus.client' >/dev/null 2>&1; then
	missing="$missing python3-pymodbus python3-serial-asyncio"
fi

if [ -z "$missing" ]; then
	echo "modbus-test-setup: mbpoll and python3-pymodbus (with python3-serial-asyncio) present"
	exit 0
fi

echo "modbus-test-setup: installing$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
else
	sudo="sudo"
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086 # $missing is a list of package names
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
