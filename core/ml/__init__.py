"""Machine learning that no domain owns (ARCHITECTURE.md, "Where ML lives"): the registry of trained model versions
(`core.ml.registry`, rows of `core.ml.models.ModelVersion`), the metrics every model is judged by
(`core.ml.metrics`) and the Chinese text toolbox (`core.ml.text`). Domain models live in their app's `ml/` package
as pure code; their services train, evaluate and register them here."""
