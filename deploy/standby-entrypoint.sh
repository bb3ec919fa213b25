#!/bin/sh
# A streaming hot standby of the primary: cloned with pg_basebackup -R on first start
# (which writes standby.signal and primary_conninfo), then started read-only.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h primary -U "$POSTGRES_USER"; do sleep 1; done
  PGPASSWORD="$POSTGRES_PASSWORD" pg_basebackup -h primary -U "$POSTGRES_USER" -D "$PGDATA" -R -X stream --checkpoint=fast
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on
