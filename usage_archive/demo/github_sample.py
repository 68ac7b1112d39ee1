"""The demo's GitHub: a deterministic sample of GitHub API answers, served on 127.0.0.1 by a tiny local server.

Not recorded from GitHub (the demo has no network and no token): generated here in the shapes GitHub's REST API
answers, for the organisation `example` whose projects the CircleCI sample export (circleci/sample.py) also
builds, over the same two weeks. It has what the cost rules care about: private, internal and public
repositories, standard Linux/Windows/macOS runners, a larger runner (`linux-8-core`, mapped to its SKU in the
demo's repositories.yml), a runner scale set without a `self-hosted` label, re-runs, and a skipped job whose
`completed_at` is before its `started_at`. The billing ledger is derived from the same jobs at the shipped
rates (so the reconciliation agrees), with included minutes covering Linux in the first week, plus Copilot
seats and Packages storage in fractions of a cent. Used by the demo only; never by production code paths.
"""

from __future__ import annotations

import json
import random
import threading
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from usage_archive.github_actions.config import load_repositories
from usage_archive.github_actions.rows import job_row
from usage_archive.github_actions.runners import LARGER

ORGANIZATION = "example"
TOKEN = "demo-token-not-a-secret"
REPOSITORIES_FILE = Path(__file__).with_name("repositories.yml")
SAMPLE_WEEKS = (date(2026, 11, 2), date(2026, 11, 9))  # the CircleCI sample's weeks
UTC = timezone.utc

