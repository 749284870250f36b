# Who may talk to whom. Internet -> ALB -> API tasks; API and background tasks -> database and
# Redis. Nothing else is admitted; tasks reach AWS APIs outbound (HTTPS) only.

resource "aws_security_group" "alb" {
  name        = "${local.name}alb"
  description = "Helios load balancer: HTTP(S) from the allowed ranges"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "api" {
  #checkov:skip=CKV2_AWS_5:attached to the ECS services through modules/service (security_group_ids), which the graph check does not always follow
  name        = "${local.name}api"
  description = "Helios API tasks: the API port from the load balancer only"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "background" {
  #checkov:skip=CKV2_AWS_5:attached to the ECS services through modules/service (security_group_ids), which the graph check does not always follow
  name        = "${local.name}background"
  description = "Helios workers, followers, scheduler and migration: no inbound traffic"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "db" {
  name        = "${local.name}db"
  description = "Helios PostgreSQL: from Helios tasks only"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "redis" {
  name        = "${local.name}redis"
  description = "Helios Redis: from Helios tasks only"
  vpc_id      = module.network.vpc_id
}

locals {
  task_security_groups = {
    api        = aws_security_group.api.id
    background = aws_security_group.background.id
    admin      = aws_security_group.admin.id
  }
  alb_ports = var.certificate_arn == null ? [80] : [80, 443]
  smtp_port = tonumber(lookup(var.environment, "HELIOS_SMTP_PORT", "25"))
}

# --- Load balancer ------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "alb_from_clients" {
  for_each = { for pair in setproduct(var.allowed_ingress_cidrs, local.alb_ports) : "${pair[0]}:${pair[1]}" => pair }

  security_group_id = aws_security_group.alb.id
  description       = "Clients to the load balancer"
  ip_protocol       = "tcp"
  cidr_ipv4         = each.value[0]
  from_port         = each.value[1]
  to_port           = each.value[1]
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Load balancer to the API tasks"
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.api.id
  from_port                    = local.api_port
  to_port                      = local.api_port
}

# --- API tasks ----------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "Load balancer to the API port"
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = local.api_port
  to_port                      = local.api_port
}

# --- Outbound from every task -------------------------------------------------------------------

resource "aws_vpc_security_group_egress_rule" "tasks_to_aws" {
  for_each = local.task_security_groups

  security_group_id = each.value
  description       = "HTTPS to AWS APIs (SQS, Secrets Manager, ECR, CloudWatch Logs)"
  ip_protocol       = "tcp"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
}

# The notifier (in the followers) reaches the SMTP relay named by HELIOS_SMTP_HOST, if any.
resource "aws_vpc_security_group_egress_rule" "background_to_smtp" {
  count = contains(keys(var.environment), "HELIOS_SMTP_HOST") ? 1 : 0

  security_group_id = aws_security_group.background.id
  description       = "SMTP to the notification relay"
  ip_protocol       = "tcp"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = local.smtp_port
  to_port           = local.smtp_port
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_db" {
  for_each = local.task_security_groups

  security_group_id            = each.value
  description                  = "Tasks to PostgreSQL"
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.db.id
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_redis" {
  for_each = var.redis_enabled ? local.task_security_groups : {}

  security_group_id            = each.value
  description                  = "Tasks to Redis"
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.redis.id
  from_port                    = 6379
  to_port                      = 6379
}

# --- Database and Redis -------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  for_each = local.task_security_groups

  security_group_id            = aws_security_group.db.id
  description                  = "Helios ${each.key} tasks to PostgreSQL"
  ip_protocol                  = "tcp"
  referenced_security_group_id = each.value
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  for_each = var.redis_enabled ? local.task_security_groups : {}

  security_group_id            = aws_security_group.redis.id
  description                  = "Helios ${each.key} tasks to Redis"
  ip_protocol                  = "tcp"
  referenced_security_group_id = each.value
  from_port                    = 6379
  to_port                      = 6379
}
