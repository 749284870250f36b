# The ECS cluster, one Fargate service per long-running Helios process, the migration task
# (run on demand), and the autoscaling that owns each service's task count.

resource "aws_ecs_cluster" "this" {
  #checkov:skip=CKV_AWS_65:billed per metric; opt in with container_insights = true
  name = "${local.name}cluster"

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  # Task counts: [min, max] per service; all zero while paused.
  counts = {
    api       = var.paused ? [0, 0] : [var.api.min_tasks, var.api.max_tasks]
    worker    = var.paused ? [0, 0] : [var.worker.min_tasks, var.worker.max_tasks]
    followers = var.paused ? [0, 0] : [1, 1]
    scheduler = var.paused ? [0, 0] : [1, 1]
    admin     = var.paused ? [0, 0] : [1, 1]
    analytics = var.paused ? [0, 0] : [1, 1]
  }

  task_network = {
    cluster_arn      = aws_ecs_cluster.this.arn
    subnet_ids       = local.task_subnets
    assign_public_ip = !local.use_nat
  }

  # Network settings of one-off tasks (migration, administrative commands), as the AWS CLI
  # takes them.
  one_off_network = format(
    "awsvpcConfiguration={subnets=[%s],securityGroups=[%s],assignPublicIp=%s}",
    join(",", local.task_subnets), aws_security_group.background.id, local.use_nat ? "DISABLED" : "ENABLED",
  )
}

module "api" {
  source = "./modules/service"

  name             = "${local.name}api"
  region           = var.region
  image            = var.image
  cpu_architecture = var.cpu_architecture
  command          = ["helios", "api"]
  cpu              = var.api.cpu
  memory           = var.api.memory
  container_port   = local.api_port
  environment = merge(local.common_environment, {
    HELIOS_HTTP_HOST = "0.0.0.0"
    HELIOS_HTTP_PORT = tostring(local.api_port)
    # Only the load balancer reaches the API port (security.tf): trust its X-Forwarded-For,
    # so that login lockouts count per real client, not per balancer node.
    HELIOS_API_TRUSTED_PROXIES = var.vpc_cidr
    # Longer than the balancer's idle timeout (alb.tf), so the balancer closes idle
    # connections first and never reuses one the API is closing.
    HELIOS_API_KEEP_ALIVE_S = "65"
  })
  secrets            = local.process_secrets
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = aws_iam_role.task["api"].arn
  log_retention_days = var.log_retention_days

  cluster_arn        = local.task_network.cluster_arn
  subnet_ids         = local.task_network.subnet_ids
  assign_public_ip   = local.task_network.assign_public_ip
  security_group_ids = [aws_security_group.api.id]
  service = {
    initial_count    = local.counts.api[0]
    target_group_arn = aws_lb_target_group.api.arn
  }

  depends_on = [aws_lb_listener.http]
}

module "worker" {
  source = "./modules/service"

  name                 = "${local.name}worker"
  region               = var.region
  image                = var.image
  cpu_architecture     = var.cpu_architecture
  command              = ["helios", "worker", "ingest"]
  cpu                  = var.worker.cpu
  memory               = var.worker.memory
  stop_timeout_seconds = var.worker.stop_timeout_seconds
  environment          = local.common_environment
  secrets              = local.process_secrets
  execution_role_arn   = aws_iam_role.execution.arn
  task_role_arn        = aws_iam_role.task["worker"].arn
  log_retention_days   = var.log_retention_days

  cluster_arn        = local.task_network.cluster_arn
  subnet_ids         = local.task_network.subnet_ids
  assign_public_ip   = local.task_network.assign_public_ip
  security_group_ids = [aws_security_group.background.id]
  service = {
    initial_count = local.counts.worker[0]
  }
}

module "followers" {
  source = "./modules/service"

  name               = "${local.name}followers"
  region             = var.region
  image              = var.image
  cpu_architecture   = var.cpu_architecture
  command            = ["helios", "worker", "followers"]
  cpu                = var.followers.cpu
  memory             = var.followers.memory
  environment        = local.common_environment
  secrets            = local.process_secrets
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = aws_iam_role.task["followers"].arn
  log_retention_days = var.log_retention_days

  cluster_arn        = local.task_network.cluster_arn
  subnet_ids         = local.task_network.subnet_ids
  assign_public_ip   = local.task_network.assign_public_ip
  security_group_ids = [aws_security_group.background.id]
  service = {
    initial_count = local.counts.followers[0]
    # One follower process at a time: a deployment stops the old task before starting the
    # new one, so two never race on the same log positions or send the same email twice.
    minimum_healthy_percent = 0
    maximum_percent         = 100
  }
}

module "scheduler" {
  source = "./modules/service"

  name               = "${local.name}scheduler"
  region             = var.region
  image              = var.image
  cpu_architecture   = var.cpu_architecture
  command            = ["helios", "scheduler"]
  cpu                = var.scheduler.cpu
  memory             = var.scheduler.memory
  environment        = local.common_environment
  secrets            = local.process_secrets
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = aws_iam_role.task["scheduler"].arn
  log_retention_days = var.log_retention_days

  cluster_arn        = local.task_network.cluster_arn
  subnet_ids         = local.task_network.subnet_ids
  assign_public_ip   = local.task_network.assign_public_ip
  security_group_ids = [aws_security_group.background.id]
  service = {
    initial_count = local.counts.scheduler[0]
    # One scheduler at a time: a deployment stops the old task before starting the new one.
    minimum_healthy_percent = 0
    maximum_percent         = 100
  }
}

# The admin console, behind the internal load balancer (admin.tf).
module "admin" {
  source = "./modules/service"