# repository → (visibility, [(workflow, [(job name, labels, runner group, seconds from, seconds to)])], runs a
# week). Runner groups as GitHub reports them: `GitHub Actions` for standard hosted runners.
HOSTED = "GitHub Actions"
REPOSITORIES: dict[str, tuple[str, list[tuple[str, list[tuple[str, list[str], str, int, int]]]], int]] = {
    "example/api-server": (
        "private",
        [
            (
                "CI",
                [("test", ["ubuntu-latest"], HOSTED, 240, 900), ("lint", ["ubuntu-latest"], HOSTED, 30, 90)],
            ),
            ("Integration", [("integration", ["linux-8-core"], "Larger runners", 600, 1500)]),
            ("Deploy", [("deploy", ["arc-runner-set"], "arc-runners", 120, 400)]),
        ],
        9,
    ),
    "example/web-app": (
        "private",
        [
            (
                "CI",
                [
                    ("build", ["ubuntu-latest"], HOSTED, 120, 420),
                    ("e2e", ["windows-latest"], HOSTED, 300, 700),
                ],
            )
        ],
        8,
    ),
    "example/mobile-ios": ("private", [("Build", [("build", ["macos-14"], HOSTED, 600, 1400)])], 4),
    "example/data-pipelines": ("private", [], 0),  # built on CircleCI only: no workflow runs on GitHub
    "example/infra": ("internal", [("Terraform", [("plan", ["ubuntu-latest"], HOSTED, 60, 240)])], 6),
    "example/docs": (
        "public",
        [
            (
                "Pages",
                [("build", ["ubuntu-latest"], HOSTED, 60, 200), ("deploy", ["ubuntu-latest"], HOSTED, 0, 0)],
            )
        ],
        5,
    ),
}
LEDGER_SKUS = {
    "standard_linux": "actions_linux",
    "standard_windows": "actions_windows",
    "standard_macos": "actions_macos",
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class GitHubSample:
    repositories: dict[str, dict[str, Any]] = field(default_factory=dict)  # full name → repository JSON
    workflows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # run id → jobs of every attempt
    usage_items: list[dict[str, Any]] = field(default_factory=list)  # the organisation's billing ledger


def _jobs(rng: random.Random, run: dict[str, Any], specs: list, attempts: int, next_id: list[int]) -> list:
    jobs = []
    created = datetime.fromisoformat(run["created_at"].replace("Z", "+00:00"))
    for attempt in range(1, attempts + 1):
        start = created + timedelta(minutes=30 * (attempt - 1))
        for name, labels, group, low, high in specs:
            next_id[0] += 1
            queued = start + timedelta(seconds=rng.randrange(3, 40))
            seconds = rng.randrange(low, high + 1)
            started = queued + timedelta(seconds=rng.randrange(2, 20))
            completed = started + timedelta(seconds=seconds)
            conclusion = "success"
            if seconds == 0:  # a skipped job, with GitHub's reversed timestamps seen in the wild
                conclusion, completed = "skipped", started - timedelta(days=21, hours=3)
            jobs.append(
                {
                    "id": next_id[0],
                    "run_id": run["id"],
                    "run_attempt": attempt,
                    "workflow_name": run["name"],
                    "head_branch": run["head_branch"],
                    "name": name,
                    "status": "completed",
                    "conclusion": conclusion,
                    "created_at": _iso(queued),
                    "started_at": _iso(started),
                    "completed_at": _iso(completed),
                    "labels": labels,
                    "runner_id": None if conclusion == "skipped" else next_id[0] % 97 + 1,
                    "runner_name": None
                    if conclusion == "skipped"
                    else f"{group.lower().replace(' ', '-')}-{next_id[0] % 7}",
                    "runner_group_id": None if conclusion == "skipped" else zlib.crc32(group.encode()) % 1000,
                    "runner_group_name": None if conclusion == "skipped" else group,
                }
            )
    return jobs


def build_sample(weeks: tuple[date, ...] = SAMPLE_WEEKS, seed: int = 11) -> GitHubSample:
    """The sample's repositories, workflows, runs, jobs and ledger (the same for the same seed)."""
    rng = random.Random(seed)
    config = load_repositories(REPOSITORIES_FILE)
    sample = GitHubSample()
    run_id, job_id = 9_000_000_000, [50_000_000_000]
    billed: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)  # (day, repository, sku) → minutes
    rates: dict[str, Decimal] = {}
    for index, (repository, (visibility, workflows, per_week)) in enumerate(REPOSITORIES.items()):
        owner, name = repository.split("/")
        sample.repositories[repository] = {
            "id": 700_000 + index,
            "name": name,
            "full_name": repository,
            "owner": {"login": owner, "type": "Organization"},
            "private": visibility != "public",
            "visibility": visibility,
            "default_branch": "main",
        }
        sample.workflows[repository] = [
            {
                "id": 80_000 + index * 10 + n,
                "name": w,
                "path": f".github/workflows/{w.lower()}.yml",
                "state": "active",
            }
            for n, (w, _jobs_spec) in enumerate(workflows)
        ]
        sample.runs[repository] = []
        for week_number, monday in enumerate(weeks):
            if not workflows:
                continue
            count = per_week + (2 if week_number else 0) + rng.randrange(0, 3)  # the second week is busier
            for _ in range(count):
                workflow_index = rng.randrange(len(workflows))
                workflow, specs = workflows[workflow_index]
                run_id += 1
                created = datetime.combine(monday, time(), UTC) + timedelta(seconds=rng.randrange(6 * 86400))
                attempts = 2 if rng.random() < 0.15 else 1
                run = {
                    "id": run_id,
                    "name": workflow,
                    "path": f".github/workflows/{workflow.lower()}.yml",
                    "workflow_id": sample.workflows[repository][workflow_index]["id"],
                    "run_number": len(sample.runs[repository]) + 1,
                    "run_attempt": attempts,
                    "event": rng.choice(("push", "push", "pull_request", "schedule")),
                    "head_branch": "main",
                    "head_sha": f"{run_id:040x}",
                    "status": "completed",
                    "conclusion": "success",
                    "created_at": _iso(created),
                    "updated_at": _iso(created + timedelta(hours=1)),
                    "run_started_at": _iso(created),
                    "repository": {"full_name": repository},
                }
                sample.runs[repository].append(run)
                sample.jobs[run_id] = _jobs(rng, run, specs, attempts, job_id)
                for job in sample.jobs[run_id]:
                    row = job_row(repository, None, run, job, visibility=visibility, runners=config.runners)
                    if not row["billable_minutes"] or row["rate_usd_per_minute"] is None:
                        continue
                    sku = (
                        row["runner_sku"]
                        if row["runner_class"] == LARGER
                        else LEDGER_SKUS[row["runner_class"]]
                    )
                    rates[sku] = row["rate_usd_per_minute"]
                    billed[(row["started_at"].date().isoformat(), repository, sku)] += row["billable_minutes"]
    first_week_end = (weeks[0] + timedelta(days=7)).isoformat()
    for (day, repository, sku), minutes in sorted(billed.items()):
        gross = minutes * rates[sku]
        # included minutes cover standard Linux until they run out (in the first week here)
        discount = gross if sku == "actions_linux" and day < first_week_end else Decimal(0)
        sample.usage_items.append(
            _item(day, "actions", sku, minutes, "Minutes", rates[sku], gross, discount, repository)
        )
    seats = Decimal(12) / Decimal(30)  # 12 Copilot Business seats, billed by the day
    for monday in weeks:
        for offset in range(7):
            day = (monday + timedelta(days=offset)).isoformat()
            copilot = (seats * Decimal(19)).quantize(Decimal("0.000000000001"))
            sample.usage_items.append(
                _item(
                    day,
                    "copilot",
                    "copilot_business",
                    seats.quantize(Decimal("0.000000000001")),
                    "UserMonths",
                    Decimal(19),
                    copilot,
                    Decimal(0),
                    None,
                )
            )
            storage = Decimal("1.234567") * (offset + 1)
            sample.usage_items.append(
                _item(
                    day,
                    "packages",
                    "packages_storage",
                    storage,
                    "GigabyteHours",
                    Decimal("0.00033602"),
                    storage * Decimal("0.00033602"),
                    Decimal(0),
                    "example/api-server",
                )
            )
    return sample


