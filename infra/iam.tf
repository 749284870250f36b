# Roles. The execution role is what ECS itself uses to start a task (pull the image, write
# logs, read HELIOS_STORE_URL); each process then runs under a task role that allows only the
# queue operations that process performs.

locals {
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  queue_lookup = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
  ingest       = module.queues["ingest"]
  analytics    = module.queues["analytics"]

  task_policies = {
    # Accepts envelopes and puts them on the ingest queue.
    api = [{
      Sid      = "SendIngest"
      Effect   = "Allow"
      Action   = concat(["sqs:SendMessage"], local.queue_lookup)
      Resource = [local.ingest.arn]
    }]
    # Consumes the ingest queue; failed messages reach the DLQ through the redrive policy.
    worker = [{
      Sid      = "ConsumeIngest"
      Effect   = "Allow"
      Action   = concat(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], local.queue_lookup)
      Resource = [local.ingest.arn]
    }]
    # Followers fan out to analytics; ticks go through the ingest queue; redrives move dead
    # letters back to their source queue.
    scheduler = [
      {
        Sid      = "SendWork"
        Effect   = "Allow"
        Action   = concat(["sqs:SendMessage"], local.queue_lookup)
        Resource = [local.ingest.arn, local.analytics.arn]
      },
      {
        Sid    = "RedriveDeadLetters"
        Effect = "Allow"
        Action = concat([
          "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:CancelMessageMoveTask",
          "sqs:ReceiveMessage", "sqs:DeleteMessage",
        ], local.queue_lookup)
        Resource = [local.ingest.dead_letter_arn, local.analytics.dead_letter_arn]
      },
    ]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}ecs-execution"
  description        = "ECS starts Helios tasks: image pull, logs, HELIOS_STORE_URL"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  name = "read-store-url"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadStoreUrl"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [module.data.store_url_secret_arn]
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
