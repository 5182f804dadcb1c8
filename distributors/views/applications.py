# Placeholder: filled in by the applications slice.
from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404


organization_apply_view = application_detail_view = criterion_answer_view = _todo
application_submit_view = application_withdraw_view = question_reply_view = _todo
application_start_view = review_queue_view = review_detail_view = criterion_review_view = _todo
application_ask_view = application_decide_view = _todo
