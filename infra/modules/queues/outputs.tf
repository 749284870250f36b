output "name" {
  description = "Name of the main queue."
  value       = aws_sqs_queue.main.name
}

output "url" {
  description = "URL of the main queue."
  value       = aws_sqs_queue.main.id
}

output "arn" {
  description = "ARN of the main queue."
  value       = aws_sqs_queue.main.arn
}

output "dead_letter_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.name
}

output "dead_letter_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.id
}

output "dead_letter_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "fifo" {
  description = "Whether the queue and its dead-letter queue are FIFO queues (one message group per tenant)."
  value       = aws_sqs_queue.main.fifo_queue == true && aws_sqs_queue.dead_letter.fifo_queue == true
}
