import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labs", "0002_goals_moved_to_learners"),
        ("learners", "0001_initial"),
        ("quiz", "0002_predict_questions"),
    ]

    operations = [
        # The model moved to learners with its table: nothing changes in the database.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="attempt",
                    name="learner",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts",
                        to="learners.learner",
                    ),
                ),
                migrations.AlterField(
                    model_name="reviewitem",
                    name="learner",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reviews",
                        to="learners.learner",
                    ),
                ),
                migrations.DeleteModel(
                    name="Learner",
                ),
            ],
        ),
    ]
