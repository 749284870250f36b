variable "name" {
  description = "Prefix of resource names, ending in a hyphen (e.g. \"helios-\")."
  type        = string
}

variable "region" {
  description = "AWS region of the VPC (names the S3 gateway endpoint's service)."
  type        = string
}

variable "cidr" {
  description = "IPv4 range of the VPC, /16 to /20; split into /20-/24 subnets."
  type        = string
}

variable "nat_gateway_mode" {
  description = "\"single\", \"per_az\" or \"none\" (tasks then run in public subnets with public IPs)."
  type        = string
}