def _item(
    day: str,
    product: str,
    sku: str,
    quantity: Decimal,
    unit: str,
    price: Decimal,
    gross: Decimal,
    discount: Decimal,
    repository: str | None,
) -> dict[str, Any]:
    return {
        "date": f"{day}T00:00:00Z",
        "product": product,
        "sku": sku,
        "quantity": quantity,
        "unitType": unit,
        "pricePerUnit": price,
        "grossAmount": gross,
        "discountAmount": discount,
        "netAmount": gross - discount,
        "organizationName": ORGANIZATION,
        "repositoryName": repository,
    }


def _json_number(value: Any) -> Any:
    """Decimals go out as JSON numbers, as GitHub writes its amounts (from doubles)."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _bound(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class SampleGitHubServer:
    """`with SampleGitHubServer() as github:`, then point GITHUB_API_URL at `github.api_url`, GITHUB_TOKEN at
    TOKEN. Answers the few endpoints the archive calls, in one page each."""

    def __init__(self, sample: GitHubSample | None = None) -> None:
        self.sample = sample or build_sample()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> SampleGitHubServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = server.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body, default=_json_number).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def api_url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, target: str, authorization: str) -> tuple[int, Any]:
        not_found = (404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        if authorization != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        parts = urlsplit(target)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = path.strip("/").split("/")
        sample = self.sample
        if segments[:1] == ["orgs"] and segments[2:] == ["repos"]:
            repos = [r for r in sample.repositories.values() if r["owner"]["login"] == segments[1]]
            return (200, repos) if repos else not_found
        if segments[:1] == ["organizations"] and segments[2:] == ["settings", "billing", "usage"]:
            if segments[1] != ORGANIZATION:
                return not_found
            day = f"{int(query['year']):04d}-{int(query['month']):02d}-{int(query['day']):02d}"
            return 200, {"usageItems": [i for i in sample.usage_items if i["date"].startswith(day)]}
        if segments[:1] != ["repos"] or len(segments) < 3:
            return not_found
        repository = "/".join(segments[1:3])
        if repository not in sample.repositories:
            return not_found
        rest = segments[3:]
        if not rest:
            return 200, sample.repositories[repository]
        if rest == ["actions", "workflows"]:
            return 200, {
                "total_count": len(sample.workflows[repository]),
                "workflows": sample.workflows[repository],
            }
        if rest == ["actions", "runs"]:
            low, high = (_bound(b) for b in query["created"].split(".."))
            runs = [r for r in sample.runs[repository] if low <= _bound(r["created_at"]) <= high]
            return 200, {"total_count": len(runs), "workflow_runs": runs}
        if len(rest) == 4 and rest[:2] == ["actions", "runs"] and rest[3] == "jobs":
            jobs = sample.jobs.get(int(rest[2]))
            if jobs is None:
                return not_found
            return 200, {"total_count": len(jobs), "jobs": jobs}
        return not_found
