# The whole configuration: who may reach whom, what each process runs with which settings and
# permissions, and how the services scale.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  image        = "123456789012.dkr.ecr.us-east-1.amazonaws.com/helios:1.0.0"
  db_password  = "Abcdefghijklmnopqrstuvwxyz0123456789"
  admin_secret = "Zyxwvutsrqponmlkjihgfedcba9876543210"
  secrets_kek  = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="
}

run "defaults" {
  command = apply

  # Distinct ARNs, so each policy can be checked to name the right queue.
  override_resource {
    target = module.queues["ingest"].aws_sqs_queue.main
    values = { arn = "arn:aws:sqs:us-east-1:123456789012:helios-ingest.fifo" }
  }
  override_resource {
    target = module.queues["ingest"].aws_sqs_queue.dead_letter
    values = { arn = "arn:aws:sqs:us-east-1:123456789012:helios-ingest-dlq.fifo" }
  }
  override_resource {
    target = module.queues["analytics"].aws_sqs_queue.main
    values = { arn = "arn:aws:sqs:us-east-1:123456789012:helios-analytics" }
  }
  override_resource {
    target = module.queues["analytics"].aws_sqs_queue.dead_letter
    values = { arn = "arn:aws:sqs:us-east-1:123456789012:helios-analytics-dlq" }
  }

  override_resource {
    target = aws_secretsmanager_secret.kek
    values = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:helios-secrets-kek-AbCdEf" }
  }

  override_resource {
    target = aws_iam_role.admin_execution
    values = { arn = "arn:aws:iam::123456789012:role/helios-ecs-admin-execution" }
  }

  # --- Queues ----------------------------------------------------------------------------

  assert {
    condition     = module.queues["ingest"].name == "helios-ingest.fifo" && module.queues["ingest"].dead_letter_name == "helios-ingest-dlq.fifo"
    error_message = "the ingest queues must be FIFO, named helios-ingest.fifo and helios-ingest-dlq.fifo, as `helios queues create` names them"
  }
  assert {
    condition     = module.queues["analytics"].name == "helios-analytics" && module.queues["analytics"].dead_letter_name == "helios-analytics-dlq"
    error_message = "the analytics queues must be named helios-analytics and helios-analytics-dlq"
  }
  assert {
    condition     = module.queues["ingest"].fifo && !module.queues["analytics"].fifo
    error_message = "the ingest queue and its DLQ must be FIFO (tests/queues.tftest.hcl checks their settings); the analytics queue stays standard"
  }
  assert {
    condition     = toset(keys(output.queue_urls)) == toset(["helios-ingest.fifo", "helios-ingest-dlq.fifo", "helios-analytics", "helios-analytics-dlq"])
    error_message = "queue_urls must list the four queues by name"
  }

  # --- Network and security groups -------------------------------------------------------

  assert {
    condition     = length(module.network.public_subnet_ids) == 2 && length(module.network.private_subnet_ids) == 2 && length(toset(module.network.availability_zones)) == 2
    error_message = "public and private subnets must span two availability zones"
  }
  assert {
    condition = alltrue([
      for s in [module.api, module.worker, module.followers, module.scheduler, module.admin, module.analytics] :
      toset(s.network_configuration.subnets) == toset(module.network.private_subnet_ids) && !s.network_configuration.assign_public_ip
    ])
    error_message = "with a NAT gateway, tasks run in the private subnets without public IPs"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.api_from_alb.security_group_id == aws_security_group.api.id &&
      aws_vpc_security_group_ingress_rule.api_from_alb.referenced_security_group_id == aws_security_group.alb.id &&
      aws_vpc_security_group_ingress_rule.api_from_alb.cidr_ipv4 == null &&
      aws_vpc_security_group_ingress_rule.api_from_alb.from_port == 8080 &&
      aws_vpc_security_group_ingress_rule.api_from_alb.to_port == 8080
    )
    error_message = "the API security group must admit the API port from the load balancer's group only"
  }
  assert {
    # No other ingress rule anywhere targets the API group or the background group.
    condition = alltrue([
      for r in concat(
        values(aws_vpc_security_group_ingress_rule.alb_from_clients),
        values(aws_vpc_security_group_ingress_rule.db_from_tasks),
        values(aws_vpc_security_group_ingress_rule.redis_from_tasks),
        values(aws_vpc_security_group_ingress_rule.admin_alb_from_operators),
      ) : !contains([aws_security_group.api.id, aws_security_group.background.id, aws_security_group.admin.id], r.security_group_id)
    ])
    error_message = "only the load balancer may open a connection to a Helios task"
  }
  assert {
    condition = length(aws_vpc_security_group_ingress_rule.db_from_tasks) == 3 && alltrue([
      for r in values(aws_vpc_security_group_ingress_rule.db_from_tasks) :
      r.security_group_id == aws_security_group.db.id && r.from_port == 5432 && r.to_port == 5432 && r.cidr_ipv4 == null &&
      contains([aws_security_group.api.id, aws_security_group.background.id, aws_security_group.admin.id], r.referenced_security_group_id)
    ])
    error_message = "PostgreSQL must admit the Helios task security groups only"
  }
  assert {
    condition = length(aws_vpc_security_group_ingress_rule.redis_from_tasks) == 3 && alltrue([
      for r in values(aws_vpc_security_group_ingress_rule.redis_from_tasks) :
      r.security_group_id == aws_security_group.redis.id && r.from_port == 6379 && r.cidr_ipv4 == null &&
      contains([aws_security_group.api.id, aws_security_group.background.id, aws_security_group.admin.id], r.referenced_security_group_id)
    ])
    error_message = "Redis must admit the Helios task security groups only"
  }

  # --- Load balancer ----------------------------------------------------------------------

  assert {
    condition     = aws_lb_target_group.api.health_check[0].path == "/healthz" && aws_lb_target_group.api.port == 8080 && aws_lb_target_group.api.target_type == "ip"
    error_message = "the load balancer must check /healthz on the API port of each task"
  }
  assert {
    condition     = one(module.api.load_balancers).target_group_arn == aws_lb_target_group.api.arn && one(module.api.load_balancers).container_port == 8080
    error_message = "the API service must register its tasks with the target group"
  }
  assert {
    condition     = output.alb_dns_name == "helios-api-123456789.us-east-1.elb.amazonaws.com" && output.api_url == "http://helios-api-123456789.us-east-1.elb.amazonaws.com"
    error_message = "the outputs must name the load balancer"
  }
  assert {
    condition     = strcontains(output.run_migration_command, "--task-definition helios-migrate") && strcontains(output.task_network_configuration, "assignPublicIp=DISABLED")
    error_message = "the migration command must run the migration task in the private subnets"
  }

  # --- What each process runs, with which settings ----------------------------------------

  assert {
    condition     = module.api.container.command == ["helios", "api"] && module.worker.container.command == ["helios", "worker", "ingest"] && module.followers.container.command == ["helios", "worker", "followers"] && module.scheduler.container.command == ["helios", "scheduler"] && module.migrate.container.command == ["helios", "db", "migrate"] && module.admin.container.command == ["helios", "admin"] && module.analytics.container.command == ["helios", "analytics"]
    error_message = "each service must run its own helios command"
  }
  assert {
    condition = alltrue([
      for s in [module.api, module.worker, module.followers, module.scheduler, module.migrate, module.admin, module.analytics] :
      [for e in s.container.secrets : e.valueFrom if e.name == "HELIOS_STORE_URL"] == [module.data.store_url_secret_arn] &&
      length([for e in s.container.environment : e if e.name == "HELIOS_STORE_URL"]) == 0
    ])
    error_message = "HELIOS_STORE_URL must come from the secret, never from plain environment"
  }
  assert {
    condition = alltrue([
      for s in [module.api, module.worker, module.followers, module.scheduler, module.migrate, module.admin, module.analytics] :
      [for e in s.container.secrets : e.valueFrom if e.name == "HELIOS_SECRETS_KEK"] == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:helios-secrets-kek-AbCdEf"] &&
      length([for e in s.container.environment : e if e.name == "HELIOS_SECRETS_KEK"]) == 0
    ])
    error_message = "every Helios container must get HELIOS_SECRETS_KEK from the one KEK secret, never from plain environment"
  }
  assert {
    condition = alltrue([
      for s in [module.api, module.worker, module.followers, module.scheduler, module.migrate, module.admin, module.analytics] :
      { for e in s.container.environment : e.name => e.value if contains(["HELIOS_QUEUE", "HELIOS_SQS_PREFIX", "HELIOS_SQS_FIFO", "AWS_REGION", "HELIOS_LOG_FORMAT", "HELIOS_REDIS_URL"], e.name) } == {
        HELIOS_QUEUE      = "sqs"
        HELIOS_SQS_PREFIX = "helios-"
        HELIOS_SQS_FIFO   = "true"
        AWS_REGION        = "us-east-1"
        HELIOS_LOG_FORMAT = "json"
        HELIOS_REDIS_URL  = "rediss://master.helios-redis.abcdef.use1.cache.amazonaws.com:6379/0"
      }
    ])
    error_message = "every process must use SQS with the Terraform queue prefix and FIFO ingest queue, the region, Redis over TLS and JSON logs"
  }
  assert {
    condition     = { for e in module.api.container.environment : e.name => e.value if startswith(e.name, "HELIOS_HTTP_") } == { HELIOS_HTTP_HOST = "0.0.0.0", HELIOS_HTTP_PORT = "8080" }
    error_message = "the API must listen on all interfaces of the task, on the target group's port"
  }
  assert {
    condition = { for e in module.api.container.environment : e.name => e.value if contains(["HELIOS_API_TRUSTED_PROXIES", "HELIOS_API_KEEP_ALIVE_S"], e.name) } == {
      HELIOS_API_TRUSTED_PROXIES = "10.40.0.0/16"
      HELIOS_API_KEEP_ALIVE_S    = "65"
    }
    error_message = "the API must trust the load balancer's X-Forwarded-For (the VPC) and keep idle connections longer than the balancer's 60 s"
  }
  assert {
    condition = alltrue([
      for s in [module.api, module.worker, module.followers, module.scheduler, module.migrate, module.admin, module.analytics] :
      s.container.logConfiguration.logDriver == "awslogs" && s.container.logConfiguration.options["awslogs-group"] == s.log_group_name
    ])
    error_message = "each process must log to its own CloudWatch log group"
  }

  # --- Admin console: internal only -------------------------------------------------------

  assert {
    condition     = aws_lb.admin.internal && toset(aws_lb.admin.subnets) == toset(module.network.private_subnet_ids) && !aws_lb.api.internal
    error_message = "the admin console's load balancer must be internal, in the private subnets"
  }
  assert {
    condition = alltrue([
      for r in values(aws_vpc_security_group_ingress_rule.admin_alb_from_operators) : r.cidr_ipv4 == "10.40.0.0/16"
    ]) && length(aws_vpc_security_group_ingress_rule.admin_alb_from_operators) == 1
    error_message = "by default only the VPC may reach the admin load balancer"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.admin_from_alb.security_group_id == aws_security_group.admin.id &&
      aws_vpc_security_group_ingress_rule.admin_from_alb.referenced_security_group_id == aws_security_group.admin_alb.id &&
      aws_vpc_security_group_ingress_rule.admin_from_alb.from_port == 8081
    )
    error_message = "the admin tasks must admit the admin port from the internal load balancer only"
  }
  assert {
    condition     = one(module.admin.load_balancers).target_group_arn == aws_lb_target_group.admin.arn && one(module.admin.load_balancers).container_port == 8081
    error_message = "the admin service must register its tasks with the internal target group"
  }
  assert {
    condition = (
      [for e in module.admin.container.secrets : e.name if e.name == "HELIOS_ADMIN_SECRET"] == ["HELIOS_ADMIN_SECRET"] &&
      alltrue([for s in [module.api, module.worker, module.followers, module.scheduler, module.analytics] : length([for e in s.container.secrets : e if e.name == "HELIOS_ADMIN_SECRET"]) == 0]) &&
      contains(module.admin.container.environment, { name = "HELIOS_ADMIN_PORT", value = "8081" })
    )
    error_message = "only the admin console gets HELIOS_ADMIN_SECRET (from Secrets Manager), and it listens on 8081"
  }
  assert {
    condition     = contains(module.analytics.container.environment, { name = "HELIOS_ANALYTICS_PATH", value = "/tmp/helios/analytics.duckdb" })
    error_message = "the analytics worker keeps its DuckDB file on the task's scratch volume"
  }

  # --- Permissions ------------------------------------------------------------------------

  assert {
    condition = (
      toset(flatten(jsondecode(aws_iam_role_policy.task["api"].policy).Statement[*].Action)) == toset(["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"]) &&
      alltrue([for st in jsondecode(aws_iam_role_policy.task["api"].policy).Statement : st.Resource == ["arn:aws:sqs:us-east-1:123456789012:helios-ingest.fifo"] if contains(st.Action, "sqs:SendMessage")]) &&
      toset(flatten(jsondecode(aws_iam_role_policy.task["api"].policy).Statement[*].Resource)) == toset(["arn:aws:sqs:us-east-1:123456789012:helios-ingest.fifo", "arn:aws:sqs:us-east-1:123456789012:helios-ingest-dlq.fifo"])
    )
    error_message = "the API may send to the ingest queue (and look it up), nothing more"
  }
  assert {
    condition = (
      toset(flatten(jsondecode(aws_iam_role_policy.task["worker"].policy).Statement[*].Action)) == toset(["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) &&
      alltrue([for st in jsondecode(aws_iam_role_policy.task["worker"].policy).Statement : st.Resource == ["arn:aws:sqs:us-east-1:123456789012:helios-ingest.fifo"] if contains(st.Action, "sqs:ReceiveMessage")])
    )
    error_message = "workers may receive, delete and change the visibility of ingest messages (and look the queue up), nothing more"
  }
  assert {
    condition = alltrue([
      for st in jsondecode(aws_iam_role_policy.task["followers"].policy).Statement :
      st.Resource == ["arn:aws:sqs:us-east-1:123456789012:helios-analytics"] if contains(st.Action, "sqs:SendMessage")
    ]) && !contains(flatten(jsondecode(aws_iam_role_policy.task["followers"].policy).Statement[*].Action), "sqs:ReceiveMessage")
    error_message = "followers may send to the analytics queue only"
  }
  assert {
    condition = alltrue([
      for st in jsondecode(aws_iam_role_policy.task["scheduler"].policy).Statement :
      st.Resource == ["arn:aws:sqs:us-east-1:123456789012:helios-ingest-dlq.fifo"] if contains(st.Action, "sqs:ReceiveMessage")
    ]) && !contains(flatten(jsondecode(aws_iam_role_policy.task["scheduler"].policy).Statement[*].Action), "sqs:DeleteMessage")
    error_message = "the scheduler may peek at the ingest DLQ, never delete from it"
  }
  assert {
    condition = (
      toset(flatten(jsondecode(aws_iam_role_policy.task["analytics"].policy).Statement[*].Action)) == toset(["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) &&
      alltrue([for st in jsondecode(aws_iam_role_policy.task["analytics"].policy).Statement : st.Resource == ["arn:aws:sqs:us-east-1:123456789012:helios-analytics"] if contains(st.Action, "sqs:ReceiveMessage")])
    )
    error_message = "the analytics worker may consume the analytics queue, nothing more"
  }
  assert {
    condition = (
      alltrue([for st in jsondecode(aws_iam_role_policy.task["admin"].policy).Statement : st.Resource == ["arn:aws:sqs:us-east-1:123456789012:helios-ingest-dlq.fifo"] if contains(st.Action, "sqs:ReceiveMessage")]) &&
      alltrue([for st in jsondecode(aws_iam_role_policy.task["admin"].policy).Statement : st.Resource == ["arn:aws:sqs:us-east-1:123456789012:helios-ingest.fifo"] if contains(st.Action, "sqs:SendMessage")])
    )
    error_message = "the admin console may work on the ingest DLQ and redrive into the ingest queue, nothing more"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.admin_execution_secrets.policy).Statement[0].Resource == [module.data.store_url_secret_arn, aws_secretsmanager_secret.kek.arn, aws_secretsmanager_secret.admin.arn] && module.admin.execution_role_arn == "arn:aws:iam::123456789012:role/helios-ecs-admin-execution" && module.api.execution_role_arn != module.admin.execution_role_arn
    error_message = "only the admin console's execution role may read the admin secret"
  }
  assert {
    condition     = !strcontains(join(",", [for p in aws_iam_role_policy.task : p.policy]), "\"*\"") && !strcontains(join(",", [for p in aws_iam_role_policy.task : p.policy]), "sqs:*")
    error_message = "no task policy may use wildcards"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.execution_secrets.policy).Statement == [{ Sid = "ReadStoreUrlAndKek", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [module.data.store_url_secret_arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:helios-secrets-kek-AbCdEf"] }]
    error_message = "the execution role may read the store URL and KEK secrets and no other"
  }

  # --- Scaling ----------------------------------------------------------------------------

  assert {
    condition = (
      aws_appautoscaling_policy.worker_queue_depth.resource_id == "service/helios-cluster/helios-worker" &&
      aws_appautoscaling_policy.worker_queue_depth.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].namespace == "AWS/SQS" &&
      aws_appautoscaling_policy.worker_queue_depth.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_appautoscaling_policy.worker_queue_depth.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].dimensions == toset([{ name = "QueueName", value = "helios-ingest.fifo" }])
    )
    error_message = "the workers' count must track the visible messages of the ingest queue"
  }
  assert {
    condition = (
      aws_appautoscaling_policy.worker_queue_age.resource_id == "service/helios-cluster/helios-worker" &&
      aws_appautoscaling_policy.worker_queue_age.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metric_name == "ApproximateAgeOfOldestMessage" &&
      aws_appautoscaling_policy.worker_queue_age.target_tracking_scaling_policy_configuration[0].target_value == 30
    )
    error_message = "the workers' count must also track the age of the oldest ingest message"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.analytics_backlog_age.dimensions["QueueName"] == "helios-analytics" && aws_cloudwatch_metric_alarm.analytics_backlog_age.metric_name == "ApproximateAgeOfOldestMessage"
    error_message = "a lagging analytics worker (one task, cannot scale out) must raise an alarm"
  }
  assert {
    condition     = aws_appautoscaling_target.service["worker"].min_capacity == 1 && aws_appautoscaling_target.service["worker"].max_capacity == 10 && aws_appautoscaling_target.service["api"].min_capacity == 2
    error_message = "default task ranges: workers 1-10, API at least 2"
  }
  assert {
    condition     = alltrue([for k in ["followers", "scheduler", "admin", "analytics"] : aws_appautoscaling_target.service[k].min_capacity == 1 && aws_appautoscaling_target.service[k].max_capacity == 1])
    error_message = "exactly one follower process, one scheduler, one admin console and one analytics worker"
  }
}

run "no_nat_no_redis_https_paused" {
  command = apply

  variables {
    prefix              = "helios-dev-"
    deletion_protection = false
    nat_gateway_mode    = "none"
    redis_enabled       = false
    certificate_arn     = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    paused              = true
  }

  assert {
    condition = alltrue([
      for s in [module.api, module.worker, module.followers, module.scheduler, module.admin, module.analytics] :
      toset(s.network_configuration.subnets) == toset(module.network.public_subnet_ids) && s.network_configuration.assign_public_ip
    ])
    error_message = "without NAT, tasks run in the public subnets with public IPs"
  }
  assert {
    condition     = alltrue([for s in [module.api, module.worker, module.followers, module.scheduler] : length([for e in s.container.environment : e if e.name == "HELIOS_REDIS_URL"]) == 0])
    error_message = "without Redis, no task gets HELIOS_REDIS_URL"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.redis_from_tasks) == 0
    error_message = "without Redis, nothing opens the Redis port"
  }
  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "redirect" && aws_lb_listener.https[0].port == 443 && aws_lb_listener.admin_http.default_action[0].type == "redirect" && aws_lb_listener.admin_https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06" && output.api_url == "https://helios-api-123456789.us-east-1.elb.amazonaws.com"
    error_message = "with a certificate, HTTP redirects to HTTPS (TLS 1.2+) on both load balancers"
  }
  assert {
    condition     = alltrue([for t in aws_appautoscaling_target.service : t.min_capacity == 0 && t.max_capacity == 0])
    error_message = "paused scales every service to zero"
  }
  assert {
    condition     = module.queues["ingest"].name == "helios-dev-ingest.fifo" && aws_appautoscaling_policy.worker_queue_depth.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].dimensions == toset([{ name = "QueueName", value = "helios-dev-ingest.fifo" }])
    error_message = "scaling follows the prefixed ingest queue"
  }
  assert {
    condition = alltrue([
      for s in [module.api, module.worker, module.followers, module.scheduler, module.migrate] :
      contains(s.container.environment, { name = "HELIOS_SQS_PREFIX", value = "helios-dev-" })
    ])
    error_message = "tasks must look queues up with the prefix Terraform named them with"
  }
  assert {
    condition     = !aws_lb.api.enable_deletion_protection
    error_message = "deletion_protection = false must leave the load balancer deletable"
  }
}
