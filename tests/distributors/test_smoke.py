from distributors.models import Criterion


def test_the_seven_criteria_are_seeded_in_order(db):
    assert list(Criterion.objects.values_list("number", flat=True)) == [1, 2, 3, 4, 5, 6, 7]


def test_the_home_page_renders_for_anonymous_visitors(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Create an account to apply" in response.content
