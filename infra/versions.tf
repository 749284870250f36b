terraform {
  # 1.11: ephemeral input variables and write-only arguments keep the database password out
  # of the plan and the state; mock providers in `terraform test` need 1.7 or later.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Still the 5.x major line; 5.88 is the first release with the write-only arguments
      # (password_wo, secret_string_wo) that keep the database password out of the state.
      version = "~> 5.88"
    }
  }

  # The backend is chosen at `terraform init` (see docs/deploy.md), e.g.
  #   terraform init -backend-config=backend.hcl
  # with an S3 bucket and key of your own; offline checks use `init -backend=false`.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Application = "helios"
      Deployment  = trimsuffix(var.prefix, "-")
      ManagedBy   = "terraform"
    })
  }
}
