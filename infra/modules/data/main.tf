# The system of record (RDS PostgreSQL 15) and, optionally, Redis for rate limits and
# idempotency keys. Both live in private subnets and admit only the security groups given.

locals {
  database = "helios"
  username = "helios"
  port     = 5432
}

resource "aws_db_subnet_group" "this" {
  name       = "${var.name}db"
  subnet_ids = var.subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}postgres15"
  family = "postgres15"

  # Clients must use TLS (the store URL says sslmode=require).
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Statements slower than a second show up in the instance's PostgreSQL log.
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_157:opt in with db_multi_az = true (doubles the instance cost; docs/deploy.md)
  #checkov:skip=CKV_AWS_118:Performance Insights and CloudWatch metrics are on; enhanced (OS) monitoring needs a role and is billed
  #checkov:skip=CKV_AWS_354:AWS-managed key; a customer-managed KMS key is a follow-up (docs/deploy.md, known limits)
  identifier     = "${var.name}db"
  engine         = "postgres"
  engine_version = "15"
  instance_class = var.instance_class

  db_name  = local.database
  username = local.username
  port     = local.port
  # Write-only: sent to RDS when password_version changes, never stored in the plan or state.
  password_wo         = var.password
  password_wo_version = var.password_version
  # Lets operators sign in with short-lived IAM tokens (rds-db:connect) instead of a password;
  # Helios itself uses the password from the secret.
  iam_database_authentication_enabled = true

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  parameter_group_name   = aws_db_parameter_group.this.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  multi_az               = var.multi_az

  backup_retention_period    = var.backup_retention_days
  copy_tags_to_snapshot      = true
  auto_minor_version_upgrade = true
  deletion_protection        = var.deletion_protection
  skip_final_snapshot        = !var.deletion_protection
  final_snapshot_identifier  = "${var.name}db-final"

  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
}

# HELIOS_STORE_URL as one secret: ECS injects it into each task at start.
resource "aws_secretsmanager_secret" "store_url" {
  #checkov:skip=CKV_AWS_149:AWS-managed key; a customer-managed KMS key is a follow-up (docs/deploy.md, known limits)
  #checkov:skip=CKV2_AWS_57:the password is rotated with db_password_version (docs/deploy.md, runbook), which changes RDS and the secret together
  name                    = "${var.name}store-url"
  description             = "HELIOS_STORE_URL: PostgreSQL URL of the Helios event store."
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "store_url" {
  secret_id = aws_secretsmanager_secret.store_url.id
  # The password is alphanumeric (see the root variable's validation): no URL escaping needed.
  secret_string_wo = var.password == null ? null : format(
    "postgresql://%s:%s@%s:%d/%s?sslmode=require",
    local.username, var.password, aws_db_instance.this.address, local.port, local.database,
  )
  secret_string_wo_version = var.password_version
}

# --- Redis (optional) --------------------------------------------------------------------------

resource "aws_elasticache_subnet_group" "this" {
  count = var.redis_enabled ? 1 : 0

  name       = "${var.name}redis"
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_replication_group" "this" {
  #checkov:skip=CKV_AWS_31:TLS in transit, encrypted at rest, reachable from the Helios task groups only; Helios does not send an AUTH token yet (docs/deploy.md, known limits)
  #checkov:skip=CKV_AWS_191:AWS-managed key; a customer-managed KMS key is a follow-up (docs/deploy.md, known limits)
  #checkov:skip=CKV2_AWS_50:opt in with redis_replicas >= 1 (automatic failover, Multi-AZ); the keys are short-lived
  count = var.redis_enabled ? 1 : 0

  replication_group_id = "${var.name}redis"
  description          = "Helios rate limits and idempotency keys"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.redis_node_type
  port                 = 6379

  num_cache_clusters         = var.redis_replicas + 1
  automatic_failover_enabled = var.redis_replicas > 0
  multi_az_enabled           = var.redis_replicas > 0

  subnet_group_name          = aws_elasticache_subnet_group.this[0].name
  security_group_ids         = [var.redis_security_group_id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  apply_immediately          = false
  snapshot_retention_limit   = 0 # keys are short-lived; nothing worth restoring
}
