# HELIOS_SECRETS_KEK: the key-encryption key that wraps the data key of every integration
# secret (webhook signing secrets). Every Helios task must hold the same key, or a secret one
# task seals (the admin console creating an integration) cannot be unwrapped by another (the
# API verifying a signature); Helios refuses to start over PostgreSQL without it.
#
# The operator generates it (`openssl rand -base64 32`) and passes it as the ephemeral
# variable secrets_kek on the first apply only: written with a write-only argument, it is
# never in the Terraform source, the plan or the state. (A `data` random password would land
# in the state, and a fresh value on every run is exactly what must never be written.)
# Changing it makes secrets sealed under the old key unreadable: see docs/deploy.md before
# increasing secrets_kek_version.
resource "aws_secretsmanager_secret" "kek" {
  #checkov:skip=CKV_AWS_149:AWS-managed key; a customer-managed KMS key is a follow-up (docs/deploy.md, known limits)
  #checkov:skip=CKV2_AWS_57:automatic rotation would orphan every sealed secret; rotate deliberately with secrets_kek_version (docs/deploy.md)
  name                    = "${local.name}secrets-kek"
  description             = "HELIOS_SECRETS_KEK: key-encryption key of integration secrets, shared by every Helios task."
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "kek" {
  secret_id                = aws_secretsmanager_secret.kek.id
  secret_string_wo         = var.secrets_kek
  secret_string_wo_version = var.secrets_kek_version
}
