from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """The dashboards' index on paid_at, built without locking the orders table against writes."""

    atomic = False

    dependencies = [
        ("mall", "0003_field_labels"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(condition=models.Q(("paid_at__isnull", False)), fields=["paid_at"],
                               name="order_paid_at_idx"),
        ),
    ]
