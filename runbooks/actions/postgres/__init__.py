"""PostgreSQL targets: replication status, outage injection, promotion, switchover, standby rebuilds,
base backups and restores, integrity checks and the canary writer (docs/actions-postgresql.md)."""

from .backup import PostgresBackup, PostgresRestore
from .canary import PostgresCanary
from .failover import PostgresPromote, PostgresRebuildStandby, PostgresSwitchover
from .fault import PostgresFault
from .health import PostgresReplicationStatus, PostgresWaitHealthy
from .integrity import PostgresBaseline, PostgresVerify
from .target import binding_problems

__all__ = [
    "PostgresBackup", "PostgresBaseline", "PostgresCanary", "PostgresFault", "PostgresPromote",
    "PostgresRebuildStandby", "PostgresReplicationStatus", "PostgresRestore", "PostgresSwitchover",
    "PostgresVerify", "PostgresWaitHealthy", "binding_problems",
]
