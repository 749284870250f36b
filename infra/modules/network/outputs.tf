output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 range of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "The two availability zones the subnets span."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Subnets with a route to the internet gateway (load balancer, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Subnets without public addresses (tasks when NAT exists, database, Redis)."
  value       = aws_subnet.private[*].id
}

output "has_nat" {
  description = "Whether private subnets can reach AWS APIs and the internet through NAT."
  value       = local.nat_count > 0
}
