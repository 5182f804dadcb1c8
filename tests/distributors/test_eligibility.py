"""The eligibility selector: every person of an audience, every reason against them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.utils import timezone

from distributors.eligibility import (
    Reason,
    audience_for_send,
    eligibility_at_send,
    eligibility_for_audience,
    eligibility_for_member,
)
from distributors.models import (
    Organization,
    PgpKey,
    PolicyAcceptance,
    TeamMember,
)
from distributors.selectors import policy_current
from tests.factories import (
    MemberOrganizationFactory,
    OrganizationFactory,
    PgpKeyFactory,
    PolicyVersionFactory,
    TeamMemberFactory,
    make_eligible,
    security_key_add,
)

pytestmark = pytest.mark.django_db

SOON = timedelta(days=10)


def _eligible_member(**kwargs) -> TeamMember:
    return make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory(), **kwargs))


def _only(rows, member):
    [row] = [row for row in rows if row.member.pk == member.pk]
    return row


def test_a_person_with_everything_is_eligible_with_their_active_key():
    member = _eligible_member()
    key = member.user.pgp_keys.get(state=PgpKey.State.ACTIVE)

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.eligible
    assert row.reasons == ()
    assert row.key == key
    assert row.member.user == member.user
    assert row.member.organization == member.organization


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (Organization.Status.SUSPENDED, Reason.ORG_SUSPENDED),
        (Organization.Status.REMOVED, Reason.ORG_REMOVED),
        (Organization.Status.APPLICANT, Reason.ORG_NOT_MEMBER),
    ],
)
def test_an_organisation_that_is_not_a_member_makes_its_people_ineligible(status, reason):
    member = _eligible_member()
    Organization.objects.filter(pk=member.organization_id).update(status=status)

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (reason,)
    assert not row.eligible


def test_a_person_not_marked_need_to_know_is_ineligible():
    member = _eligible_member()
    TeamMember.objects.filter(pk=member.pk).update(is_need_to_know=False)

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (Reason.NOT_NEED_TO_KNOW,)


def test_a_person_without_totp_is_ineligible_even_with_recovery_codes():
    member = _eligible_member()
    Authenticator.objects.filter(user=member.user).delete()
    Authenticator.objects.create(user=member.user, type=Authenticator.Type.RECOVERY_CODES, data={})

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (Reason.NO_MFA,)


def test_a_person_with_only_a_security_key_has_two_factor_authentication():
    member = _eligible_member()
    Authenticator.objects.filter(user=member.user).delete()
    security_key_add(member.user)
    disclosure = timezone.now() + SOON

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=disclosure)
    [at_send] = eligibility_at_send(team_member_ids=[member.pk], disclosure_at=disclosure).values()

    assert row.eligible and row.reasons == ()
    # The send-time check reads the same fact its own way: a key counts there too.
    assert at_send.eligible and at_send.reasons == ()


def test_removing_the_last_security_key_takes_two_factor_authentication_away():
    member = _eligible_member()
    Authenticator.objects.filter(user=member.user).delete()
    key = security_key_add(member.user)
    key.delete()

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (Reason.NO_MFA,)


def test_an_acceptance_of_an_earlier_policy_version_no_longer_counts():
    member = _eligible_member()
    PolicyVersionFactory()

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (Reason.POLICY_NOT_ACCEPTED,)


def test_a_pending_key_is_not_a_verified_key():
    member = _eligible_member()
    PgpKey.objects.filter(user=member.user).delete()
    PgpKeyFactory(user=member.user, state=PgpKey.State.PENDING)

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (Reason.NO_VERIFIED_KEY,)
    assert row.key is None


def test_a_key_expiring_before_the_disclosure_date_makes_the_person_ineligible():
    member = _eligible_member()
    disclosure = timezone.now() + SOON
    PgpKey.objects.filter(user=member.user).update(expires_at=disclosure - timedelta(hours=1))

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=disclosure)

    assert row.reasons == (Reason.KEY_EXPIRES_BEFORE_DISCLOSURE,)
    assert row.key is not None


def test_a_key_valid_past_the_disclosure_date_or_without_expiry_is_fine():
    member = _eligible_member()
    disclosure = timezone.now() + SOON
    PgpKey.objects.filter(user=member.user).update(expires_at=disclosure + timedelta(hours=1))
    assert eligibility_for_member(team_member_id=member.pk, disclosure_at=disclosure).eligible

    PgpKey.objects.filter(user=member.user).update(expires_at=None)
    assert eligibility_for_member(team_member_id=member.pk, disclosure_at=disclosure).eligible


def test_a_key_already_expired_counts_even_for_a_past_disclosure_date():
    member = _eligible_member()
    PgpKey.objects.filter(user=member.user).update(expires_at=timezone.now() - timedelta(days=1))

    row = eligibility_for_member(
        team_member_id=member.pk, disclosure_at=timezone.now() - timedelta(days=3)
    )

    assert row.reasons == (Reason.KEY_EXPIRES_BEFORE_DISCLOSURE,)


def test_a_revoked_key_is_named_as_the_reason():
    member = _eligible_member()
    PgpKey.objects.filter(user=member.user).update(
        state=PgpKey.State.REVOKED, revoked_at=timezone.now()
    )

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert set(row.reasons) == {Reason.NO_VERIFIED_KEY, Reason.KEY_REVOKED}
    assert row.key is None


def test_a_new_verified_key_after_a_revoked_one_restores_eligibility():
    member = _eligible_member()
    PgpKey.objects.filter(user=member.user).update(
        state=PgpKey.State.REVOKED, revoked_at=timezone.now()
    )
    new_key = PgpKeyFactory(user=member.user)

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.eligible
    assert row.key == new_key


def test_a_deactivated_account_is_ineligible():
    member = _eligible_member()
    get_user_model().objects.filter(pk=member.user_id).update(is_active=False)

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (Reason.ACCOUNT_INACTIVE,)


def test_every_reason_is_listed_when_several_apply():
    organization = OrganizationFactory(status=Organization.Status.SUSPENDED)
    member = TeamMemberFactory(organization=organization, is_need_to_know=False)

    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now() + SOON)

    assert row.reasons == (
        Reason.ORG_SUSPENDED,
        Reason.NOT_NEED_TO_KNOW,
        Reason.NO_MFA,
        Reason.POLICY_NOT_ACCEPTED,
        Reason.NO_VERIFIED_KEY,
    )
    assert row.reason_labels[0] == "The organisation is suspended."


def test_the_default_audience_is_every_organisation_that_is_or_was_a_member():
    member = _eligible_member()
    suspended = TeamMemberFactory(
        organization=OrganizationFactory(status=Organization.Status.SUSPENDED)
    )
    removed = TeamMemberFactory(
        organization=OrganizationFactory(status=Organization.Status.REMOVED)
    )
    applicant = TeamMemberFactory(organization=OrganizationFactory())

    rows = eligibility_for_audience(disclosure_at=timezone.now() + SOON)

    people = {row.member.pk for row in rows}
    assert {member.pk, suspended.pk, removed.pk} <= people
    assert applicant.pk not in people
    assert _only(rows, member).eligible
    assert Reason.ORG_SUSPENDED in _only(rows, suspended).reasons
    assert Reason.ORG_REMOVED in _only(rows, removed).reasons


def test_a_chosen_audience_lists_only_those_organisations():
    chosen = _eligible_member()
    _eligible_member()
    applicant = TeamMemberFactory(organization=OrganizationFactory())

    rows = eligibility_for_audience(
        organizations=[chosen.organization, applicant.organization_id],
        disclosure_at=timezone.now() + SOON,
    )

    assert {row.member.pk for row in rows} == {chosen.pk, applicant.pk}
    assert _only(rows, applicant).reasons[0] == Reason.ORG_NOT_MEMBER


def test_eligibility_for_a_missing_member_raises():
    with pytest.raises(TeamMember.DoesNotExist):
        eligibility_for_member(team_member_id=999_999, disclosure_at=timezone.now())


def _bulk_people(count: int, organization: Organization) -> None:
    """`count` eligible people, built with bulk_create so 1,000 stays fast."""
    user_model = get_user_model()
    prefix = f"bulk{organization.pk}-"
    user_model.objects.bulk_create(
        [
            user_model(username=f"{prefix}{i}", email=f"{prefix}{i}@example.org", password="!")
            for i in range(count)
        ]
    )
    users = list(user_model.objects.filter(username__startswith=prefix))
    now = timezone.now()
    version = policy_current()
    TeamMember.objects.bulk_create(
        [TeamMember(organization=organization, user=u, is_need_to_know=True) for u in users]
    )
    Authenticator.objects.bulk_create(
        [Authenticator(user=u, type=Authenticator.Type.TOTP, data={}) for u in users]
    )
    PolicyAcceptance.objects.bulk_create(
        [
            PolicyAcceptance(
                user=u, version=version, accepted_at=now, text_sha256=version.text_sha256
            )
            for u in users
        ]
    )
    PgpKey.objects.bulk_create(
        [
            PgpKey(
                user=u,
                fingerprint=f"{u.pk:040X}",
                armored="-",
                state=PgpKey.State.ACTIVE,
                uploaded_at=now,
                verified_at=now,
                expires_at=now + timedelta(days=365),
            )
            for u in users
        ]
        # A revoked key for every other person exercises the revoked-key annotation too.
        + [
            PgpKey(
                user=u,
                fingerprint=f"{u.pk + 10**9:040X}",
                armored="-",
                state=PgpKey.State.REVOKED,
                uploaded_at=now,
                verified_at=now,
            )
            for u in users[::2]
        ]
    )


@pytest.mark.parametrize("audience", ["every member", "one organisation"])
def test_the_query_count_does_not_grow_with_the_number_of_people(
    audience, django_assert_num_queries
):
    disclosure = timezone.now() + SOON

    def run(org):
        return eligibility_for_audience(
            organizations=None if audience == "every member" else [org],
            disclosure_at=disclosure,
        )

    small = MemberOrganizationFactory()
    _bulk_people(10, small)
    with django_assert_num_queries(3) as small_queries:
        small_rows = run(small)

    large = MemberOrganizationFactory()
    _bulk_people(1000, large)
    with django_assert_num_queries(3) as large_queries:
        large_rows = run(large)

    assert len(small_queries.captured_queries) == len(large_queries.captured_queries)
    assert len(small_rows) == 10
    assert len(large_rows) == (1010 if audience == "every member" else 1000)
    assert all(row.eligible for row in large_rows)


# ---------------------------------------------------------------- the send-time check


def _one_person_per_rule() -> list[TeamMember]:
    """An eligible person, and a person failing each rule (and one failing several)."""
    people = [_eligible_member() for _ in range(10)]
    suspended, inactive, unmarked, no_totp, no_policy, no_key, revoked, expiring = people[1:9]
    Organization.objects.filter(pk=suspended.organization_id).update(
        status=Organization.Status.SUSPENDED
    )
    get_user_model().objects.filter(pk=inactive.user_id).update(is_active=False)
    TeamMember.objects.filter(pk=unmarked.pk).update(is_need_to_know=False)
    Authenticator.objects.filter(user=no_totp.user).delete()
    PolicyAcceptance.objects.filter(user=no_policy.user).delete()
    PgpKey.objects.filter(user=no_key.user).update(state=PgpKey.State.PENDING)
    PgpKey.objects.filter(user=revoked.user).update(
        state=PgpKey.State.REVOKED, revoked_at=timezone.now()
    )
    PgpKey.objects.filter(user=expiring.user).update(expires_at=timezone.now() + SOON / 2)
    several = people[9]
    TeamMember.objects.filter(pk=several.pk).update(is_need_to_know=False)
    Authenticator.objects.filter(user=several.user).delete()
    PgpKey.objects.filter(user=several.user).delete()
    return people


def test_the_send_time_check_gives_each_person_the_same_reasons_and_key_as_the_selector():
    people = _one_person_per_rule()
    disclosure = timezone.now() + SOON

    full = {
        row.member.pk: row
        for row in eligibility_for_audience(
            organizations=[person.organization_id for person in people], disclosure_at=disclosure
        )
    }
    checks = eligibility_at_send(
        team_member_ids=[person.pk for person in people], disclosure_at=disclosure
    )

    assert set(checks) == {person.pk for person in people}
    for person in people:
        expected = full[person.pk]
        assert checks[person.pk].reasons == expected.reasons, person
        assert checks[person.pk].eligible == expected.eligible
        assert checks[person.pk].fingerprint == (expected.key.fingerprint if expected.key else "")
        assert checks[person.pk].armored == (expected.key.armored if expected.key else "")
    # Every rule was exercised: nine different outcomes, one of them eligible.
    assert len({check.reasons for check in checks.values()}) == 10
    assert [check.eligible for check in checks.values()].count(True) == 1


def test_the_send_time_check_counts_only_the_current_policy_version():
    member = _eligible_member()
    disclosure = timezone.now() + SOON
    assert eligibility_at_send(team_member_ids=[member.pk], disclosure_at=disclosure)[
        member.pk
    ].eligible

    PolicyVersionFactory()

    check = eligibility_at_send(team_member_ids=[member.pk], disclosure_at=disclosure)[member.pk]
    assert check.reasons == (Reason.POLICY_NOT_ACCEPTED,)


def test_the_send_time_check_leaves_out_a_membership_that_is_gone():
    member = _eligible_member()
    gone = _eligible_member()
    gone_id = gone.pk
    gone.delete()

    checks = eligibility_at_send(
        team_member_ids=[member.pk, gone_id], disclosure_at=timezone.now() + SOON
    )

    assert list(checks) == [member.pk]


def test_the_send_time_check_reads_each_call_s_own_people_as_they_are_at_that_moment():
    # The check's SQL is compiled once per list size and reused: every call must still
    # read its own ids, and what the tables say now.
    disclosure = timezone.now() + SOON
    first = [_eligible_member() for _ in range(3)]
    second = [_eligible_member() for _ in range(3)]
    second_ids = [person.pk for person in second]

    assert set(
        eligibility_at_send(team_member_ids=[p.pk for p in first], disclosure_at=disclosure)
    ) == {p.pk for p in first}
    assert set(eligibility_at_send(team_member_ids=second_ids, disclosure_at=disclosure)) == set(
        second_ids
    )

    Organization.objects.filter(pk=second[1].organization_id).update(
        status=Organization.Status.SUSPENDED
    )
    checks = eligibility_at_send(team_member_ids=second_ids, disclosure_at=disclosure)

    assert checks[second[1].pk].reasons == (Reason.ORG_SUSPENDED,)
    assert checks[second[0].pk].eligible and checks[second[2].pk].eligible


def test_the_send_time_check_is_one_query_however_many_people(django_assert_num_queries):
    disclosure = timezone.now() + SOON
    small, large = MemberOrganizationFactory(), MemberOrganizationFactory()
    _bulk_people(10, small)
    _bulk_people(500, large)
    small_ids = list(TeamMember.objects.filter(organization=small).values_list("pk", flat=True))
    large_ids = list(TeamMember.objects.filter(organization=large).values_list("pk", flat=True))

    with django_assert_num_queries(1):
        small_checks = eligibility_at_send(team_member_ids=small_ids, disclosure_at=disclosure)
    with django_assert_num_queries(1):
        large_checks = eligibility_at_send(team_member_ids=large_ids, disclosure_at=disclosure)

    assert len(small_checks) == 10
    assert len(large_checks) == 500
    assert all(check.eligible for check in large_checks.values())


@pytest.mark.parametrize("audience", ["every member", "chosen organisations"])
def test_the_audience_read_at_send_is_the_selector_s_in_the_same_order(audience):
    people = _one_person_per_rule()
    # A second membership for one person, in another organisation: both rows are listed.
    TeamMemberFactory(user=people[0].user, organization=MemberOrganizationFactory())
    disclosure = timezone.now() + SOON
    organizations = (
        None if audience == "every member" else [person.organization_id for person in people[:6]]
    )

    full = eligibility_for_audience(organizations=organizations, disclosure_at=disclosure)
    lean = audience_for_send(organizations=organizations, disclosure_at=disclosure)

    def shape(item):
        return (
            item.member_id,
            item.user_id,
            item.organization_id,
            item.email,
            item.reasons,
            item.fingerprint,
        )

    assert [shape(item) for item in lean] == [shape(row) for row in full]
    # The full rows' shared attributes are their member's and key's.
    assert [shape(row) for row in full] == [
        (
            row.member.pk,
            row.member.user_id,
            row.member.organization_id,
            row.member.user.email,
            row.reasons,
            row.key.fingerprint if row.key else "",
        )
        for row in full
    ]
    assert len(lean) == (11 if audience == "every member" else 6)


def test_the_audience_read_at_send_is_one_query_however_many_people(django_assert_num_queries):
    disclosure = timezone.now() + SOON
    small, large = MemberOrganizationFactory(), MemberOrganizationFactory()
    _bulk_people(10, small)
    _bulk_people(500, large)

    with django_assert_num_queries(1):
        small_audience = audience_for_send(organizations=[small], disclosure_at=disclosure)
    with django_assert_num_queries(1):
        large_audience = audience_for_send(organizations=[large], disclosure_at=disclosure)

    assert len(small_audience) == 10
    assert len(large_audience) == 500
