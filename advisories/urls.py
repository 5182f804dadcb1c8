from django.urls import path

from advisories import views

app_name = "advisories"

# Beside the HTML advisories (embargo's advisories/ and advisories/<public_id>/), which
# come first in config/urls.py: hence no address here of the form advisories/<word>/.
urlpatterns = [
    path("advisories/feed.atom", views.advisories_feed_view, name="feed"),
    path("advisories/osv/index.json", views.osv_index_view, name="osv_index"),
    path("advisories/osv/all.json", views.osv_all_view, name="osv_all"),
    path("advisories/<str:public_id>/osv.json", views.osv_record_view, name="osv"),
    path("advisories/<str:public_id>/csaf.json", views.csaf_document_view, name="csaf"),
]
