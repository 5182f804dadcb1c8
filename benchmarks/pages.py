"""Server time and query count of every paginated list page, at 10 and at 1,000 rows.

    .venv/bin/python benchmarks/pages.py                      # a temporary SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/haulout .venv/bin/python benchmarks/pages.py

Each list (the review queue, the organisations, a team, the cases, a notice's copies,
the staff leak list, a member's leak list, "my notices", and the member admin's and
the staff's home pages) is filled to 10 rows, measured,
filled to 1,000 and measured again, through Django's test client (the whole middleware
stack, the session, the template; no network). Time: the median of --rounds requests
after one warm-up. Baseline, in the same run: a page that lists nothing (a signed-in
404, rendered with the site's layout), so the ratio says what a list costs on top of
any page on this machine. Database: a scratch database next to DATABASE_URL
(PostgreSQL, dropped afterwards) or a temporary SQLite file.

One line per page and size:
    page=NAME rows=N ms=T queries=Q ratio=T/baseline
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks.scratch import django_scratch_run  # noqa: E402

VAR_DIR = BASE_DIR / "var" / "bench-pages"
SIZES = (10, 1000)


def signed_in(user):
    """A test client signed in as allauth leaves it after the second factor."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "email": user.email},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def world():
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from distributors.models import Organization, TeamMember
    from embargo.models import Notice, Vulnerability

    call_command("migrate", verbosity=0)
    User = get_user_model()
    staff = User.objects.create(username="staff", email="staff@bench.example.org", is_staff=True)
    member = User.objects.create(username="member", email="member@bench.example.org")
    for user in (staff, member):
        TOTP.activate(user, generate_totp_secret())
    organization = Organization.objects.create(
        name="Bench Linux", slug="bench", website="https://bench.example.org", status="member"
    )
    admin = TeamMember.objects.create(
        organization=organization, user=member, is_admin=True, is_need_to_know=True
    )
    case = Vulnerability.objects.create(
        year=2999, number=1, public_id="BENCH-1", title="Bench case", summary="-",
        state="notified", created_by=staff, created_at=_now(), updated_at=_now(),
    )  # fmt: skip
    notice = Notice.objects.create(
        vulnerability=case, outer_subject="Notice", subject="Bench", body="-",
        audience_all=True, author=staff, state="sent", created_at=_now(), updated_at=_now(),
    )  # fmt: skip
    _eligible(member)
    return {"staff": staff, "org": organization, "admin": admin, "case": case, "notice": notice}


def _eligible(user) -> None:
    """What the member leak pages ask of a person: a verified address, the current policy
    accepted and a verified key (a row only: no page here runs gpg)."""
    from datetime import timedelta

    from allauth.account.models import EmailAddress

    from distributors.models import PgpKey, PolicyAcceptance, PolicyVersion

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    version = PolicyVersion.objects.order_by("-number").first()
    PolicyAcceptance.objects.create(
        user=user, version=version, accepted_at=_now(), ip_address="192.0.2.1",
        user_agent="benchmark", text_sha256=version.text_sha256,
    )  # fmt: skip
    PgpKey.objects.create(
        user=user, fingerprint="B" * 40, armored="(not a real key)", uids=[user.email],
        algorithm="ed25519/cv25519", key_created_at=_now(), state="active",
        expires_at=_now() + timedelta(days=365), uploaded_at=_now(), verified_at=_now(),
    )  # fmt: skip


def _now():
    from django.utils import timezone

    return timezone.now()


def lists(w):
    """Name, url, who asks, and how to add n rows to that list."""
    from django.urls import reverse

    from devsupport import list_rows as rows

    org, staff, case, notice = w["org"], w["staff"], w["case"], w["notice"]
    return [
        ("review_queue", reverse("distributors:review_queue"), "staff",
         lambda n: rows.applications_add(n=n, created_by=staff)),
        ("organisations", reverse("distributors:staff_organizations"), "staff",
         lambda n: rows.organizations_add(n=n)),
        ("team", reverse("distributors:team", kwargs={"slug": org.slug}), "member",
         lambda n: rows.team_add(organization=org, n=n)),
        ("cases", reverse("embargo:case_list"), "staff",
         lambda n: rows.cases_add(n=n, created_by=staff)),
        ("notice_copies", reverse("embargo:notice_detail", kwargs={"pk": notice.pk}), "staff",
         lambda n: rows.deliveries_add(
             notice=notice, members=rows.team_add(organization=org, n=n))),
        ("leaks_staff", reverse("leaks:staff_leak_dashboard"), "staff",
         lambda n: rows.leaks_add(organization=org, case=case, n=n, reported_by=staff)),
        ("leaks_member", reverse("leaks:leak_list"), "member",
         lambda n: rows.leaks_add(organization=org, case=case, n=n, reported_by=staff)),
        ("my_notices", reverse("embargo:my_notices"), "member",
         lambda n: rows.my_notices_add(member=w["admin"], case=case, n=n, author=staff)),
        # The home pages: a member admin's shows their team's blocked people, the staff
        # one counts what waits (here: applications).
        ("home_member", "/", "member", lambda n: rows.team_add(organization=org, n=n)),
        ("home_staff", "/", "staff", lambda n: rows.applications_add(n=n, created_by=staff)),
    ]  # fmt: skip


def measure(client, url: str, rounds: int) -> tuple[float, int]:
    from django.db import connection

    queries = []

    def counted(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # A wrapper rather than connection.queries: that log is only kept with DEBUG on, and
    # it is dropped when the request's end closes the connection.
    with connection.execute_wrapper(counted):
        response = client.get(url)
    if response.status_code not in (200, 404):
        raise SystemExit(f"{url} answered {response.status_code}")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, len(queries)


def _run(args) -> int:
    from django.conf import settings
    from django.test.utils import override_settings

    # Static files as in development: a production manifest needs collectstatic first,
    # and the page's time does not depend on how a static URL is spelt.
    storages = {**settings.STORAGES}
    storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES=storages):
        return _measure_all(args)


def analyze() -> None:
    """Fresh planner statistics, as autovacuum gathers them within a minute of a bulk
    change in production. Without them PostgreSQL plans for the empty tables of the
    start: a team page's eligibility subqueries scanned every organisation once per
    person (0.5 s at 3,000 people, against 12 ms with statistics)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _measure_all(args) -> int:
    w = world()
    clients = {"staff": signed_in(w["staff"]), "member": signed_in(w["admin"].user)}
    baseline, baseline_queries = measure(clients["member"], "/no-such-page/", args.rounds)
    print(f"page=baseline_404 rows=0 ms={baseline:.1f} queries={baseline_queries} ratio=1.00")
    for name, url, who, add in lists(w):
        present = 0
        for size in SIZES:
            add(size - present)
            present = size
            analyze()
            ms, queries = measure(clients[who], url, args.rounds)
            print(
                f"page={name} rows={size} ms={ms:.1f} queries={queries} ratio={ms / baseline:.2f}",
                flush=True,
            )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    return django_scratch_run(lambda: _run(args), var_dir=VAR_DIR)


if __name__ == "__main__":
    sys.exit(main())
