"""The kernel no domain owns: base model, domain errors and the API error handler, money, on-commit helper,
behaviour events."""
