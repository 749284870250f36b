# Helios on AWS: a VPC, RDS PostgreSQL (the event store), optional ElastiCache Redis, SQS work
# queues with dead-letter queues, and ECS Fargate services for the API, the ingest workers, the
# event log followers, the scheduler, the admin console (internal) and the analytics worker, plus
# the migration task. See docs/deploy.md.

locals {
  name         = var.prefix
  api_port     = 8080
  use_nat      = var.nat_gateway_mode != "none"
  task_subnets = local.use_nat ? module.network.private_subnet_ids : module.network.public_subnet_ids
  scheme       = var.certificate_arn == null ? "http" : "https"
  public_url   = coalesce(var.public_url, "${local.scheme}://${aws_lb.api.dns_name}")

  # The settings every Helios process reads (src/helios/apps/settings.py).
  common_environment = merge(var.environment, {
    HELIOS_QUEUE      = "sqs"
    HELIOS_SQS_PREFIX = var.prefix
    HELIOS_SQS_FIFO   = "true"
    AWS_REGION        = var.region
    HELIOS_LOG_FORMAT = "json"
    HELIOS_LOG_LEVEL  = var.log_level
    HELIOS_PUBLIC_URL = local.public_url
    HELIOS_DATA_DIR   = "/tmp/helios"
    }, module.data.redis_url == null ? {} : {
    HELIOS_REDIS_URL = module.data.redis_url
  })

  # Read from Secrets Manager by ECS at each task's start, into every Helios container.
  process_secrets = {
    HELIOS_STORE_URL   = module.data.store_url_secret_arn
    HELIOS_SECRETS_KEK = aws_secretsmanager_secret.kek.arn
  }
  admin_cidrs = coalesce(var.admin_allowed_cidrs, [var.vpc_cidr])
}

module "network" {
  source = "./modules/network"

  name             = local.name
  region           = var.region
  cidr             = var.vpc_cidr
  nat_gateway_mode = var.nat_gateway_mode
}

module "queues" {
  source   = "./modules/queues"
  for_each = toset(["ingest", "analytics"])

  prefix            = var.prefix
  name              = each.key
  max_receive_count = 3
  alarm_actions     = var.alarm_actions
  # Ingest: one tenant's envelopes and ticks to one worker at a time (HELIOS_SQS_FIFO above).
  # Analytics decisions are not decided again in order, so that queue stays standard.
  fifo = each.key == "ingest"
}

module "data" {
  source = "./modules/data"

  name                        = local.name
  subnet_ids                  = module.network.private_subnet_ids
  security_group_id           = aws_security_group.db.id
  redis_security_group_id     = aws_security_group.redis.id
  instance_class              = var.db_instance_class
  allocated_storage           = var.db_allocated_storage
  max_allocated_storage       = max(var.db_max_allocated_storage, var.db_allocated_storage)
  multi_az                    = var.db_multi_az
  backup_retention_days       = var.db_backup_retention_days
  deletion_protection         = var.deletion_protection
  password                    = var.db_password
  password_version            = var.db_password_version
  secret_recovery_window_days = var.secret_recovery_window_days
  redis_enabled               = var.redis_enabled
  redis_node_type             = var.redis_node_type
  redis_replicas              = var.redis_replicas
}
