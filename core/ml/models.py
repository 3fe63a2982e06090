"""Trained model versions, stored in the database (several processes read them: no local files)."""
from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """One trained version of a named model: its artefact (bytes, checked by their SHA-256 when loaded), the metrics
    it was judged by, and whether it is the one in use. At most one version per name is active (a partial unique
    constraint): activating a version retires the previous one in the same transaction."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "候选 candidate"
        ACTIVE = "active", "使用中 active"
        RETIRED = "retired", "已停用 retired"

    name = models.CharField("模型名称 model name", max_length=64)
    version = models.PositiveIntegerField("版本 version")
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    artefact = models.BinaryField("模型文件 artefact")
    artefact_format = models.CharField("文件格式 artefact format", max_length=16)
    artefact_sha256 = models.CharField("文件校验 artefact SHA-256", max_length=64)
    metrics = models.JSONField("评估指标 metrics", default=dict, blank=True)
    params = models.JSONField("训练参数 training parameters", default=dict, blank=True)
    note = models.CharField("说明 note", max_length=500, blank=True, default="")
    trained_at = models.DateTimeField("训练时间 trained at")
    activated_at = models.DateTimeField("启用时间 activated at", null=True, blank=True)

    class Meta:
        verbose_name = "模型版本 model version"
        verbose_name_plural = "模型版本 model versions"
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_version_once"),
            models.UniqueConstraint(fields=["name"], condition=Q(status="active"), name="model_one_active_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def label(self) -> str:
        """How a score names the model that made it (e.g. Lead.intent_model): "cards.intent@v3"."""
        return f"{self.name}@v{self.version}"
