"""The credit service's work queues (待办): repair applications pending, new list entries and bans."""
