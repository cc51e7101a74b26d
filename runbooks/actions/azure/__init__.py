"""Azure SQL targets: failover groups (planned, forced), geo-replication links, point-in-time
restores, waiting for the expected primary, and deleting what a drill created
(docs/actions-azure.md). azure-mgmt-sql and azure-identity are loaded when an Azure action, cleaner
or orphan finder is first used, never by this registration."""

from ..registry import register_family

register_family(
    name="azure",
    package=__name__,
    actions={
        "azure.sql.failover_group": ".failover:FailoverGroupFailover",
        "azure.sql.force_failover": ".failover:ForceFailover",
        "azure.sql.geo_link_failover": ".failover:GeoLinkFailover",
        "azure.sql.wait_role": ".failover:WaitRole",
        "azure.sql.restore_point_in_time": ".restore:RestorePointInTime",
        "azure.cleanup": ".cleanup:Cleanup",
    },
    binding_checks={"azure-sql-failover-group": ".bindings:binding_problems",
                    "azure-sql-database": ".bindings:binding_problems"},
    binding_access={"azure-sql-failover-group": ".bindings:binding_access",
                    "azure-sql-database": ".bindings:binding_access"},
    resource_cleaners={"azure": ".cleanup:delete_resource"},
    orphan_finders={"azure": ".cleanup:find_orphans"},
    binding_kinds=("azure-sql-failover-group", "azure-sql-database"),
    docs="docs/actions-azure.md",
)
