output "task_definition_arn" {
  description = "ARN (with revision) of the task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the task definition (runs its latest revision)."
  value       = aws_ecs_task_definition.this.family
}

output "service_name" {
  description = "Name of the ECS service, or null for an on-demand task."
  value       = var.service == null ? null : aws_ecs_service.this[0].name
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = aws_cloudwatch_log_group.this.name
}

output "container" {
  description = "The container definition as ECS receives it (command, environment, secrets, logging)."
  value       = jsondecode(aws_ecs_task_definition.this.container_definitions)[0]
}

output "network_configuration" {
  description = "Subnets, security groups and public IP setting of the service's tasks (null for an on-demand task)."
  value       = var.service == null ? null : one(aws_ecs_service.this[0].network_configuration)
}

output "load_balancers" {
  description = "Target groups the service registers its tasks with."
  value       = var.service == null ? [] : aws_ecs_service.this[0].load_balancer
}

output "execution_role_arn" {
  description = "Role ECS starts the tasks with (image pull, logs, secrets)."
  value       = aws_ecs_task_definition.this.execution_role_arn
}
