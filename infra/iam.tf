# Roles. The execution role is what ECS itself uses to start a task (pull the image, write
# logs, read HELIOS_STORE_URL and HELIOS_SECRETS_KEK); each process then runs under a task
# role that allows only the queue operations that process performs.

locals {
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  ingest    = module.queues["ingest"]
  analytics = module.queues["analytics"]

  # Opening a queue looks up its URL and its DLQ's (GetQueueUrl), and reads its depth.
  lookup = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
  lookup_ingest = {
    Sid      = "LookUpIngest"
    Effect   = "Allow"
    Action   = local.lookup
    Resource = [local.ingest.arn, local.ingest.dead_letter_arn]
  }

  lookup_analytics = {
    Sid      = "LookUpAnalytics"
    Effect   = "Allow"
    Action   = local.lookup
    Resource = [local.analytics.arn, local.analytics.dead_letter_arn]
  }

  # Batch calls are authorised by the single-message action (SendMessageBatch by SendMessage).
  task_policies = {
    # Accepts envelopes and puts them on the ingest queue.
    api = [local.lookup_ingest, {
      Sid      = "SendIngest"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [local.ingest.arn]
    }]
    # Consumes the ingest queue; failing messages reach the DLQ through the redrive policy.
    worker = [local.lookup_ingest, {
      Sid      = "ConsumeIngest"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      Resource = [local.ingest.arn]
    }]
    # Follows the event log; fans decisions out to the analytics queue.
    followers = [
      {
        Sid      = "LookUpQueues"
        Effect   = "Allow"
        Action   = local.lookup
        Resource = [local.ingest.arn, local.ingest.dead_letter_arn, local.analytics.arn, local.analytics.dead_letter_arn]
      },
      {
        Sid      = "SendAnalytics"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [local.analytics.arn]
      },
    ]
    # Sends ticks through the ingest queue; counts dead letters by peeking at the DLQ.
    scheduler = [
      local.lookup_ingest,
      {
        Sid      = "SendTicks"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [local.ingest.arn]
      },
      {
        Sid      = "PeekDeadLetters"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage"]
        Resource = [local.ingest.dead_letter_arn]
      },
    ]
    # Consumes the analytics queue.
    analytics = [local.lookup_analytics, {
      Sid      = "ConsumeAnalytics"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      Resource = [local.analytics.arn]
    }]
    # Dead-letter jobs: list and show (receive), purge (delete), redrive (send back to the
    # ingest queue, then delete from the DLQ).
    admin = [local.lookup_ingest, {
      Sid      = "DeadLetterJobs"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      Resource = [local.ingest.dead_letter_arn]
      }, {
      Sid      = "RedriveToIngest"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [local.ingest.arn]
    }]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}ecs-execution"
  description        = "ECS starts Helios tasks: image pull, logs, HELIOS_STORE_URL, HELIOS_SECRETS_KEK"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  name = "read-process-secrets"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadStoreUrlAndKek"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [module.data.store_url_secret_arn, aws_secretsmanager_secret.kek.arn]
    }]
  })
}

# The admin console starts with one more secret (HELIOS_ADMIN_SECRET), which no other
# process may read: its own execution role.
resource "aws_iam_role" "admin_execution" {
  name               = "${local.name}ecs-admin-execution"
  description        = "ECS starts Helios admin tasks: image pull, logs, store URL, KEK, admin secret"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy_attachment" "admin_execution" {
  role       = aws_iam_role.admin_execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "admin_execution_secrets" {
  name = "read-admin-secrets"
  role = aws_iam_role.admin_execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadStoreUrlKekAndAdminSecret"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [module.data.store_url_secret_arn, aws_secretsmanager_secret.kek.arn, aws_secretsmanager_secret.admin.arn]
    }]
  })
}

resource "aws_iam_role" "task" {
  for_each = local.task_policies

  name               = "${local.name}${each.key}-task"
  description        = "Helios ${each.key} process"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy" "task" {
  for_each = local.task_policies

  name   = "queues"
  role   = aws_iam_role.task[each.key].id
  policy = jsonencode({ Version = "2012-10-17", Statement = each.value })
}
