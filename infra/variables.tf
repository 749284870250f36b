# --- Where and what -----------------------------------------------------------------------------

variable "region" {
  description = "AWS region of every resource (also AWS_REGION of the tasks)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as \"us-east-1\"."
  }
}

variable "prefix" {
  description = "Prefix of every resource name and of the queue names (HELIOS_SQS_PREFIX): \"helios-\" gives helios-ingest.fifo, helios-ingest-dlq.fifo, helios-analytics, helios-analytics-dlq. Use one per environment, e.g. \"helios-staging-\"."
  type        = string
  default     = "helios-"

  validation {
    # Lower case, ends in one hyphen: valid for RDS, ElastiCache, ALB and SQS names alike.
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*-$", var.prefix)) && length(var.prefix) <= 20
    error_message = "prefix must be lower-case letters, digits and single hyphens, start with a letter, end with a hyphen, and be at most 20 characters (e.g. \"helios-\")."
  }
}

variable "image" {
  description = "Container image of Helios with a tag or digest, e.g. \"123456789012.dkr.ecr.us-east-1.amazonaws.com/helios:1.4.0\". Every service and the migration task run it."
  type        = string

  validation {
    condition     = can(regex("^[^\\s]+(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must name a fixed tag or digest (not \":latest\"), so a task restart never runs different code."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image and of the Fargate tasks: \"ARM64\" (cheaper per vCPU) or \"X86_64\"."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}

variable "tags" {
  description = "Tags added to every resource (cost allocation, ownership)."
  type        = map(string)
  default     = {}
}

# --- Network ------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "IPv4 range of the VPC, /16 to /20. Subnets are carved as /20 (from a /16) or smaller."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR block from /16 to /20."
  }
}

variable "nat_gateway_mode" {
  description = "Egress of the private subnets: \"single\" (one NAT gateway, the default), \"per_az\" (one per zone: survives a zone failure, costs twice) or \"none\" (no NAT: tasks run in the public subnets with public IPs, still unreachable from outside by their security groups)."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["single", "per_az", "none"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be \"single\", \"per_az\" or \"none\"."
  }
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancer (HTTP, and HTTPS when certificate_arn is set)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.allowed_ingress_cidrs) > 0 && alltrue([for c in var.allowed_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "allowed_ingress_cidrs must be a non-empty list of IPv4 CIDR blocks."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on the load balancer. When set, port 80 redirects to 443; when null, the API is served over plain HTTP (test environments only)."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN or null."
  }
}

variable "public_url" {
  description = "Base URL of the API as users reach it (HELIOS_PUBLIC_URL, used in notification links). Null: the load balancer's DNS name."
  type        = string
  default     = null

  validation {
    condition     = var.public_url == null || can(regex("^https?://[^\\s/]+", var.public_url))
    error_message = "public_url must start with http:// or https://."
  }
}

# --- Database -----------------------------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class of the event store."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = startswith(var.db_instance_class, "db.")
    error_message = "db_instance_class must be an RDS class such as \"db.t4g.micro\" or \"db.m7g.large\"."
  }
}

