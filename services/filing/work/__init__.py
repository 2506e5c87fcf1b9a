"""The filing service's work queues (待办): decisions, key changes, annual reports, staffing, certificates,
training hours below the requirement."""
