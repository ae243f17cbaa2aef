#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_report_pgsql.sh: the PostgreSQL report store against a real server.
#
# Starts a private PostgreSQL (Debian postgresql: initdb in a temporary
# directory, trust authentication, a unix socket in that directory and no
# TCP listener), runs tests/unit/test_report_pgsql with its URI in
# AM_PG_SPEC, then authmilter-report --list and --print on the same
# database, and stops the server. As root, the server runs as the
# postgres user (initdb refuses root). A missing PostgreSQL fails.
set -u
T=${AM_TOP_BUILDDIR:?}/tests/unit/test_report_pgsql
B=$AM_TOP_BUILDDIR/milter/authmilter-report
XSD=${AM_CORPUS:?}/dmarc-reports/rfc9990.xsd
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "FAIL - PostgreSQL not installed (apt-get install postgresql)"; exit 1; }
[ -x "$T" ] || { echo "FAIL - not built: $T"; exit 1; }
W=$(mktemp -d /tmp/am-pg-XXXXXX)
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$W"
stop() {
	as_pg "$PGBIN/pg_ctl" -D "$W/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$W"
}
trap stop EXIT
if ! as_pg "$PGBIN/initdb" -D "$W/data" -A trust -U am -E UTF8 \
    --no-sync >"$W/initdb.log" 2>&1; then
	echo "FAIL - initdb: $(tail -5 "$W/initdb.log")"
	exit 1
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$W/data" -l "$W/pg.log" -w -t 60 \
    -o "-k $W -c listen_addresses= -F" start >/dev/null; then
	echo "FAIL - pg_ctl start: $(tail -5 "$W/pg.log")"
	exit 1
fi
export AM_PG_SPEC="postgresql:///postgres?host=$W&user=am"
fails=0
if "$T"; then echo "ok - test_report_pgsql"; else echo "FAIL - test_report_pgsql"; fails=1; fi

# the report tool on the same database
cat >"$W/a.conf" <<EOF
Syslog no
ReportStore $AM_PG_SPEC
ReportOrgName Fleet
ReportEmail dmarc@mx.example.net
EOF
if "$B" -c "$W/a.conf" --list >"$W/list" 2>&1 &&
    grep -q "^fleet.example .* 1200$" "$W/list"; then
	echo "ok - authmilter-report --list on PostgreSQL"
else
	echo "FAIL - --list: $(cat "$W/list")"; fails=1
fi
if "$B" -c "$W/a.conf" --print fleet.example >"$W/r.xml" 2>"$W/p.err" &&
    xmllint --noout --schema "$XSD" "$W/r.xml" 2>>"$W/p.err"; then
	echo "ok - authmilter-report --print on PostgreSQL: valid XML"
else
	echo "FAIL - --print: $(cat "$W/p.err")"; fails=1
fi
exit $fails
