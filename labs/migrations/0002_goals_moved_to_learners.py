from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0001_initial"),
        ("labs", "0001_initial"),
    ]

    operations = [
        # The model moved to learners with its table: nothing changes in the database.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="labgoalmet",
                    name="unique_goal_met",
                ),
                migrations.DeleteModel(
                    name="LabGoalMet",
                ),
            ],
        ),
    ]
