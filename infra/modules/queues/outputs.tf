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
