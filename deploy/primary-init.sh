#!/bin/sh
# Run once by the postgres image when the primary's data directory is created:
# let the standby stream the WAL (pg_basebackup -R, then streaming replication).
set -eu
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
