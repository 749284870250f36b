# A VPC over two availability zones: public subnets for the load balancer (and NAT gateways),
# private subnets for tasks, the database and Redis.

data "aws_availability_zones" "available" {
  state = "available"

  # The zones by name: the set never grows by itself when AWS opens a zone in the region.
  filter {
    name   = "zone-name"
    values = ["${var.region}a", "${var.region}b"]
  }
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 2)
  # /16 split in /20s: public 0-1, private 8-9 (room left for more zones or tiers).
  public_cidrs  = [for i, _ in local.azs : cidrsubnet(var.cidr, 4, i)]
  private_cidrs = [for i, _ in local.azs : cidrsubnet(var.cidr, 4, 8 + i)]
  nat_count     = var.nat_gateway_mode == "none" ? 0 : (var.nat_gateway_mode == "single" ? 1 : length(local.azs))
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:flow logs are billed per GB; security groups admit nothing from outside but the load balancer (docs/deploy.md)
  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = "${var.name}vpc" }
}

# The default security group of a VPC allows traffic between its members: take every rule away
# so only the explicit groups below grant anything.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}igw" }
}

resource "aws_subnet" "public" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.public_cidrs[count.index]
  # Tasks get a public address explicitly (only when there is no NAT gateway), never by default.
  map_public_ip_on_launch = false

  tags = { Name = "${var.name}public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.private_cidrs[count.index]

  tags = { Name = "${var.name}private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}public" }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = length(local.azs)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"
  tags   = { Name = "${var.name}nat-${count.index}" }
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = { Name = "${var.name}nat-${count.index}" }

  depends_on = [aws_internet_gateway.this]
}

# One route table per zone, so "per_az" NAT keeps each zone's egress in that zone.
resource "aws_route_table" "private" {
  count = length(local.azs)

  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}private-${local.azs[count.index]}" }
}

resource "aws_route" "private_nat" {
  count = local.nat_count == 0 ? 0 : length(local.azs)

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[min(count.index, local.nat_count - 1)].id
}

resource "aws_route_table_association" "private" {
  count = length(local.azs)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# Free gateway endpoint: image layers pulled from ECR (stored in S3) skip the NAT gateway's
# per-gigabyte charge.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat(aws_route_table.private[*].id, [aws_route_table.public.id])

  tags = { Name = "${var.name}s3" }
}