  name             = "${local.name}admin"
  region           = var.region
  image            = var.image
  cpu_architecture = var.cpu_architecture
  command          = ["helios", "admin"]
  cpu              = var.admin.cpu
  memory           = var.admin.memory
  container_port   = local.admin_port
  environment = merge(local.common_environment, {
    HELIOS_HTTP_HOST  = "0.0.0.0"
    HELIOS_ADMIN_PORT = tostring(local.admin_port)
  })
  secrets = merge(local.process_secrets, {
    HELIOS_ADMIN_SECRET = aws_secretsmanager_secret.admin.arn
  })
  execution_role_arn = aws_iam_role.admin_execution.arn
  task_role_arn      = aws_iam_role.task["admin"].arn
  log_retention_days = var.log_retention_days

  cluster_arn        = local.task_network.cluster_arn
  subnet_ids         = local.task_network.subnet_ids
  assign_public_ip   = local.task_network.assign_public_ip
  security_group_ids = [aws_security_group.admin.id]
  service = {
    initial_count    = local.counts.admin[0]
    target_group_arn = aws_lb_target_group.admin.arn
    # One console at a time: its background jobs (rule previews) run in the process.
    minimum_healthy_percent = 0
    maximum_percent         = 100
  }

  depends_on = [aws_lb_listener.admin_http]
}

# `helios analytics`: consumes the analytics queue into a DuckDB file private to the task (on
# its scratch volume: rebuilt from the event log by `helios analytics rebuild` after a
# replacement) and publishes aggregates to the read models.
module "analytics" {
  source = "./modules/service"

  name               = "${local.name}analytics"
  region             = var.region
  image              = var.image
  cpu_architecture   = var.cpu_architecture
  command            = ["helios", "analytics"]
  cpu                = var.analytics.cpu
  memory             = var.analytics.memory
  environment        = merge(local.common_environment, { HELIOS_ANALYTICS_PATH = "/tmp/helios/analytics.duckdb" })
  secrets            = local.process_secrets
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = aws_iam_role.task["analytics"].arn
  log_retention_days = var.log_retention_days

  cluster_arn        = local.task_network.cluster_arn
  subnet_ids         = local.task_network.subnet_ids
  assign_public_ip   = local.task_network.assign_public_ip
  security_group_ids = [aws_security_group.background.id]
  service = {
    initial_count = local.counts.analytics[0]
    # One writer of the DuckDB file: stop the old task before starting the new one.
    minimum_healthy_percent = 0
    maximum_percent         = 100
  }
}

# `helios db migrate`, run once per release before the services roll (docs/deploy.md).
module "migrate" {
  source = "./modules/service"

  name               = "${local.name}migrate"
  region             = var.region
  image              = var.image
  cpu_architecture   = var.cpu_architecture
  command            = ["helios", "db", "migrate"]
  cpu                = 256
  memory             = 512
  environment        = local.common_environment
  secrets            = local.process_secrets
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = null # talks to PostgreSQL only
  log_retention_days = var.log_retention_days

  subnet_ids         = local.task_network.subnet_ids
  assign_public_ip   = local.task_network.assign_public_ip
  security_group_ids = [aws_security_group.background.id]
}

# --- Autoscaling: the only owner of each service's task count -----------------------------------

locals {
  services = {
    api       = module.api.service_name
    worker    = module.worker.service_name
    followers = module.followers.service_name
    scheduler = module.scheduler.service_name
    admin     = module.admin.service_name
    analytics = module.analytics.service_name
  }
}

resource "aws_appautoscaling_target" "service" {
  for_each = local.services

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${each.value}"
  min_capacity       = local.counts[each.key][0]
  max_capacity       = local.counts[each.key][1]
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${local.name}api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["api"].service_namespace
  scalable_dimension = aws_appautoscaling_target.service["api"].scalable_dimension
  resource_id        = aws_appautoscaling_target.service["api"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.api.cpu_target_pct
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Workers follow the ingest backlog: more visible messages than the target, more tasks.
resource "aws_appautoscaling_policy" "worker_queue_depth" {
  name               = "${local.name}worker-ingest-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["worker"].service_namespace
  scalable_dimension = aws_appautoscaling_target.service["worker"].scalable_dimension
  resource_id        = aws_appautoscaling_target.service["worker"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker.queue_depth_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      statistic   = "Average"

      dimensions {
        name  = "QueueName"
        value = local.ingest.name
      }
    }
  }
}

# And on the age of the oldest message: a backlog of slow envelopes (large batches, a cold
# cache) scales out before the depth target is reached. With two target-tracking policies
# the service scales out when either asks and in only when both allow it.
resource "aws_appautoscaling_policy" "worker_queue_age" {
  name               = "${local.name}worker-ingest-age"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["worker"].service_namespace
  scalable_dimension = aws_appautoscaling_target.service["worker"].scalable_dimension
  resource_id        = aws_appautoscaling_target.service["worker"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker.queue_age_target_seconds
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateAgeOfOldestMessage"
      statistic   = "Maximum"

      dimensions {
        name  = "QueueName"
        value = local.ingest.name
      }
    }
  }
}

# The analytics worker is one task (its DuckDB file has one writer), so it cannot scale out:
# a growing backlog is an alarm instead. Analytics lagging never delays decisions.
resource "aws_cloudwatch_metric_alarm" "analytics_backlog_age" {
  alarm_name          = "${local.name}analytics-backlog-age"
  alarm_description   = "The analytics worker is more than ${var.analytics.max_backlog_age_seconds} s behind: check its task and logs."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = local.analytics.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.analytics.max_backlog_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
