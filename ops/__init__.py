"""Operations, the top layer: the health endpoints, the metrics endpoint and the request
context of log lines. It wires together checks and collectors that live with the data
they read (core, embargo, intake); no app imports it."""
