# The queue module: the names `helios queues create` uses locally, a redrive policy that moves
# a message to its DLQ after three receives, server-side encryption, an alarm on dead letters.
# (tests/platform.tftest.hcl checks the queues the root configuration creates from it.)

mock_provider "aws" {
  source = "./tests/mocks"
}

run "redrive_after_three_receives_into_the_dlq" {
  command = apply

  module {
    source = "./modules/queues"
  }

  variables {
    prefix            = "helios-"
    name              = "ingest"
    max_receive_count = 3
  }

  assert {
    condition     = aws_sqs_queue.main.name == "helios-ingest" && aws_sqs_queue.dead_letter.name == "helios-ingest-dlq"
    error_message = "queues must be named <prefix><name> and <prefix><name>-dlq"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.main.redrive_policy).maxReceiveCount == 3
    error_message = "maxReceiveCount must be 3"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.main.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dead_letter.arn
    error_message = "the redrive policy must target the queue's own DLQ"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.dead_letter.redrive_allow_policy).sourceQueueArns == [aws_sqs_queue.main.arn]
    error_message = "only the main queue may dead-letter into the DLQ"
  }
  assert {
    condition     = aws_sqs_queue.main.sqs_managed_sse_enabled && aws_sqs_queue.dead_letter.sqs_managed_sse_enabled
    error_message = "both queues must be encrypted at rest"
  }
  assert {
    condition     = aws_sqs_queue.dead_letter.message_retention_seconds > aws_sqs_queue.main.message_retention_seconds
    error_message = "dead letters must outlive the main queue's retention"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dead_letters.dimensions["QueueName"] == "helios-ingest-dlq"
    error_message = "an alarm must watch the DLQ"
  }
}

run "fifo_queues_with_a_fifo_dlq_and_per_group_throughput" {
  command = apply

  module {
    source = "./modules/queues"
  }

  variables {
    prefix = "helios-"
    name   = "ingest"
    fifo   = true
  }

  assert {
    condition     = aws_sqs_queue.main.name == "helios-ingest.fifo" && aws_sqs_queue.dead_letter.name == "helios-ingest-dlq.fifo"
    error_message = "FIFO queues must be named <prefix><name>.fifo and <prefix><name>-dlq.fifo, as `helios queues create` names them with HELIOS_SQS_FIFO=true"
  }
  assert {
    condition     = aws_sqs_queue.main.fifo_queue && aws_sqs_queue.dead_letter.fifo_queue
    error_message = "a FIFO queue's dead-letter queue must be FIFO too"
  }
  assert {
    condition     = !aws_sqs_queue.main.content_based_deduplication
    error_message = "messages carry their own deduplication ids; equal bodies are not duplicates"
  }
  assert {
    condition     = aws_sqs_queue.main.deduplication_scope == "messageGroup" && aws_sqs_queue.main.fifo_throughput_limit == "perMessageGroupId"
    error_message = "the ingest queue must be high-throughput FIFO: quota and deduplication per message group (tenant)"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.main.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dead_letter.arn
    error_message = "the redrive policy must target the queue's own FIFO DLQ"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dead_letters.dimensions["QueueName"] == "helios-ingest-dlq.fifo"
    error_message = "the alarm must watch the FIFO DLQ"
  }
}

run "standard_queues_have_no_fifo_settings" {
  command = apply

  module {
    source = "./modules/queues"
  }

  variables {
    prefix = "helios-"
    name   = "analytics"
  }

  assert {
    condition     = aws_sqs_queue.main.fifo_queue != true && aws_sqs_queue.dead_letter.fifo_queue != true && aws_sqs_queue.main.name == "helios-analytics"
    error_message = "without fifo, standard queues with plain names"
  }
}
