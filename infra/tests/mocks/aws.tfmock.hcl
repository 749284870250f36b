# Values the mocked AWS provider returns where its own validation expects an ARN, or where a
# data source must return something usable. Everything else gets generated values.

mock_data "aws_availability_zones" {
  defaults = {
    names = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/helios-api/0123456789abcdef"
    dns_name = "helios-api-123456789.us-east-1.elb.amazonaws.com"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/helios-api/0123456789abcdef"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/helios-role"
  }
}

mock_resource "aws_ecs_cluster" {
  defaults = {
    arn = "arn:aws:ecs:us-east-1:123456789012:cluster/helios-cluster"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:helios-store-url-AbCdEf"
  }
}

mock_resource "aws_elasticache_replication_group" {
  defaults = {
    primary_endpoint_address = "master.helios-redis.abcdef.use1.cache.amazonaws.com"
  }
}

mock_resource "aws_db_instance" {
  defaults = {
    address  = "helios-db.abcdefghijkl.us-east-1.rds.amazonaws.com"
    endpoint = "helios-db.abcdefghijkl.us-east-1.rds.amazonaws.com:5432"
  }
}
