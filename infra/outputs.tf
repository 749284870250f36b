output "alb_dns_name" {
  description = "DNS name of the load balancer (point your domain's CNAME or alias here)."
  value       = aws_lb.api.dns_name
}

output "api_url" {
  description = "Base URL of the API (HELIOS_PUBLIC_URL of the tasks)."
  value       = local.public_url
}

output "queue_urls" {
  description = "URLs of the work queues and their dead-letter queues, by name."
  value = merge(
    { for k, q in module.queues : q.name => q.url },
    { for k, q in module.queues : q.dead_letter_name => q.dead_letter_url },
  )
}

output "rds_endpoint" {
  description = "host:port of the PostgreSQL event store."
  value       = module.data.db_endpoint
}

output "store_url_secret_arn" {
  description = "Secrets Manager secret holding HELIOS_STORE_URL."
  value       = module.data.store_url_secret_arn
}

output "redis_url" {
  description = "HELIOS_REDIS_URL of the tasks, or null without Redis."
  value       = module.data.redis_url
}

output "cluster_name" {
  description = "ECS cluster of the services."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS services by role."
  value       = local.services
}

output "log_groups" {
  description = "CloudWatch log groups (JSON lines) by process."
  value = {
    api       = module.api.log_group_name
    worker    = module.worker.log_group_name
    followers = module.followers.log_group_name
    scheduler = module.scheduler.log_group_name
    admin     = module.admin.log_group_name
    analytics = module.analytics.log_group_name
    migrate   = module.migrate.log_group_name
  }
}

output "migrate_task_definition" {
  description = "Task definition family of `helios db migrate`."
  value       = module.migrate.task_definition_family
}

output "task_network_configuration" {
  description = "awsvpcConfiguration for one-off tasks (aws ecs run-task --network-configuration)."
  value       = local.one_off_network
}

output "run_migration_command" {
  description = "AWS CLI command that runs the migration task once (see docs/deploy.md)."
  value = join(" ", [
    "aws ecs run-task --region ${var.region}",
    "--cluster ${aws_ecs_cluster.this.name}",
    "--task-definition ${module.migrate.task_definition_family}",
    "--launch-type FARGATE",
    "--network-configuration '${local.one_off_network}'",
  ])
}

output "admin_url" {
  description = "Base URL of the admin console, on the internal load balancer (reachable from admin_allowed_cidrs)."
  value       = "${local.scheme}://${aws_lb.admin.dns_name}"
}
