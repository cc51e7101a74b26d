"""Run drdrill on embedded defaults: migrate, load the demo, then the demo orders service, a Celery
worker with beat and the web server side by side. Ctrl-C stops them all.

Environment variables (DATABASE_URL, CELERY_BROKER_URL, DRDRILL_*) pass through to every process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DRDRILL_LOG_FORMAT", "plain")  # a person reads this terminal; production logs JSON
    manage("migrate", "--no-input", "-v", "0")
    manage("collectstatic", "--no-input", "-v", "0")
    manage("demo")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from demo.seed import demo_paths

    db_path, port = demo_paths()
    bind = os.environ.get("DRDRILL_BIND", "127.0.0.1:8000")
    processes = [
        subprocess.Popen([PYTHON, "-m", "demo.orders_service", "--db", str(db_path), "--port", str(port)], cwd=ROOT),
        subprocess.Popen([PYTHON, "-m", "celery", "-A", "config", "worker", "--beat", "--loglevel", "INFO",
                          "--concurrency", os.environ.get("DRDRILL_WORKER_CONCURRENCY", "4"),
                          "--schedule", str(Path(os.environ.get("DRDRILL_DATA_DIR", ROOT / "var")) / "celerybeat-schedule")],
                         cwd=ROOT),
        subprocess.Popen([PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", bind, "--workers", "2", "--threads", "4",
                          "--access-logfile", "-"], cwd=ROOT),
    ]
    print(f"\n  drdrill is starting on http://{bind}/  (log in as admin / drdrill-demo)\n", flush=True)

    def stop(*_: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
