"""The query API for downstream apps (``enteronce serve``): scoped, masked, audited reads of gold."""
