variable "name" {
  description = "Task definition family, service and log stream prefix (e.g. \"helios-api\")."
  type        = string
}

variable "region" {
  description = "AWS region (for the awslogs driver)."
  type        = string
}

variable "image" {
  description = "Container image of Helios."
  type        = string
}

variable "command" {
  description = "Command of the container, e.g. [\"helios\", \"api\"]."
  type        = list(string)
}

variable "cpu" {
  description = "Task CPU units (256 = 1/4 vCPU)."
  type        = number
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (must match the image)."
  type        = string
}

variable "environment" {
  description = "Plain environment variables of the container."
  type        = map(string)
}

variable "secrets" {
  description = "Environment variables read from Secrets Manager at start: name => secret ARN."
  type        = map(string)
  default     = {}
}

variable "execution_role_arn" {
  description = "Role ECS uses to pull the image, write logs and read the secrets."
  type        = string
}

variable "task_role_arn" {
  description = "Role the process itself runs as (null: no AWS API access)."
  type        = string
  default     = null
}

variable "container_port" {
  description = "Port the container listens on (null: none)."
  type        = number
  default     = null
}

variable "stop_timeout_seconds" {
  description = "Seconds between SIGTERM and SIGKILL (lets a worker finish its batch)."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log group."
  type        = number
}

variable "subnet_ids" {
  description = "Subnets the tasks run in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks a public address (only when the VPC has no NAT gateway)."
  type        = bool
}

variable "cluster_arn" {
  description = "ECS cluster of the service."
  type        = string
  default     = null
}

variable "service" {
  description = "Service settings, or null for a task definition run on demand (migrations)."
  type = object({
    initial_count           = number
    minimum_healthy_percent = optional(number, 100)
    maximum_percent         = optional(number, 200)
    target_group_arn        = optional(string)
  })
  default = null
}
