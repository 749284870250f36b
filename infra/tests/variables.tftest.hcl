# Invalid settings are refused before anything is planned.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  image       = "123456789012.dkr.ecr.us-east-1.amazonaws.com/helios:1.0.0"
  db_password = "Abcdefghijklmnopqrstuvwxyz0123456789"
}

# One run for all of them: each plan run starts the provider, which costs seconds.
run "invalid_settings_are_refused" {
  command = plan

  variables {
    prefix           = "Helios"
    image            = "helios:latest"
    nat_gateway_mode = "two"
    db_password      = "short/with@chars"
    environment      = { HELIOS_QUEUE = "embedded" }
    worker           = { min_tasks = 5, max_tasks = 2 }
    vpc_cidr         = "10.0.0.0/8"
    log_level        = "verbose"
    secrets_kek      = "c2hvcnQ="
  }

  expect_failures = [
    var.prefix,
    var.image,
    var.nat_gateway_mode,
    var.db_password,
    var.environment,
    var.worker,
    var.vpc_cidr,
    var.log_level,
    var.secrets_kek,
  ]
}
