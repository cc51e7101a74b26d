"""PostgreSQL targets: replication status, outage injection, promotion, switchover, standby rebuilds,
base backups and restores, integrity checks and the canary writer (docs/actions-postgresql.md).
psycopg and the server tools are loaded when a PostgreSQL action is first used."""

from ..registry import register_family

register_family(
    name="postgres",
    package=__name__,
    actions={
        "postgres.replication_status": ".health:PostgresReplicationStatus",
        "postgres.wait_healthy": ".health:PostgresWaitHealthy",
        "postgres.fault": ".fault:PostgresFault",
        "postgres.promote": ".failover:PostgresPromote",
        "postgres.switchover": ".failover:PostgresSwitchover",
        "postgres.rebuild_standby": ".failover:PostgresRebuildStandby",
        "postgres.backup": ".backup:PostgresBackup",
        "postgres.restore": ".backup:PostgresRestore",
        "postgres.baseline": ".integrity:PostgresBaseline",
        "postgres.verify": ".integrity:PostgresVerify",
    },
    binding_checks={"postgres": ".target:binding_problems"},
    canary_writers={"postgres": ".canary:PostgresCanary"},
    binding_access={"postgres": ".access:binding_access"},
    binding_kinds=("postgres",),
    docs="docs/actions-postgresql.md",
)
