# The admin console (`helios admin`): internal tooling, never on the internet. Its own load
# balancer is internal (private subnets, no public address) and admits only the ranges in
# admin_allowed_cidrs (default: the VPC, i.e. a VPN or bastion inside it).

locals {
  admin_port = 8081
}

resource "aws_security_group" "admin_alb" {
  name        = "${local.name}admin-alb"
  description = "Helios admin load balancer (internal): HTTP(S) from the admin ranges"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "admin" {
  #checkov:skip=CKV2_AWS_5:attached to the ECS services through modules/service (security_group_ids), which the graph check does not always follow
  name        = "${local.name}admin"
  description = "Helios admin tasks: the admin port from the internal load balancer only"
  vpc_id      = module.network.vpc_id
}

resource "aws_lb" "admin" {
  #checkov:skip=CKV2_AWS_28:internal load balancer, reachable from admin_allowed_cidrs inside the VPC only; a WAF is for internet-facing ones
  #checkov:skip=CKV_AWS_91:access logs need a bucket of the operator's choosing (see docs/deploy.md); the admin app records every action in its audit log
  name                       = "${local.name}admin"
  load_balancer_type         = "application"
  internal                   = true
  subnets                    = module.network.private_subnet_ids
  security_groups            = [aws_security_group.admin_alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 60
}

resource "aws_lb_target_group" "admin" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; balancer to task is plain HTTP inside the VPC, admitted from the balancer's security group only
  name                 = "${local.name}admin"
  vpc_id               = module.network.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = local.admin_port
  deregistration_delay = 30

  health_check {
    # The sign-in page (or a redirect to it) answers without a session.
    path                = "/"
    matcher             = "200-399"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "admin_http" {
  #checkov:skip=CKV_AWS_2:HTTP only without a certificate (test environments); with certificate_arn it redirects to HTTPS
  #checkov:skip=CKV_AWS_103:HTTP only without a certificate (test environments); the HTTPS listener uses TLS 1.2+
  load_balancer_arn = aws_lb.admin.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = var.certificate_arn == null ? "forward" : "redirect"
    target_group_arn = var.certificate_arn == null ? aws_lb_target_group.admin.arn : null

    dynamic "redirect" {
      for_each = var.certificate_arn == null ? [] : [1]
      content {
        protocol    = "HTTPS"
        port        = "443"
        status_code = "HTTP_301"
      }
    }
  }
}

resource "aws_lb_listener" "admin_https" {
  count = var.certificate_arn == null ? 0 : 1

  load_balancer_arn = aws_lb.admin.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.admin.arn
  }
}

resource "aws_vpc_security_group_ingress_rule" "admin_alb_from_operators" {
  for_each = { for pair in setproduct(local.admin_cidrs, local.alb_ports) : "${pair[0]}:${pair[1]}" => pair }

  security_group_id = aws_security_group.admin_alb.id
  description       = "Operators to the admin load balancer"
  ip_protocol       = "tcp"
  cidr_ipv4         = each.value[0]
  from_port         = each.value[1]
  to_port           = each.value[1]
}

resource "aws_vpc_security_group_egress_rule" "admin_alb_to_admin" {
  security_group_id            = aws_security_group.admin_alb.id
  description                  = "Admin load balancer to the admin tasks"
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.admin.id
  from_port                    = local.admin_port
  to_port                      = local.admin_port
}

resource "aws_vpc_security_group_ingress_rule" "admin_from_alb" {
  security_group_id            = aws_security_group.admin.id
  description                  = "Admin load balancer to the admin port"
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.admin_alb.id
  from_port                    = local.admin_port
  to_port                      = local.admin_port
}

# HELIOS_ADMIN_SECRET signs the console's CSRF tokens; every admin task must share it.
resource "aws_secretsmanager_secret" "admin" {
  #checkov:skip=CKV_AWS_149:AWS-managed key; a customer-managed KMS key is a follow-up (docs/deploy.md, known limits)
  #checkov:skip=CKV2_AWS_57:rotation would invalidate open forms only; rotate with admin_secret_version (docs/deploy.md)
  name                    = "${local.name}admin-secret"
  description             = "HELIOS_ADMIN_SECRET: signs the admin console's CSRF tokens."
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "admin" {
  secret_id                = aws_secretsmanager_secret.admin.id
  secret_string_wo         = var.admin_secret
  secret_string_wo_version = var.admin_secret_version
}
