# One Helios process as an ECS Fargate task definition, its log group and (unless it is a
# one-off task such as the migration) a service that keeps it running.

locals {
  container = "helios"
  log_group = "/ecs/${var.name}"

  container_definition = {
    name      = local.container
    image     = var.image
    command   = var.command
    essential = true

    environment = [for key in sort(keys(var.environment)) : { name = key, value = var.environment[key] }]
    secrets     = [for key in sort(keys(var.secrets)) : { name = key, valueFrom = var.secrets[key] }]

    portMappings = var.container_port == null ? [] : [
      { containerPort = var.container_port, protocol = "tcp" }
    ]

    # Nothing in the image is writable; scratch files (HELIOS_DATA_DIR) live on /tmp.
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }]

    stopTimeout = var.stop_timeout_seconds

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = local.log_group
        awslogs-region        = var.region
        awslogs-stream-prefix = var.name
        mode                  = "non-blocking"
        max-buffer-size       = "4m"
      }
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:AWS-managed key; a customer-managed KMS key is a follow-up (docs/deploy.md, known limits)
  #checkov:skip=CKV_AWS_338:retention is log_retention_days (default 30): a year of JSON logs per task is a cost the operator chooses
  name              = local.log_group
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([local.container_definition])
}

resource "aws_ecs_service" "this" {
  count = var.service == null ? 0 : 1

  name             = var.name
  cluster          = var.cluster_arn
  task_definition  = aws_ecs_task_definition.this.arn
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  desired_count    = var.service.initial_count

  deployment_minimum_healthy_percent = var.service.minimum_healthy_percent
  deployment_maximum_percent         = var.service.maximum_percent
  health_check_grace_period_seconds  = var.service.target_group_arn == null ? null : 60
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  dynamic "load_balancer" {
    for_each = var.service.target_group_arn == null ? [] : [var.service.target_group_arn]
    content {
      target_group_arn = load_balancer.value
      container_name   = local.container
      container_port   = var.container_port
    }
  }

  # The number of tasks belongs to Application Auto Scaling (whose minimum and maximum this
  # configuration sets); an apply must not undo a scale-out.
  lifecycle {
    ignore_changes = [desired_count]
  }
}
