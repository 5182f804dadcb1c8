"""A Prometheus collector over the reports (ops/ registers it): where they stand against
the first-response deadline, counted at scrape time in one query."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from intake.selectors import report_sla_counts


class ReportSlaCollector:
    def collect(self):
        family = GaugeMetricFamily(
            "haulout_reports",
            "Reports by first-response state: waiting, due_soon and overdue are unanswered; "
            "answered_in_time and answered_late were answered.",
            labels=["sla"],
        )
        for state, reports in report_sla_counts().items():
            family.add_metric([state], reports)
        yield family
