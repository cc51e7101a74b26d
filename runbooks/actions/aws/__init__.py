"""AWS targets: Aurora and RDS failover, Aurora Global Database switchover and failover, point-in-time
and snapshot restores into new instances and clusters, Route 53 failover records, DynamoDB
point-in-time recovery, and the deletion of everything a drill created (docs/actions-aws.md).

boto3 is imported by the modules named below, the first time an AWS action, cleaner or orphan
finder is used; binding checks and policy accesses (``bindings``) need no SDK.
"""

from ..registry import register_family

register_family(
    name="aws",
    package=__name__,
    actions={
        "aws.rds.failover_cluster": ".failover:FailoverCluster",
        "aws.rds.reboot_with_failover": ".failover:RebootWithFailover",
        "aws.rds.global_switchover": ".global_db:GlobalSwitchover",
        "aws.rds.global_failover": ".global_db:GlobalFailover",
        "aws.rds.restore_point_in_time": ".restore:RestorePointInTime",
        "aws.rds.restore_snapshot": ".restore:RestoreSnapshot",
        "aws.rds.create_snapshot": ".snapshot:CreateSnapshot",
        "aws.rds.wait_available": ".wait:WaitAvailable",
        "aws.route53.failover": ".route53:Route53Failover",
        "aws.route53.wait_healthy": ".route53:Route53WaitHealthy",
        "aws.dynamodb.restore_point_in_time": ".dynamodb:DynamoRestorePointInTime",
        "aws.cleanup": ".cleanup:Cleanup",
    },
    binding_checks={kind: ".bindings:binding_problems" for kind in (
        "aws-rds-cluster", "aws-rds-instance", "aws-rds-global-cluster", "aws-route53-record", "aws-dynamodb-table")},
    binding_access={kind: ".bindings:binding_access" for kind in (
        "aws-rds-cluster", "aws-rds-instance", "aws-rds-global-cluster", "aws-route53-record", "aws-dynamodb-table")},
    resource_cleaners={"aws": ".cleanup:resource_cleaner"},
    orphan_finders={"aws": ".cleanup:find_orphans"},
    binding_kinds=("aws-rds-cluster", "aws-rds-instance", "aws-rds-global-cluster", "aws-route53-record",
                   "aws-dynamodb-table"),
    docs="docs/actions-aws.md",
)
