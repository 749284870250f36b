# One work queue and its dead-letter queue, named as `helios queues create` names them
# locally: "<prefix><name>" and "<prefix><name>-dlq", with ".fifo" after both when FIFO
# (HELIOS_SQS_FIFO=true): a FIFO queue's dead-letter queue must be FIFO too.

locals {
  suffix           = var.fifo ? ".fifo" : ""
  main_name        = "${var.prefix}${var.name}${local.suffix}"
  dead_letter_name = "${var.prefix}${var.name}-dlq${local.suffix}"
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = local.dead_letter_name
  sqs_managed_sse_enabled   = true
  message_retention_seconds = var.dead_letter_retention_seconds
  fifo_queue                = var.fifo ? true : null
  # Takes what the redrive policy moves (no sends of its own): per-queue defaults suffice.
  content_based_deduplication = var.fifo ? false : null
}

resource "aws_sqs_queue" "main" {
  name                       = local.main_name
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.retention_seconds
  receive_wait_time_seconds  = 20

  # FIFO: the tenant is the message group, so one tenant is decided by one worker at a time.
  # Each message carries its own deduplication id (an envelope's ingest id, a tick's tenant
  # and time), never the body's hash. High-throughput mode: the quota and deduplication are
  # per message group, not per queue (docs/capacity.md).
  fifo_queue                  = var.fifo ? true : null
  content_based_deduplication = var.fifo ? false : null
  deduplication_scope         = var.fifo ? "messageGroup" : null
  fifo_throughput_limit       = var.fifo ? "perMessageGroupId" : null

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only this queue may dead-letter into the DLQ (and be the target of a redrive back).
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}

# Any message in the DLQ is an envelope that failed three times: someone should look.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${local.dead_letter_name}-not-empty"
  alarm_description   = "Messages in ${local.dead_letter_name}: see docs/deploy.md (dead letters)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
