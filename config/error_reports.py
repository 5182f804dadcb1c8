"""Error reports that cannot carry embargoed text.

Django's error pages and admin error mails include every POST value and the local
variables of every frame. In Haulout a POST may be a notice body, a case summary or a
pasted leaked copy, and a frame may hold the plaintext of a notice about to be encrypted,
so both are always replaced, in production and with DEBUG on alike.
"""

from django.views.debug import SafeExceptionReporterFilter


class EmbargoSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return {key: self.cleansed_substitute for key in request.POST}

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
