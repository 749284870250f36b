"""The admin console (``helios admin``): server-rendered internal tooling for a tenant's
admins and owners and for platform operators, over the application layer's use cases."""
