import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Everything loaded so far lives as long as the process: keep it out of the garbage
# collector's full passes. A full pass over a loaded Django process took ~0.1 s, and
# pressing "send" for a thousand people allocates enough to trigger one
# (benchmarks/fanout.py).
gc.freeze()
