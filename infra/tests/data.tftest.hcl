# The data module: RDS PostgreSQL 15, encrypted and private, password only write-only; Redis
# optional, encrypted, reached over TLS.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                        = "helios-"
  subnet_ids                  = ["subnet-a", "subnet-b"]
  security_group_id           = "sg-db"
  redis_security_group_id     = "sg-redis"
  instance_class              = "db.t4g.micro"
  allocated_storage           = 20
  max_allocated_storage       = 100
  multi_az                    = false
  backup_retention_days       = 7
  deletion_protection         = true
  password                    = "Abcdefghijklmnopqrstuvwxyz0123456789"
  password_version            = 1
  secret_recovery_window_days = 7
  redis_enabled               = true
  redis_node_type             = "cache.t4g.micro"
  redis_replicas              = 0
}

run "database_is_encrypted_private_postgres_15" {
  command = apply

  module {
    source = "./modules/data"
  }

  assert {
    condition     = aws_db_instance.this.engine == "postgres" && aws_db_instance.this.engine_version == "15" && aws_db_parameter_group.this.family == "postgres15"
    error_message = "the event store must be PostgreSQL 15"
  }
  assert {
    condition     = aws_db_instance.this.storage_encrypted
    error_message = "the database must be encrypted at rest"
  }
  assert {
    condition     = !aws_db_instance.this.publicly_accessible
    error_message = "the database must not be publicly accessible"
  }
  assert {
    condition     = aws_db_instance.this.vpc_security_group_ids == toset(["sg-db"]) && aws_db_subnet_group.this.subnet_ids == toset(["subnet-a", "subnet-b"])
    error_message = "the database must sit in the given private subnets behind its own security group"
  }
  assert {
    condition     = aws_db_instance.this.deletion_protection && !aws_db_instance.this.skip_final_snapshot
    error_message = "deletion protection on means protected and a final snapshot"
  }
  assert {
    condition     = one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "the database must refuse connections without TLS"
  }
  assert {
    # Write-only: what Terraform keeps of the password is nothing at all.
    condition     = aws_db_instance.this.password_wo == null && aws_db_instance.this.password == null && aws_secretsmanager_secret_version.store_url.secret_string_wo == null
    error_message = "the password must not be kept in the state"
  }
  assert {
    condition     = aws_secretsmanager_secret_version.store_url.secret_string_wo_version == 1 && aws_db_instance.this.password_wo_version == 1
    error_message = "the database and the secret must take the password at the same version"
  }
  assert {
    condition     = aws_elasticache_replication_group.this[0].at_rest_encryption_enabled == "true" && aws_elasticache_replication_group.this[0].transit_encryption_enabled
    error_message = "Redis must be encrypted at rest and in transit"
  }
  assert {
    condition     = output.redis_url == "rediss://master.helios-redis.abcdef.use1.cache.amazonaws.com:6379/0"
    error_message = "HELIOS_REDIS_URL must use TLS (rediss://) to the primary endpoint"
  }
}
