from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0002_content_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="lesson",
            name="intro_markdown",
            field=models.TextField(blank=True),
        ),
        # Lessons loaded before were rendered at load: they stay as they are.
        migrations.AddField(
            model_name="lesson",
            name="body_rendered",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="lesson",
            name="body_rendered",
            field=models.BooleanField(default=False),
        ),
    ]
