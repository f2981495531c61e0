import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("quiz", "0002_predict_questions"),
        ("labs", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables exist already (quiz and labs made them): only Django's idea of them moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Learner",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("key", models.CharField(max_length=32, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "user",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quiz_learner",
                    },
                ),
                migrations.CreateModel(
                    name="LabGoalMet",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("lab", models.CharField(max_length=30)),
                        ("goal", models.CharField(max_length=50)),
                        ("met_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "learner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="goals",
                                to="learners.learner",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "labs_labgoalmet",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("learner", "lab", "goal"), name="unique_goal_met"
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
