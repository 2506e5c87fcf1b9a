"""The common library every service stands on: settings, DB, events, outbox/inbox, auth, metrics."""
