"""Prometheus collectors over the copies (ops/ registers them): read from the database
at scrape time, so every web process reports the same numbers whichever one is asked.

Send latency comes from the rows (sent_at - created_at: from Send to the mail server's
acceptance, queueing and retries included) rather than a histogram observed in the
worker: workers run on other machines than the web processes that serve /metrics, and a
histogram in a worker's memory (or in its machine's multiprocess folder) is out of their
reach. The rows are shared, survive restarts and cost one query per scrape. Labels carry
states only, never a case, a notice or a person."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from embargo.selectors import delivery_latency, delivery_state_counts

# Seconds from Send to the hand-off: a fan-out takes seconds to minutes; retries through a
# mail server outage take up to the give-up time (hours).
SEND_LATENCY_BOUNDS = [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600]


class DeliveryCollector:
    def collect(self):
        states = GaugeMetricFamily(
            "haulout_deliveries", "Notice copies by state.", labels=["state"]
        )
        for state, copies in delivery_state_counts().items():
            states.add_metric([state], copies)
        yield states
        latency = delivery_latency(bounds=SEND_LATENCY_BOUNDS)
        yield HistogramMetricFamily(
            "haulout_delivery_send_latency_seconds",
            "Sent copies by the time from Send to the mail server's acceptance.",
            buckets=[
                # "5.0", as prometheus_client's own histograms write their bounds.
                *((floatToGoString(bound), count) for bound, count in latency.buckets),
                ("+Inf", latency.count),
            ],
            sum_value=latency.total_seconds,
        )
        yield CounterMetricFamily(
            "haulout_delivery_retries",
            "Temporary failures (SMTP 4xx or down, gpg, database) copies met before going "
            "out, each retried; a notice's catch-up that reopens a copy starts its count anew.",
            value=latency.temporary_failures,
        )
        yield GaugeMetricFamily(
            "haulout_deliveries_retrying",
            "Copies queued again after a temporary failure, waiting for their retry.",
            value=latency.retrying,
        )
