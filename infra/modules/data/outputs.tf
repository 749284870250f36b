output "db_endpoint" {
  description = "host:port of the database."
  value       = aws_db_instance.this.endpoint
}

output "db_address" {
  description = "Host name of the database."
  value       = aws_db_instance.this.address
}

output "db_identifier" {
  description = "RDS instance identifier."
  value       = aws_db_instance.this.identifier
}

output "store_url_secret_arn" {
  description = "Secrets Manager secret holding HELIOS_STORE_URL."
  value       = aws_secretsmanager_secret.store_url.arn
}

output "redis_url" {
  description = "HELIOS_REDIS_URL (TLS), or null when Redis is disabled."
  value       = var.redis_enabled ? "rediss://${aws_elasticache_replication_group.this[0].primary_endpoint_address}:6379/0" : null
}
