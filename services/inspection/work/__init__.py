"""The inspection service's work queues (待办): reviews, rectifications, follow-ups, complaints, cases, plans."""
