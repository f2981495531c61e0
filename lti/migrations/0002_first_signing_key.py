from django.db import migrations
from jwcrypto.jwk import JWK


def first_key(apps, schema_editor):
    """A signing key to start with, so the JWKS is never empty; `lti_keys_rotate` replaces it."""
    Key = apps.get_model("lti_tool", "Key")
    if Key.objects.filter(is_active=True).exists():
        return
    key = JWK.generate(kty="RSA", size=2048)
    Key.objects.create(
        public_key=key.export_to_pem().decode(),
        private_key=key.export_to_pem(private_key=True, password=None).decode(),
    )


class Migration(migrations.Migration):
    dependencies = [("lti", "0001_initial"), ("lti_tool", "0008_ltideployment_pns_url_and_more")]
    operations = [migrations.RunPython(first_key, migrations.RunPython.noop)]
