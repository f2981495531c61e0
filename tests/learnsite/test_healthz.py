import json

from tests.http import LiveClient


def test_healthz_reports_database_redis_and_the_worker(live_url, worker):
    response = LiveClient(live_url).get("/healthz")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    health = json.loads(response.text)
    assert health["ok"] is True
    assert health["database"] == {"ok": True, "vendor": "sqlite"}
    assert health["redis"] == {"ok": True}
    assert worker.name in " ".join(health["worker"]["workers"])