variable "db_allocated_storage" {
  description = "Initial database storage in GiB (gp3)."
  type        = number
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 65536
    error_message = "db_allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "db_max_allocated_storage" {
  description = "Ceiling of storage autoscaling in GiB (at least db_allocated_storage)."
  type        = number
  default     = 100

  validation {
    condition     = var.db_max_allocated_storage >= 20 && var.db_max_allocated_storage <= 65536
    error_message = "db_max_allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "db_multi_az" {
  description = "Keep a synchronous standby in the second zone (automatic failover; doubles the instance cost)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days of automated backups, i.e. the point-in-time recovery window."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "deletion_protection" {
  description = "Protect the database and the load balancer from deletion; with it on, destroying the database also requires a final snapshot. Turn off only for throw-away environments."
  type        = bool
  default     = true
}

variable "db_password" {
  description = "Master password of the database: letters and digits, 32 to 128 characters. Needed only when the database is created or db_password_version changes; never stored in the plan or state. See docs/deploy.md (rotating the password)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.db_password == null || can(regex("^[A-Za-z0-9]{32,128}$", var.db_password))
    error_message = "db_password must be 32 to 128 letters and digits (it is embedded in a URL)."
  }
}

variable "db_password_version" {
  description = "Increase by one to write db_password to RDS and to the HELIOS_STORE_URL secret."
  type        = number
  default     = 1

  validation {
    condition     = var.db_password_version >= 1 && floor(var.db_password_version) == var.db_password_version
    error_message = "db_password_version must be a positive integer."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted HELIOS_STORE_URL secret can still be restored (0: delete at once, for throw-away environments)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

# --- Redis --------------------------------------------------------------------------------------

variable "redis_enabled" {
  description = "Run ElastiCache Redis for rate limits and idempotency keys shared by all API tasks. Off: each API task keeps its own in-process limits (limits multiply by the number of tasks, and a retried request reaching another task is not recognised)."
  type        = bool
  default     = true
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.micro"

  validation {
    condition     = startswith(var.redis_node_type, "cache.")
    error_message = "redis_node_type must be an ElastiCache node type such as \"cache.t4g.micro\"."
  }
}

variable "redis_replicas" {
  description = "Redis replicas in the other zone: 0 (one node) or 1 to 5 (automatic failover)."
  type        = number
  default     = 0

  validation {
    condition     = var.redis_replicas >= 0 && var.redis_replicas <= 5
    error_message = "redis_replicas must be between 0 and 5."
  }
}

# --- Services -----------------------------------------------------------------------------------

variable "paused" {
  description = "Scale every service to zero tasks (first deployment before the migration, maintenance). The migration task can still run."
  type        = bool
  default     = false
}

variable "api" {
  description = "API service (`helios api`): task size, task count range, and the average CPU % the count tracks."
  type = object({
    cpu            = optional(number, 512)
    memory         = optional(number, 1024)
    min_tasks      = optional(number, 2)
    max_tasks      = optional(number, 6)
    cpu_target_pct = optional(number, 60)
  })
  default = {}

  validation {
    condition     = var.api.min_tasks >= 1 && var.api.max_tasks >= var.api.min_tasks && var.api.cpu_target_pct > 0 && var.api.cpu_target_pct < 100
    error_message = "api needs 1 <= min_tasks <= max_tasks and 0 < cpu_target_pct < 100."
  }
}

variable "worker" {
  description = "Ingest worker service (`helios worker ingest`): task size, task count range, and the number of visible messages in the ingest queue the count tracks."
  type = object({
    cpu                      = optional(number, 512)
    memory                   = optional(number, 1024)
    min_tasks                = optional(number, 1)
    max_tasks                = optional(number, 10)
    queue_depth_target       = optional(number, 1000)
    queue_age_target_seconds = optional(number, 30)
    stop_timeout_seconds     = optional(number, 60)
  })
  default = {}

  validation {
    condition     = var.worker.min_tasks >= 0 && var.worker.max_tasks >= max(1, var.worker.min_tasks) && var.worker.queue_depth_target > 0 && var.worker.queue_age_target_seconds > 0 && var.worker.stop_timeout_seconds >= 2 && var.worker.stop_timeout_seconds <= 120
    error_message = "worker needs 0 <= min_tasks <= max_tasks, max_tasks >= 1, queue_depth_target > 0, queue_age_target_seconds > 0 and stop_timeout_seconds within 2..120."
  }
}

variable "followers" {
  description = "Followers service (`helios worker followers`: projections, email notifier, analytics fan-out). Always exactly one task."
  type = object({
    cpu    = optional(number, 512)
    memory = optional(number, 1024)
  })
  default = {}
}

variable "scheduler" {
  description = "Scheduler service (`helios scheduler`: ticks for open alerts, dead-letter reports). Always exactly one task."
  type = object({
    cpu    = optional(number, 256)
    memory = optional(number, 512)
  })
  default = {}
}

variable "admin" {
  description = "Admin console service (`helios admin`, behind the internal load balancer). Always exactly one task (its background jobs run in the process)."
  type = object({
    cpu    = optional(number, 256)
    memory = optional(number, 512)
  })
  default = {}
}

variable "admin_allowed_cidrs" {
  description = "Who may reach the internal admin load balancer (default: the VPC range, i.e. a VPN or bastion inside it)."
  type        = list(string)
  default     = null
}

variable "admin_secret" {
  description = "HELIOS_ADMIN_SECRET (signs the admin console's CSRF tokens): 32 to 128 letters and digits. Needed only on the first apply and when admin_secret_version changes; never stored in the plan or state."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.admin_secret == null || can(regex("^[A-Za-z0-9]{32,128}$", var.admin_secret))
    error_message = "admin_secret must be 32 to 128 letters and digits."
  }
}

variable "admin_secret_version" {
  description = "Increase by one to write admin_secret to the HELIOS_ADMIN_SECRET secret."
  type        = number
  default     = 1
}

variable "secrets_kek" {
  description = "HELIOS_SECRETS_KEK, the key-encryption key of integration secrets: 32 random bytes in base64 (`openssl rand -base64 32`). Needed only on the first apply and when secrets_kek_version changes; never stored in the plan or state."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.secrets_kek == null || can(regex("^[A-Za-z0-9+/_-]{43}=?$", var.secrets_kek))
    error_message = "secrets_kek must be 32 bytes in base64 (44 characters, e.g. from `openssl rand -base64 32`)."
  }
}

variable "secrets_kek_version" {
  description = "Increase by one to write secrets_kek to the HELIOS_SECRETS_KEK secret (secrets sealed under the previous key become unreadable: docs/deploy.md)."
  type        = number
  default     = 1
}

variable "analytics" {
  description = "Analytics worker service (`helios analytics`): task size, and the age of the oldest analytics message above which an alarm fires. Always exactly one task (one writer of its DuckDB file)."
  type = object({
    cpu                     = optional(number, 512)
    memory                  = optional(number, 1024)
    max_backlog_age_seconds = optional(number, 900)
  })
  default = {}
}

variable "log_level" {
  description = "HELIOS_LOG_LEVEL of every process."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warning", "error"], var.log_level)
    error_message = "log_level must be debug, info, warning or error."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 180, 365, ...)."
  }
}

