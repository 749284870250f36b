variable "prefix" {
  description = "Queue name prefix (HELIOS_SQS_PREFIX), e.g. \"helios-\"."
  type        = string
}

variable "name" {
  description = "Queue name after the prefix: \"ingest\" or \"analytics\"."
  type        = string
}

variable "fifo" {
  description = "FIFO queues (\".fifo\" names), one message group per tenant: set with HELIOS_SQS_FIFO=true for the ingest queue."
  type        = bool
  default     = false
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
  default     = 3
}

variable "visibility_timeout_seconds" {
  description = "Default visibility timeout (consumers set their own on each receive)."
  type        = number
  default     = 60
}

variable "retention_seconds" {
  description = "How long an unconsumed message stays in the main queue."
  type        = number
  default     = 345600 # 4 days
}

variable "dead_letter_retention_seconds" {
  description = "How long a dead letter stays; longer than the main queue's, since a moved message keeps its first enqueue time."
  type        = number
  default     = 1209600 # 14 days, the SQS maximum
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when the dead-letter queue is not empty."
  type        = list(string)
  default     = []
}
