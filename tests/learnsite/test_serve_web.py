import os

from learnsite.serve_web import web_workers


def test_one_web_worker_per_core_this_process_may_use(monkeypatch):
    monkeypatch.delenv("WEB_WORKERS", raising=False)
    assert web_workers() == len(os.sched_getaffinity(0))


def test_web_workers_overrides_the_count(monkeypatch):
    monkeypatch.setenv("WEB_WORKERS", "5")
    assert web_workers() == 5