variable "environment" {
  description = "Extra environment variables for every Helios container, e.g. HELIOS_SMTP_HOST, HELIOS_NOTIFY_TO, HELIOS_WORKER_BATCH (see src/helios/apps/settings.py). Cannot override the variables this configuration sets."
  type        = map(string)
  default     = {}

  validation {
    condition = length(setintersection(keys(var.environment), [
      "HELIOS_STORE_URL", "HELIOS_QUEUE", "HELIOS_SQS_PREFIX", "HELIOS_SQS_FIFO", "AWS_REGION",
      "HELIOS_REDIS_URL", "HELIOS_LOG_FORMAT", "HELIOS_HTTP_HOST", "HELIOS_HTTP_PORT",
      "HELIOS_DATA_DIR", "HELIOS_SECRETS_KEK",
    ])) == 0
    error_message = "environment cannot set HELIOS_STORE_URL, HELIOS_QUEUE, HELIOS_SQS_PREFIX, HELIOS_SQS_FIFO, AWS_REGION, HELIOS_REDIS_URL, HELIOS_LOG_FORMAT, HELIOS_HTTP_HOST, HELIOS_HTTP_PORT, HELIOS_DATA_DIR or HELIOS_SECRETS_KEK (a secret: set secrets_kek): they follow from the infrastructure."
  }
}

variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the cluster (per-task metrics; billed as custom metrics)."
  type        = bool
  default     = false
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified when a dead-letter queue holds messages."
  type        = list(string)
  default     = []
}
