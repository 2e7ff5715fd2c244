"""g2g events: signed publish/subscribe with receipts on NATS JetStream.

`service` is the Events gRPC service and its publish/subscribe/acknowledge
steps, `routing` the pure per-subscriber delivery plan, `jetstream` the
connection to the shared JetStream cluster, `config` the `events:` section.
"""
