variable "name" {
  description = "Prefix of resource names, ending in a hyphen."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (two zones) for the database and Redis."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the database."
  type        = string
}

variable "redis_security_group_id" {
  description = "Security group of Redis."
  type        = string
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
}

variable "multi_az" {
  description = "Run a standby in the second zone."
  type        = bool
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
}

variable "deletion_protection" {
  description = "Refuse to delete the database; when off, no final snapshot is kept either."
  type        = bool
}

variable "password" {
  description = "Master password, sent only when password_version changes."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "password_version" {
  description = "Bump to send a new password to RDS and to the store URL secret."
  type        = number
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored (0: delete at once)."
  type        = number
}

variable "redis_enabled" {
  description = "Create an ElastiCache Redis replication group."
  type        = bool
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "redis_replicas" {
  description = "Read replicas (0: one node; 1 or more: automatic failover across zones)."
  type        = number
}
